"""Connect Four client: a pygame window. Started by the PlayHub player app with the game's env (see README.md).

Mouse: move over a column and click to drop a disc. Keyboard: 1-7 drop in that column; ←/→ choose and Enter/Space/↓
drop. Esc or closing the window leaves (a forfeit while the game runs).

Network messages arrive on a reader thread and are handed to the pygame loop through a queue, so the window stays
responsive whatever the network does.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from typing import Any

import pygame
from rules import COLS, EMPTY, ROWS

from playhub.sdk import GameRejected, PlayerContext, connect_to_game_sync, jsonl

CELL = 80
TOP = 110  # room for the status line and the disc hovering over the board
WIDTH, HEIGHT = COLS * CELL, TOP + ROWS * CELL + 12
RADIUS = CELL // 2 - 8
BACKGROUND = (24, 26, 38)
BOARD = (30, 78, 200)
HOLE = (14, 16, 28)
DISC_COLORS = {1: (226, 54, 54), 2: (246, 206, 40)}
HIGHLIGHT = (255, 255, 255)
TEXT = (235, 235, 240)
KEY_COLUMNS = {getattr(pygame, f"K_{i + 1}"): i for i in range(COLS)}
KEY_COLUMNS.update({getattr(pygame, f"K_KP{i + 1}"): i for i in range(COLS)})


class View:
    """Drawing and hit-testing only: knows pixels, not the network."""

    def __init__(self, surface: pygame.Surface) -> None:
        self.surface = surface
        self.font = pygame.font.Font(None, 34)
        self.small = pygame.font.Font(None, 24)

    @staticmethod
    def column_at(x: int) -> int | None:
        col = x // CELL
        return col if 0 <= col < COLS else None

    @staticmethod
    def cell_center(row: int, col: int) -> tuple[int, int]:
        return col * CELL + CELL // 2, TOP + row * CELL + CELL // 2

    def draw(self, app: App) -> None:
        s = self.surface
        s.fill(BACKGROUND)
        s.blit(self.font.render(app.status, True, TEXT), (12, 10))
        if app.discs:  # known from START on: each name after a disc of its colour
            x = 12
            for p in app.players:
                pygame.draw.circle(s, DISC_COLORS[app.discs[p]], (x + 8, 56), 8)
                label = self.small.render(f"{p}{' (you)' if p == app.me else ''}", True, TEXT)
                s.blit(label, (x + 22, 48))
                x += 22 + label.get_width() + 24
        if app.my_turn and app.hover is not None:
            x, _ = self.cell_center(0, app.hover)
            pygame.draw.circle(s, DISC_COLORS[app.discs[app.me]], (x, TOP - CELL // 2 + 8), RADIUS)
        pygame.draw.rect(s, BOARD, (0, TOP, WIDTH, ROWS * CELL), border_radius=10)
        for r in range(ROWS):
            for c in range(COLS):
                disc = app.grid[r][c]
                center = self.cell_center(r, c)
                pygame.draw.circle(s, DISC_COLORS.get(disc, HOLE), center, RADIUS)
        for r, c in app.line:  # the winning four get a white ring
            pygame.draw.circle(s, HIGHLIGHT, self.cell_center(r, c), RADIUS, 5)
        if app.last_move is not None and not app.line:
            col = app.last_move[1]
            row = next((r for r in range(ROWS) if app.grid[r][col] != EMPTY), None)
            if row is not None:
                pygame.draw.circle(s, HIGHLIGHT, self.cell_center(row, col), 6)


class App:
    """The client's state, fed by server messages and pygame events."""

    def __init__(
        self, conn: jsonl.LineSocket, me: str, welcome: dict[str, Any], surface: pygame.Surface
    ) -> None:
        self.conn = conn
        self.me = me
        self.players: list[str] = list(welcome.get("players", []))
        self.discs: dict[str, int] = {}
        self.grid = [[EMPTY] * COLS for _ in range(ROWS)]
        self.turn: str | None = None
        self.line: list[list[int]] = []
        self.last_move: list[Any] | None = None
        self.hover: int | None = COLS // 2
        self.status = "Waiting for the other player ..."
        self.result: dict[str, Any] | None = None
        self.ended_at: float | None = None
        self.running = True
        self.view = View(surface)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while (msg := self.conn.recv()) is not None:
                self.inbox.put(msg)
        except (OSError, jsonl.ProtocolError):
            pass
        self.inbox.put(None)

    @property
    def my_turn(self) -> bool:
        return self.turn == self.me and self.result is None

    # --- server messages -----------------------------------------------------------------------------------------
    def handle_message(self, msg: dict[str, Any] | None) -> None:
        if msg is None:
            if self.result is None:
                self.status = "Connection to the game server lost."
                self.turn = None
                self.ended_at = self.ended_at or time.monotonic()
            return
        kind = msg.get("type")
        if kind == "START":
            self.players, self.discs = msg["players"], msg["discs"]
        elif kind in ("STATE", "GAME_OVER"):
            self.grid = msg["grid"]
            self.line = msg.get("line", [])
            self.last_move = msg.get("last_move", self.last_move)
            self.turn = msg.get("turn")
            if kind == "GAME_OVER":
                self.result = msg
                self.turn = None
                self.ended_at = time.monotonic()
                winner = msg["winner"]
                verdict = (
                    "Draw!" if winner is None else ("You win!" if winner == self.me else f"{winner} wins.")
                )
                self.status = f"{verdict}  Press Esc to close."
            elif self.turn == self.me:
                self.status = "Your turn: click a column (or keys 1-7)."
            else:
                self.status = f"Waiting for {self.turn} ..."
        elif kind == "ERROR":
            self.status = f"{msg.get('reason')}. Try again."

    # --- input ---------------------------------------------------------------------------------------------------
    def drop(self, col: int) -> None:
        if self.my_turn and self.grid[0][col] == EMPTY:
            self.conn.send({"type": "MOVE", "column": col})
            self.turn = None  # until the server's STATE confirms it, no second disc
            self.status = "..."

    def handle_event(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
            self.running = False
        elif event.type == pygame.MOUSEMOTION:
            self.hover = View.column_at(event.pos[0]) if event.pos[1] >= 0 else self.hover
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            col = View.column_at(event.pos[0])
            if col is not None:
                self.hover = col
                self.drop(col)
        elif event.type == pygame.KEYDOWN:
            if event.key in KEY_COLUMNS:
                self.hover = KEY_COLUMNS[event.key]
                self.drop(self.hover)
            elif event.key == pygame.K_LEFT:
                self.hover = max(0, (self.hover or 0) - 1)
            elif event.key == pygame.K_RIGHT:
                self.hover = min(COLS - 1, (self.hover if self.hover is not None else -1) + 1)
            elif event.key in (pygame.K_RETURN, pygame.K_SPACE, pygame.K_DOWN) and self.hover is not None:
                self.drop(self.hover)

    def step(self, close_after: float | None = None) -> bool:
        """One frame: network messages, input events, drawing. Returns False when the window should close."""
        while True:
            try:
                self.handle_message(self.inbox.get_nowait())
            except queue.Empty:
                break
        for event in pygame.event.get():
            self.handle_event(event)
        self.view.draw(self)
        pygame.display.flip()
        if (
            close_after is not None
            and self.ended_at is not None
            and time.monotonic() - self.ended_at > close_after
        ):
            self.running = False
        return self.running


def main() -> int:
    me = PlayerContext.from_env()
    try:
        conn, welcome = connect_to_game_sync(me)
    except GameRejected as exc:
        print(f"The game server refused you: {exc.reason}")
        return 1
    except OSError as exc:
        print(f"Cannot reach the game server at {me.host}:{me.port}: {exc}")
        return 1
    pygame.display.init()  # no audio: the game has no sound, and this avoids audio-driver noise
    pygame.font.init()
    pygame.display.set_caption(f"Connect Four — {me.username}")
    screen = pygame.display.set_mode((WIDTH, HEIGHT))
    app = App(conn, me.username, welcome, screen)
    clock = pygame.time.Clock()
    close_after = float(os.environ.get("CONNECT4_CLOSE_AFTER", "60"))
    try:
        while app.step(close_after):
            clock.tick(30)
    finally:
        conn.close()
        pygame.quit()
    if app.result is not None:
        print(app.result["summary"])
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
