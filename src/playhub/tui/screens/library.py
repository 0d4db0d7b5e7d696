"""The library: games on this computer, their versions, available updates, and removing a local copy."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label

from playhub.protocol.errors import PlayHubError
from playhub.tui.format import newer
from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.lifecycle import drawing
from playhub.tui.screens.modals import ConfirmModal, DownloadModal
from playhub.tui.widgets import NumberedTable

COLUMNS = ["Game", "Version", "Store latest", "Status", "Folder"]


class LibraryScreen(PlayerScreen):
    TITLE = "Library"
    HELP = (
        "Games downloaded to this computer, one row per version.\n"
        "u updates the chosen game to the store's latest version; d (or Delete) removes the chosen version.\n"
        "Choosing a row (its number or Enter) opens the game in the store."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "update", "Update"),
        Binding("d,delete", "remove", "Remove"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.listing: dict[str, dict[str, Any]] = {}  # store games by name (for latest versions)
        self.rows: dict[str, tuple[str, str]] = {}  # row key -> (name, version)

    def compose_body(self) -> ComposeResult:
        yield Label(f"Folder: {self.player_app.library.root}", id="status", markup=False)
        yield NumberedTable(id="rows")

    def reload(self) -> None:
        self._redraw()
        self.load_listing()

    def on_screen_resume(self) -> None:
        self._redraw()

    def action_refresh(self) -> None:
        self.reload()

    @work(exclusive=True, group="load")
    async def load_listing(self) -> None:
        try:
            out = await self.player_app.session.request("LIST_GAMES")
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            self.notify(f"Store unavailable: {self.player_app.describe_error(exc)}", severity="warning")
            return
        self.listing = {str(g.get("name")): g for g in out.get("games", [])}
        self._redraw()

    @drawing
    def _redraw(self) -> None:
        library = self.player_app.library
        rows = []
        self.rows = {}
        for name in sorted(library.installed()):
            current = library.installed_version(name)
            latest = self.listing.get(name, {}).get("latest_version")
            for version in library.versions(name):
                if not self.listing:
                    status = "installed"
                elif name not in self.listing:
                    status = "no longer in the store"
                elif newer(latest, version):
                    status = f"update available ({latest})" if version == current else "older version"
                else:
                    status = "up to date"
                key = f"{name}@{version}"
                self.rows[key] = (name, version)
                label = str(self.listing.get(name, {}).get("display_name") or name)
                rows.append(
                    (key, [label, version, latest or "?", status, str(library.version_dir(name, version))])
                )
        table = self.query_one(NumberedTable)
        table.set_rows(COLUMNS, rows)
        status = self.query_one("#status", Label)
        if rows:
            table.focus()
            status.update(f"{len(rows)} installed version(s) in {library.root}")
        else:
            status.update(f"Nothing installed yet in {library.root}. Download games from the Store.")

    def _selected(self) -> tuple[str, str] | None:
        key = self.query_one(NumberedTable).selected_key
        return self.rows.get(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        chosen = self.rows.get(str(event.row_key.value))
        if chosen and chosen[0] in self.listing:
            self.player_app.open_screen("game", self.listing[chosen[0]])
        elif chosen:
            self.notify(f"{chosen[0]} is not in the store any more.", severity="warning")

    def action_update(self) -> None:
        chosen = self._selected()
        if chosen:
            self.update_game(chosen[0])

    @work(exclusive=True, group="update")
    async def update_game(self, name: str) -> None:
        game = self.listing.get(name)
        if game is None:
            self.notify(f"{name} is not in the store (or the store is unreachable).", severity="warning")
            return
        latest = game.get("latest_version")
        if not newer(latest, self.player_app.installed_version(name)):
            self.notify(f"{name} is already up to date.")
            return
        await self.app.push_screen_wait(
            DownloadModal(str(game["game_id"]), str(game.get("display_name") or name))
        )
        self._redraw()

    def action_remove(self) -> None:
        chosen = self._selected()
        if chosen:
            self.remove_version(*chosen)

    @work(exclusive=True, group="remove")
    async def remove_version(self, name: str, version: str) -> None:
        if not await self.app.push_screen_wait(
            ConfirmModal(f"Remove {name} {version} from this computer?", yes="Remove", no="Keep")
        ):
            return
        try:
            await self.player_app.remove_local(name, version)
        except OSError as exc:
            self.notify(f"Could not remove it: {exc}", severity="error")
        self._redraw()
