"""Game templates: ``create_game(dest, name, game_type)`` writes a new, playable game folder.

Each type (``cli``, ``gui``, ``multi``) gets the same server, rules, bot, test and README, and a client of its kind
(terminal, pygame window). The template sources live in ``files/`` as ``*.tmpl`` so that neither pytest nor ruff
treats them as code of PlayHub; ``@@key@@`` markers are replaced when a game is created.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from playhub.packages import GAME_TYPES, NAME_RE

# Players per type: min and max (the rules work for any number).
PLAYERS = {"cli": (2, 2), "gui": (2, 2), "multi": (3, 6)}
CLIENT_TEXT = {
    "cli": "the terminal client the PlayHub player app starts for each player",
    "gui": "the pygame window the PlayHub player app starts for each player",
    "multi": "the terminal client the PlayHub player app starts for each player",
}
CONTROLS = {
    "cli": "On your turn, type how many stones to take (1-3) and Enter. Ctrl-D leaves.",
    "gui": 'On your turn, click a "take" button or press 1, 2 or 3. Esc or closing the window leaves.',
    "multi": "On your turn, type how many stones to take (1-3) and Enter. Ctrl-D leaves.",
}


def _display_name(name: str) -> str:
    return " ".join(part.capitalize() for part in name.replace("_", "-").split("-") if part)


def create_game(dest: Path, name: str, game_type: str) -> Path:
    """Create the game ``name`` of type ``game_type`` in the folder ``dest`` (created; must be empty if it exists).

    Returns the folder. Raises ValueError for a bad name or type, FileExistsError if ``dest`` is not empty.
    """
    dest = Path(dest)
    game_type = game_type.lower()
    if not NAME_RE.fullmatch(name):
        raise ValueError(
            f"'{name}' is not a valid game name: 2-64 lowercase letters, digits, '_' or '-', starting alphanumeric"
        )
    if game_type not in GAME_TYPES:
        raise ValueError(f"game type must be one of {', '.join(GAME_TYPES)}")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"'{dest}' already exists and is not an empty folder")
    low, high = PLAYERS[game_type]
    values = {
        "name": name,
        "display_name": _display_name(name),
        "type": game_type,
        "min_players": str(low),
        "max_players": str(high),
        "players_text": f"{low} players" if low == high else f"{low} to {high} players",
        "client_text": CLIENT_TEXT[game_type],
        "controls": CONTROLS[game_type],
    }
    root = resources.files(__package__) / "files"
    sources = {}
    for folder in ("common", game_type):  # the type's files come last and win
        for entry in (root / folder).iterdir():
            if entry.name.endswith(".tmpl"):
                sources[entry.name.removesuffix(".tmpl")] = entry.read_text(encoding="utf-8")
    dest.mkdir(parents=True, exist_ok=True)
    for filename, text in sorted(sources.items()):
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", value)
        (dest / filename).write_text(text, encoding="utf-8")
    json.loads((dest / "manifest.json").read_text(encoding="utf-8"))  # the template must give valid JSON
    return dest
