"""How the player app and the ``playhub`` command are put together: no import cycle in ``tui/``, screens open one
another by name, the stylesheet ships with the package, ``dev`` and ``play`` share one runner."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

from tests.helpers import REPO, SRC

TUI = SRC / "playhub" / "tui"


def _imports(path: Path) -> set[str]:
    """Every playhub module a file imports, at the top, inside functions or under TYPE_CHECKING alike."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("playhub"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("playhub"))
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_tui_has_no_import_cycle() -> None:
    graph = {_module(p): {m for m in _imports(p) if m.startswith("playhub.tui")} for p in TUI.rglob("*.py")}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " → ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for dep in graph.get(module, ()):
            visit(dep, [*path, module])
        done.add(module)

    for module in graph:
        visit(module, [])


def test_screens_open_other_screens_by_name() -> None:
    allowed = {"playhub.tui.screens.base", "playhub.tui.screens.lifecycle", "playhub.tui.screens.modals"}
    for path in (TUI / "screens").glob("*.py"):
        wrong = {m for m in _imports(path) if m.startswith("playhub.tui.screens.") or m == "playhub.tui.app"}
        wrong -= allowed
        assert not wrong, f"{path.name} imports {wrong}: open screens with PlayerApp.open_screen(name) instead"


def test_stylesheets_are_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["playhub"]
    sheets = [p.relative_to(SRC / "playhub").as_posix() for p in (SRC / "playhub").rglob("*.tcss")]
    assert sheets, "the player app's stylesheet is missing"
    for sheet in sheets:
        assert any(fnmatch.fnmatch(sheet, pattern) for pattern in patterns), f"{sheet} is not in package-data"
    from playhub.tui.app import PlayerApp

    assert (TUI / str(PlayerApp.CSS_PATH)).is_file()


def test_dev_and_play_share_the_runner() -> None:
    cli = SRC / "playhub" / "cli"
    for path in [cli / "play.py", *(cli / "dev").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "asyncio.run(" not in text, f"{path.name} runs its own event loop: use playhub.cli.common.run"
        assert "class CliError" not in text and "class CommandError" not in text, path.name
