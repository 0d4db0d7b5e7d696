"""The store: a table of games, then one game's details with download/update and "create a room"."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, OptionList, Static

from playhub.protocol.errors import PlayHubError
from playhub.tui.format import (
    installed_text,
    newer,
    players_text,
    safe_markup,
    safe_text,
    score_text,
    short_text,
    when,
)
from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.lifecycle import drawing, is_gone
from playhub.tui.screens.modals import DownloadModal
from playhub.tui.widgets import NumberedMenu, NumberedTable

COLUMNS = ["Game", "Type", "Players", "Latest", "Score", "Installed", "Description"]
DESCRIPTION_WIDTH = 34  # the list shows the start of each description; the game's screen shows all of it


class StoreScreen(PlayerScreen):
    TITLE = "Store"
    HELP = (
        "Every game published on this server. Choose one (its number, or arrows and Enter) to see its\n"
        "description and reviews, download or update it, or create a room for it."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh", "Refresh")]

    def __init__(self) -> None:
        super().__init__()
        self.games: list[dict[str, Any]] = []

    def compose_body(self) -> ComposeResult:
        yield Label("Loading the store…", id="status", markup=False)
        yield NumberedTable(id="games")

    def reload(self) -> None:
        self.load_games()

    def on_screen_resume(self) -> None:
        # Shown again (back from a game's screen, or opened anew): installed versions may have changed here, and
        # new games, versions or scores on the server.
        self._render_rows()
        self.load_games()

    def action_refresh(self) -> None:
        self.load_games()

    @work(exclusive=True, group="load")
    async def load_games(self) -> None:
        status = self.query_one("#status", Label)
        try:
            out = await self.player_app.session.request("LIST_GAMES")
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            status.update(
                f"Could not load the store: {self.player_app.describe_error(exc)} (press r to retry)"
            )
            return
        self.games = list(out.get("games", []))
        self._render_rows()
        status.update(
            f"{len(self.games)} game(s). Enter or a number opens a game."
            if self.games
            else "There are no games in the store yet."
        )

    @drawing
    def _render_rows(self) -> None:
        app = self.player_app
        rows = []
        for g in self.games:
            have = app.installed_version(str(g.get("name")))
            rows.append(
                (
                    str(g.get("game_id")),
                    [
                        str(g.get("display_name") or g.get("name")),
                        str(g.get("game_type") or "").upper(),
                        players_text(g),
                        str(g.get("latest_version") or "—"),
                        score_text(g),
                        installed_text(have, g.get("latest_version")),
                        short_text(safe_text(g.get("description") or ""), DESCRIPTION_WIDTH),
                    ],
                )
            )
        table = self.query_one(NumberedTable)
        table.set_rows(COLUMNS, rows)
        if rows:
            table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        game_id = event.row_key.value
        listing = next((g for g in self.games if str(g.get("game_id")) == game_id), {"game_id": game_id})
        self.app.push_screen(GameScreen(listing))


class GameScreen(PlayerScreen):
    """One game: description, author, versions, reviews; download/update; create a room."""

    HELP = (
        "Download installs the latest version on this computer (Update replaces an older one).\n"
        "Create a room opens a room in the lobby for this game; others can join it from their Lobby."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh", "Refresh")]

    def __init__(self, listing: dict[str, Any]) -> None:
        super().__init__()
        self.listing = listing
        self.game_id = str(listing.get("game_id"))
        self.detail: dict[str, Any] = dict(listing)
        self.reviews: list[dict[str, Any]] = []

    @property
    def game(self) -> dict[str, Any]:
        return {**self.listing, **self.detail}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="body"):
            with VerticalScroll(id="details"):
                yield Static("Loading…", id="about")
                yield Static("", id="reviews")
            with VerticalScroll(id="side"):
                yield NumberedMenu(id="actions")
                yield Label("", id="status", markup=False)

    def reload(self) -> None:
        self.load_detail()

    def action_refresh(self) -> None:
        self.load_detail()

    def on_screen_resume(self) -> None:
        self._redraw()

    @work(exclusive=True, group="load")
    async def load_detail(self) -> None:
        app = self.player_app
        try:
            self.detail = await app.session.request("GET_GAME_DETAIL", {"game_id": self.game_id})
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            if is_gone(self):
                return
            self.query_one("#about", Static).update(
                safe_markup(f"Could not load this game: {app.describe_error(exc)}")
            )
            self._render_actions()
            return
        try:
            self.reviews = list(
                (await app.session.request("LIST_REVIEWS", {"game_id": self.game_id})).get("reviews", [])
            )
        except (PlayHubError, ConnectionError, TimeoutError):
            self.reviews = list(self.detail.get("reviews_sample") or [])
        self._redraw()

    @drawing
    def _redraw(self) -> None:
        g = self.game
        name = str(g.get("display_name") or g.get("name"))
        self.title = safe_text(name)
        versions = g.get("versions") or []
        version_names = [str(v.get("version") if isinstance(v, dict) else v) for v in versions]
        # Names, descriptions and comments come from other people: escaped, so they show literally.
        lines = [
            f"[b]{safe_markup(name)}[/b]  [dim]({safe_markup(str(g.get('name')))})[/dim]",
            f"by {safe_markup(str(g.get('author') or 'unknown'))} · {safe_markup(str(g.get('game_type') or '').upper())} · "
            f"{players_text(g)} players · {score_text(g)}",
            "",
            safe_markup(g.get("description") or "No description yet.", multiline=True),
            "",
            f"Latest version: [b]{safe_markup(str(g.get('latest_version') or '—'))}[/b]",
        ]
        if version_names:
            lines.append("Versions: " + safe_markup(", ".join(version_names)))
        have = self.player_app.installed_version(str(g.get("name")))
        lines.append(
            f"On this computer: {safe_markup(installed_text(have, g.get('latest_version'))) if have else 'not installed'}"
        )
        self.query_one("#about", Static).update("\n".join(lines))
        if self.reviews:
            review_lines = ["[b]Reviews[/b]"]
            for r in self.reviews:
                stars = "★" * int(r.get("score") or 0) + "☆" * (5 - int(r.get("score") or 0))
                comment = (
                    safe_markup(str(r.get("comment") or "").strip(), multiline=True)
                    or "[dim](no comment)[/dim]"
                )
                player = safe_markup(str(r.get("player")))
                review_lines.append(f"{stars}  [b]{player}[/b]  [dim]{when(r.get('created_at'))}[/dim]")
                review_lines.append(f"    {comment}")
        else:
            review_lines = ["[b]Reviews[/b]", "No reviews yet."]
        self.query_one("#reviews", Static).update("\n".join(review_lines))
        self._render_actions()

    @drawing
    def _render_actions(self) -> None:
        g = self.game
        latest = g.get("latest_version")
        have = self.player_app.installed_version(str(g.get("name")))
        if have is None:
            download = f"Download {latest}"
        elif newer(latest, have):
            download = f"Update {have} → {latest}"
        else:
            download = f"-Installed {have} (latest)"
        menu = self.query_one("#actions", NumberedMenu)
        menu.set_entries([("download", download), ("room", "Create a room"), ("back", "Back to the store")])
        menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == "download":
            self.download()
        elif event.option.id == "room":
            self.player_app.create_room_flow(self.game)
        elif event.option.id == "back":
            self.dismiss()

    @work(exclusive=True, group="download")
    async def download(self) -> None:
        g = self.game
        installed = await self.app.push_screen_wait(
            DownloadModal(self.game_id, str(g.get("display_name") or g.get("name")), None)
        )
        if is_gone(self):
            return
        status = self.query_one("#status", Label)
        if installed is not None:
            status.update(f"Installed {getattr(installed, 'version', '')} ✓")
            self.notify(
                f"{g.get('display_name') or g.get('name')} {getattr(installed, 'version', '')} installed."
            )
        self._redraw()
