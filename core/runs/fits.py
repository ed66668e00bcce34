"""Read a FITS cube's shape and pixel type from its header, never its data.

Planning a split run needs NAXIS1..3 and BITPIX of a cube that may be hundreds of gigabytes, so
this reads 2880-byte header blocks until ``END`` and stops (standard library only, so the same
code can run anywhere). Axes follow SoFiA-2: one to four axes, a fourth only of size 1, and axes
3 and 4 swapped when NAXIS3 is 1 and NAXIS4 is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from srcnet_tui.core.errors import NotFound, UsageError

BLOCK = 2880
CARD = 80
MAX_HEADER_BLOCKS = 1000  # 36 000 cards; real primary headers are far smaller
VALID_BITPIX = (8, 16, 32, 64, -32, -64)


@dataclass(frozen=True)
class CubeShape:
    """Size of a cube in SoFiA's axis order (x fastest, then y, then the spectral axis z)."""

    nx: int
    ny: int
    nz: int
    bitpix: int

    @property
    def bytes_per_voxel(self) -> int:
        return abs(self.bitpix) // 8

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.nx, self.ny, self.nz)

    @property
    def nbytes(self) -> int:
        return self.nx * self.ny * self.nz * self.bytes_per_voxel

    def to_dict(self) -> dict:
        return {"nx": self.nx, "ny": self.ny, "nz": self.nz, "bitpix": self.bitpix, "bytes": self.nbytes}


def read_cube_shape(path: str | Path) -> CubeShape:
    """Shape of the primary image in the FITS file at ``path``; UsageError naming the file if not FITS."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            return read_cube_shape_from(stream, str(path))
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a FITS file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def read_cube_shape_from(stream: BinaryIO, name: str) -> CubeShape:
    """Same as :func:`read_cube_shape` for an open binary stream (e.g. the first bytes of a remote file)."""
    cards = read_header_cards(stream, name)
    return cube_shape_from_cards(cards, name)


def read_header_cards(stream: BinaryIO, name: str) -> dict[str, str]:
    """Keyword → raw value text of the primary header, up to ``END``."""
    cards: dict[str, str] = {}
    for number in range(MAX_HEADER_BLOCKS):
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            what = "empty" if number == 0 and not block else "cut short before the header's END card"
            raise UsageError(f"{name}: not a FITS file ({what})")
        try:
            text = block.decode("ascii")
        except UnicodeDecodeError:
            raise UsageError(f"{name}: not a FITS file (the header is not ASCII)") from None
        if number == 0 and not _is_simple(text[:CARD]):
            raise UsageError(f"{name}: not a FITS file (it does not start with SIMPLE = T)")
        for start in range(0, BLOCK, CARD):
            card = text[start : start + CARD]
            keyword = card[:8].strip()
            if keyword == "END":
                return cards
            if card[8:10] == "= " and keyword not in cards:
                cards[keyword] = _value_text(card[10:])
    raise UsageError(f"{name}: no END card in the first {MAX_HEADER_BLOCKS} header blocks")


def _is_simple(card: str) -> bool:
    return card[:8].strip() == "SIMPLE" and card[8:10] == "= " and _value_text(card[10:]) == "T"


def _value_text(field: str) -> str:
    """The value part of a card: a quoted string (quotes doubled inside) or the text before ``/``."""
    field = field.strip()
    if field.startswith("'"):
        closing = field.find("'", 1)
        while closing != -1 and field[closing + 1 : closing + 2] == "'":
            closing = field.find("'", closing + 2)
        return field[1:closing].replace("''", "'").rstrip() if closing != -1 else field[1:]
    return field.split("/", 1)[0].strip()


def cube_shape_from_cards(cards: dict[str, str], name: str) -> CubeShape:
    bitpix = _integer(cards, "BITPIX", name)
    if bitpix not in VALID_BITPIX:
        raise UsageError(f"{name}: BITPIX = {bitpix} is not a FITS pixel type")
    naxis = _integer(cards, "NAXIS", name)
    if not 1 <= naxis <= 4:
        raise UsageError(f"{name}: NAXIS = {naxis}; a cube for source finding needs 1 to 4 axes")
    sizes = [_integer(cards, f"NAXIS{axis}", name) for axis in range(1, naxis + 1)]
    sizes += [1] * (4 - naxis)
    if sizes[2] == 1 and sizes[3] > 1:
        sizes[2], sizes[3] = sizes[3], sizes[2]
    if sizes[3] != 1:
        raise UsageError(f"{name}: NAXIS4 = {sizes[3]}; only a fourth axis of size 1 is supported (as in SoFiA-2)")
    if min(sizes[:3]) < 1:
        raise UsageError(f"{name}: an axis has size 0 (NAXISn = {sizes[:naxis]}); the file holds no image")
    return CubeShape(nx=sizes[0], ny=sizes[1], nz=sizes[2], bitpix=bitpix)


def _integer(cards: dict[str, str], keyword: str, name: str) -> int:
    text = cards.get(keyword)
    if text is None:
        raise UsageError(f"{name}: the FITS header has no {keyword}")
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name}: {keyword} = {text!r} is not an integer") from None
