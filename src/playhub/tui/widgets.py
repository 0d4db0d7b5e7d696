"""Small widgets shared by the player screens: the connection banner, numbered menus and numbered tables.

Every screen of the player app is a short numbered menu or a table; digits pick an entry (1 = first), arrows move,
Enter chooses, so a player can drive everything from the number row or the arrow keys alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.data_table import CellDoesNotExist
from textual.widgets.option_list import Option

from playhub.tui.format import safe_markup, safe_text

_DIGIT_BINDINGS = [Binding(str(n), f"pick({n})", f"pick {n}", show=False) for n in range(1, 10)]


class ConnectionBanner(Static):
    """A red line under the header while the connection is down; hidden when all is well."""

    DEFAULT_CSS = """
    ConnectionBanner {
        display: none;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
        width: 100%;
    }
    ConnectionBanner.-shown { display: block; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "banner", self._show, init=True)

    def _show(self, text: str) -> None:
        self.update(safe_markup(text))
        self.set_class(bool(text), "-shown")


class NumberedMenu(OptionList):
    """An option list whose entries are numbered; pressing a digit chooses that entry."""

    BINDINGS = _DIGIT_BINDINGS

    DEFAULT_CSS = """
    NumberedMenu { height: auto; max-height: 14; border: round $primary; padding: 0 1; }
    """

    def __init__(self, entries: Iterable[tuple[str, str]] = (), **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_entries(entries)

    def set_entries(self, entries: Iterable[tuple[str, str]]) -> None:
        """``entries`` are ``(id, label)``; a label starting with ``-`` is shown disabled."""
        highlighted = self.highlighted
        self.clear_options()
        for n, (entry_id, label) in enumerate(entries, 1):
            disabled = label.startswith("-")
            text = label[1:] if disabled else label
            self.add_option(Option(f"[b]{n}[/b]  {safe_markup(text)}", id=entry_id, disabled=disabled))
        if self.option_count:
            self.highlighted = min(highlighted or 0, self.option_count - 1)

    def action_pick(self, n: int) -> None:
        if 1 <= n <= self.option_count and not self.get_option_at_index(n - 1).disabled:
            self.highlighted = n - 1
            self.action_select()


class NumberedTable(DataTable):
    """A row-cursor table; its first column is the row number, and pressing a digit chooses that row."""

    BINDINGS = _DIGIT_BINDINGS

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]

    def set_rows(self, columns: list[str], rows: Iterable[tuple[str, list[object]]]) -> None:
        """Replace the content, keeping the cursor on the same row key when it still exists."""
        current = self.selected_key
        self.clear(columns=True)
        self.add_column("#", key="#")
        for col in columns:
            self.add_column(col, key=col)
        for n, (key, cells) in enumerate(rows, 1):
            # Cells carry names and text from the server: shown literally, never as markup or terminal controls.
            shown = [Text(safe_text(c)) if isinstance(c, str) else c for c in cells]
            self.add_row(str(n), *shown, key=key)
        if current is not None and current in self.rows:
            self.move_cursor(row=self.get_row_index(current))

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def action_pick(self, n: int) -> None:
        if 1 <= n <= self.row_count:
            self.move_cursor(row=n - 1)
            self.action_select_cursor()
