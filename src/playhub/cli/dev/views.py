"""What ``playhub dev`` shows: tables of games, versions and reviews (used by the actions and the console)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table

from playhub.cli.common import escape


def fmt_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def fmt_score(game: dict[str, Any]) -> str:
    if not game.get("review_count"):
        return "no reviews"
    return f"{game['avg_score']:.1f}/5 ({game['review_count']})"


def games_table(games: list[dict[str, Any]], numbered: bool = False) -> Table:
    table = Table(title="My games", expand=False)
    if numbered:
        table.add_column("#", justify="right")
    for col in ("name", "title", "type", "players", "status", "latest", "versions", "score"):
        table.add_column(col)
    for i, g in enumerate(games, 1):
        players = f"{g.get('min_players', g['max_players'])}-{g['max_players']}"
        status = escape(g["status"]) if g["status"] == "ONLINE" else f"[yellow]{escape(g['status'])}[/]"
        row = [
            escape(g["name"]),
            escape(str(g.get("display_name", ""))),
            escape(g.get("game_type", "")),
            escape(players),
            status,
            escape(g.get("latest_version") or "-"),
            str(g.get("version_count", "")),
            fmt_score(g),
        ]
        table.add_row(*([str(i)] if numbered else []), *row)
    return table


def versions_table(name: str, versions: list[dict[str, Any]]) -> Table:
    table = Table(title=f"Versions of {escape(name)}")
    for col in ("version", "uploaded", "size", "latest"):
        table.add_column(col)
    for v in versions:
        table.add_row(
            escape(v["version"]),
            fmt_time(v.get("uploaded_at")),
            f"{v.get('size_bytes', 0):,} B",
            "yes" if v["is_latest"] else "",
        )
    return table


def reviews_view(name: str, answer: dict[str, Any]) -> Table:
    """A game's reviews, newest first, with each player's score and text."""
    count = answer.get("review_count") or 0
    avg = answer.get("avg_score")
    title = f"Reviews of {escape(name)}: " + (f"{avg:.2f}/5 from {count}" if count and avg is not None else "none yet")
    table = Table(title=title)
    for col in ("When", "Player", "Score", "Review"):
        table.add_column(col)
    for r in answer.get("reviews") or []:
        score = int(r.get("score") or 0)
        table.add_row(
            fmt_time(r.get("created_at")),
            escape(str(r.get("player"))),
            "★" * score + "☆" * (5 - score),
            escape(r.get("comment") or "", multiline=True),
        )
    return table
