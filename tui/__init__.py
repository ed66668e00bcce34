"""The Textual front end of srcnet-tui: panes and widgets that only ever talk to :mod:`core`."""
