"""Formatting helpers shared by the screens and the ``playhub play``/``playhub dev`` subcommands.

Every string that comes from the server (names, descriptions, comments, room and error texts) was typed by someone else:
``safe_text`` makes it inert for a terminal (no escape sequences, control characters or bidirectional overrides) and
``safe_markup``/``safe_console_markup`` additionally keep it from being read as Textual or Rich markup.
"""

from __future__ import annotations

import re
import time
from typing import Any

from rich.markup import escape as _rich_escape

from playhub.names import UNSAFE_CHARS
from playhub.packages import PackageError, parse_version

# Whole escape sequences go, not only their ESC, so no "[2J" debris is left: CSI (ESC [ or the C1 byte 0x9B) with its
# parameters, OSC/DCS/APC/PM/SOS strings up to their terminator, and two-byte ESC sequences.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]P_^X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_LINE_BREAKS = re.compile(r"\r\n|[\n\t\r\v\f\x85\u2028\u2029]")


def safe_text(value: object, *, multiline: bool = False) -> str:
    """``value`` as text a terminal shows literally: escape sequences, C0/C1 control characters, DEL and bidi
    overrides removed. With ``multiline`` newlines and tabs stay; without, every line break or tab becomes a space."""
    text = value if isinstance(value, str) else str(value)
    text = _SEQUENCES.sub("", text)
    if multiline:
        text = text.replace("\r\n", "\n")
        return "".join(ch for ch in text if ch in "\n\t" or not UNSAFE_CHARS.match(ch))
    return UNSAFE_CHARS.sub("", _LINE_BREAKS.sub(" ", text))


def safe_markup(value: object, *, multiline: bool = False) -> str:
    """``safe_text`` escaped for Textual markup (widgets with ``markup=True``): every ``[`` is shown literally."""
    return safe_text(value, multiline=multiline).replace("[", "\\[")


def safe_console_markup(value: object, *, multiline: bool = False) -> str:
    """``safe_text`` escaped for Rich console markup (``Console.print``, table cells), whose escaping rules differ."""
    return _rich_escape(safe_text(value, multiline=multiline))


def score_text(game: dict[str, Any]) -> str:
    avg = game.get("avg_score")
    count = game.get("review_count")
    if avg is None:
        return "no reviews"
    text = f"★ {float(avg):.1f}"
    return f"{text} ({count})" if count is not None else text


def players_text(game: dict[str, Any]) -> str:
    most = game.get("max_players")
    least = game.get("min_players") or most
    if most is None:
        return "?"
    return str(most) if least in (None, most) else f"{least}-{most}"


def newer(candidate: str | None, than: str | None) -> bool:
    """True when version ``candidate`` is strictly newer than ``than`` (unparseable versions never are)."""
    if not candidate:
        return False
    if not than:
        return True
    try:
        return parse_version(candidate) > parse_version(than)
    except PackageError:
        return False


def installed_text(have: str | None, latest: str | None) -> str:
    if have is None:
        return "—"
    if newer(latest, have):
        return f"{have} → update {latest}"
    return f"{have} ✓"


def when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return str(ts or "")


def results_text(results: Any) -> str:
    """A game's results in one short line. The SDK's shape is ``{"winner", "scores", "summary"}``; anything else a
    game server reports is shown as ``key: value`` pairs."""
    if not results:
        return ""
    if not isinstance(results, dict):
        return ", ".join(str(r) for r in results) if isinstance(results, list) else str(results)
    summary = str(results.get("summary") or "").strip()
    winner = results.get("winner")
    scores = results.get("scores")
    parts = [summary] if summary else []
    if winner and str(winner) not in summary:
        parts.append(f"winner: {winner}")
    if isinstance(scores, dict) and scores and not summary:
        parts.append("scores: " + ", ".join(f"{name} {score}" for name, score in scores.items()))
    if not parts:
        known = {"summary", "winner", "scores"}
        parts = [f"{k}: {v}" for k, v in results.items() if k not in known]
    return " · ".join(parts)


def short_text(value: object, width: int) -> str:
    """The first line of a text, cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= width else text[: max(0, width - 1)].rstrip() + "…"


def review_summary(answer: dict[str, Any]) -> str:
    """After ADD_REVIEW: the game's new average and number of reviews."""
    avg, count = answer.get("avg_score"), answer.get("review_count")
    if avg is None or not count:
        return ""
    return f"Now {float(avg):.1f} ★ on average from {count} review{'s' if count != 1 else ''}."
