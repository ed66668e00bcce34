"""A DataTable whose rows are keyed and synchronised in place, never cleared by an update.

:meth:`KeyedTable.sync` takes the rows that should be shown (key -> cells) and touches only what
differs: ``update_cell`` for changed cells, ``add_row`` for new keys, ``remove_row`` for vanished
ones (dolphie's keyed diff). Cursor and scroll stay where the user left them. When more rows vanish
at once than :data:`REBUILD_ABOVE` (``remove_row`` costs O(rows) each) the table is refilled and the
cursor put back on its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, ColumnKey, RowKey

REBUILD_ABOVE = 100


@dataclass
class SyncStats:
    """What one sync changed (for the benchmark, the tests and re-sorting)."""

    added: int = 0
    removed: int = 0
    cells: int = 0
    rebuilt: bool = False
    columns: set[str] = field(default_factory=set)
    """Columns in which at least one cell changed."""


class KeyedTable(DataTable):
    """Row-cursor DataTable with :meth:`sync`; ``column_keys`` name the columns in order."""

    def __init__(self, columns: tuple[tuple[str, str], ...], **kwargs) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self._column_spec = columns
        self.column_keys = tuple(key for key, _ in columns)
        self._shown: dict[str, tuple] = {}

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(self.column_label(key, label), key=key)

    def column_label(self, key: str, label: str) -> str:
        """What the header shows for a column (a subclass may add to it, a sort arrow say)."""
        return label

    @property
    def current_key(self) -> str | None:
        """The key of the row under the cursor, or None when the table is empty."""
        if not self._shown or not self.is_valid_row_index(self.cursor_row):
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def sync(self, rows: dict[str, tuple]) -> SyncStats:
        """Make the table show exactly ``rows``, changing only what differs."""
        gone = [key for key in self._shown if key not in rows]
        if len(gone) > REBUILD_ABOVE:
            self.refill(rows)
            return SyncStats(added=len(rows), removed=len(gone), rebuilt=True, columns=set(self.column_keys))
        stats = SyncStats(removed=len(gone))
        with self.app.batch_update():
            self.remove_rows(gone)
            for key, cells in rows.items():
                self._write(key, cells, stats)
        return stats

    def remove_rows(self, keys: list[str]) -> None:
        """``remove_row`` for several rows in one pass (DataTable's re-numbers every row once per removed row)."""
        if not keys:
            return
        gone = set(keys)
        order = self.keys_in_order()
        for key in keys:
            row_key = RowKey(key)
            self._updated_cells.difference_update(CellKey(row_key, column_key) for column_key in self._data[row_key])
            del self.rows[row_key], self._data[row_key], self._shown[key]
        self.put_in_order([key for key in order if key not in gone])
        self._require_update_dimensions = True
        if self.cursor_row >= self.row_count:  # clamped as DataTable's own would (each reassignment walks every row)
            self.cursor_coordinate = self.cursor_coordinate
        self.check_idle()
        self.refresh(layout=True)

    def keys_in_order(self) -> list[str]:
        """The row keys from the top row down."""
        order: list[str] = [""] * len(self._row_locations._forward)
        for row_key, index in self._row_locations._forward.items():
            order[index] = row_key.value or ""
        return order

    def put_in_order(self, keys: list[str]) -> None:
        """Show the rows in the order of ``keys`` (all of them): DataTable's ``sort`` without sorting again."""
        self._row_locations = TwoWayDict({RowKey(key): index for index, key in enumerate(keys)})
        self._update_count += 1
        self.refresh()

    def _write(self, key: str, cells: tuple, stats: SyncStats) -> None:
        old = self._shown.get(key)
        if old is cells:
            return
        if old is None:
            self.add_row(*cells, key=key)
            stats.added += 1
        elif old != cells:
            for column, before, after in zip(self.column_keys, old, cells):
                if before != after:
                    self.update_cell(key, column, after, update_width=self._wider(column, after))
                    stats.cells += 1
                    stats.columns.add(column)
        self._shown[key] = cells

    def _wider(self, column: str, value: object) -> bool:
        """Does ``value`` need its column widened? (Re-measuring costs O(rows), so only then.)"""
        width = value.cell_len if isinstance(value, Text) else cell_len(str(value))
        return width > self.columns[ColumnKey(column)].content_width

    def refill(self, rows: dict[str, tuple]) -> None:
        """Clear and re-add every row (a user action such as a new filter); the cursor keeps its key."""
        keep = self.current_key
        with self.app.batch_update():
            self.clear()
            self._shown.clear()
            stats = SyncStats()
            for key, cells in rows.items():
                self._write(key, cells, stats)
            self.move_cursor_to(keep)

    def action_scroll_home(self) -> None:
        """``home`` goes to the first row (DataTable's own scrolls to the first column)."""
        if self.cursor_type == "row":
            self.action_scroll_top()
        else:
            super().action_scroll_home()

    def action_scroll_end(self) -> None:
        """``end`` goes to the last row (DataTable's own scrolls to the last column)."""
        if self.cursor_type == "row":
            self.action_scroll_bottom()
        else:
            super().action_scroll_end()

    def move_cursor_to(self, key: str | None) -> None:
        if key in self._shown:
            self.move_cursor(row=self.get_row_index(key), animate=False)
