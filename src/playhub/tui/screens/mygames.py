"""My games: the games I played (MY_PLAYED_GAMES), and the review form (score 1-5 and a comment)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, RadioButton, RadioSet, Static

from playhub.protocol.errors import PlayHubError
from playhub.tui.format import review_summary, safe_text, when
from playhub.tui.screens.base import PlayerScreen
from playhub.tui.screens.lifecycle import is_gone
from playhub.tui.widgets import NumberedTable

COLUMNS = ["Game", "Rooms played", "Last played", "My review"]


def my_review_text(game: dict[str, Any]) -> str:
    review = game.get("my_review")
    score = review.get("score") if isinstance(review, dict) else game.get("my_score")
    return "★" * int(score) if score else "not reviewed"


class MyGamesScreen(PlayerScreen):
    TITLE = "My games"
    HELP = (
        "The games you took part in. Choose one (its number, or arrows and Enter) to review it:\n"
        "a score from 1 to 5 and an optional comment. A new review replaces your previous one."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "refresh", "Refresh")]

    def __init__(self) -> None:
        super().__init__()
        self.games: dict[str, dict[str, Any]] = {}

    def compose_body(self) -> ComposeResult:
        yield Label("Loading…", id="status", markup=False)
        yield NumberedTable(id="played")

    def reload(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def action_refresh(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        status = self.query_one("#status", Label)
        try:
            out = await self.player_app.session.request("MY_PLAYED_GAMES")
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            status.update(f"Could not load your games: {self.player_app.describe_error(exc)}")
            return
        if is_gone(self):
            return
        self.games = {str(g.get("game_id")): g for g in out.get("games", [])}
        rows = [
            (
                game_id,
                [
                    str(g.get("display_name") or g.get("name")),
                    str(g.get("rooms_played") or g.get("times_played") or ""),
                    when(g.get("last_played") or g.get("last_played_at")),
                    my_review_text(g),
                ],
            )
            for game_id, g in self.games.items()
        ]
        table = self.query_one(NumberedTable)
        table.set_rows(COLUMNS, rows)
        if rows:
            table.focus()
            status.update("Choose a game to review it.")
        else:
            status.update("You have not played any game yet. Reviews open once you took part in a match.")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        game = self.games.get(str(event.row_key.value))
        if game is not None:
            self.app.push_screen(ReviewScreen(game))


class ReviewScreen(PlayerScreen):
    """The review form. A failed submit keeps what was typed, with the reason under the form."""

    HELP = (
        "Pick a score with the number keys 1-5 (or arrows and Space), type a comment, then press\n"
        "Ctrl+S or the Submit button. Esc goes back without sending."
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "submit", "Submit")]

    def __init__(self, game: dict[str, Any]) -> None:
        super().__init__()
        self.game = game
        review = game.get("my_review") if isinstance(game.get("my_review"), dict) else {}
        self.initial_score = int(review.get("score") or game.get("my_score") or 0)
        self.initial_comment = str(review.get("comment") or game.get("my_comment") or "")

    def compose_body(self) -> ComposeResult:
        name = self.game.get("display_name") or self.game.get("name")
        self.title = safe_text(f"Review {name}")
        with Vertical(id="form"):
            yield Label(safe_text(f"Your review of {name}"), classes="title", markup=False)
            yield Label("Score")
            with RadioSet(id="score"):
                for n in range(1, 6):
                    yield RadioButton(f"{n} {'★' * n}", value=n == self.initial_score, id=f"score-{n}")
            yield Label("Comment (optional)")
            yield Input(
                value=self.initial_comment, placeholder="what did you think?", id="comment", max_length=1000
            )
            with Horizontal(id="buttons"):
                yield Button("Submit", variant="primary", id="submit")
            yield Static("", id="error", markup=False)

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    def on_key(self, event: Any) -> None:
        # Digits pick the score anywhere except in the comment box.
        if event.key in "12345" and len(event.key) == 1 and not isinstance(self.focused, Input):
            self.query_one(f"#score-{event.key}", RadioButton).value = True
            event.stop()

    @property
    def score(self) -> int | None:
        pressed = self.query_one(RadioSet).pressed_button
        return int(str(pressed.id).split("-")[1]) if pressed is not None and pressed.id else None

    @on(Input.Submitted, "#comment")
    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        self.submit()

    @work(exclusive=True, group="submit")
    async def submit(self) -> None:
        error = self.query_one("#error", Static)
        score = self.score
        if score is None:
            error.update("Pick a score from 1 to 5 first.")
            return
        comment = self.query_one("#comment", Input).value
        error.update("Sending…")
        try:
            saved = await self.player_app.session.request(
                "ADD_REVIEW", {"game_id": str(self.game.get("game_id")), "score": score, "comment": comment}
            )
        except (PlayHubError, ConnectionError, TimeoutError) as exc:
            # Keep the form as typed so the player can try again.
            error.update(f"Your review was not saved: {self.player_app.describe_error(exc)}")
            return
        if is_gone(self):
            return
        self.notify(
            f"Thanks! Your review of {self.game.get('display_name') or self.game.get('name')} is saved. "
            + review_summary(saved)
        )
        self.dismiss()
