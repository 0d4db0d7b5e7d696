"""Chat rows (migration 0004): channels, members and read markers, invitations, messages, files, nicknames, mutes.

Every function takes a ``sqlite3.Connection`` and runs inside the transaction ``Database.run`` opened. Users are keyed
by their folded name (``user_key``); a channel by its id. The SQL is plain and portable (no SQLite-only syntax but
``INSERT OR IGNORE``/``ON CONFLICT``, which PostgreSQL spells ``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GENERAL = "general"


@dataclass(frozen=True, slots=True)
class ChannelRow:
    id: int
    name: str
    kind: str
    owner: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class MemberRow:
    channel_id: int
    user_key: str
    username: str
    guest: bool


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    channel_id: int
    sender_key: str
    sender: str
    nickname: str | None
    text: str
    sent_at: float
    system: bool
    file_id: int | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    channel_id: int
    sender_key: str
    sender: str
    nickname: str | None
    text: str
    sent_at: float
    system: bool = False
    file_id: int | None = None


@dataclass(frozen=True, slots=True)
class FileRow:
    id: int
    channel_id: int
    uploader_key: str
    uploader: str
    filename: str
    size_bytes: int
    sha256: str
    piece_size: int
    created_at: float
    message_id: int | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the service keeps in memory, read once at start."""

    channels: list[ChannelRow]
    members: list[MemberRow]
    invites: list[tuple[int, str]]
    nicknames: list[tuple[str, str]]
    mutes: list[tuple[int, str, float | None]]


# --- start ------------------------------------------------------------------------------------------------------------
def prepare(conn: sqlite3.Connection, now: float) -> Snapshot:
    """At start: rooms and guests of the previous run are gone, ``general`` exists; then read the state."""
    conn.execute("DELETE FROM chat_channels WHERE kind = 'room'")
    conn.execute("DELETE FROM chat_members WHERE guest = 1")
    conn.execute("DELETE FROM chat_nicknames WHERE guest = 1")
    conn.execute(
        "INSERT OR IGNORE INTO chat_channels (name, name_key, kind, owner, created_at) VALUES (?, ?, 'general', NULL, ?)",
        (GENERAL, GENERAL, now),
    )
    channels = [
        ChannelRow(r[0], r[1], r[2], r[3], r[4])
        for r in conn.execute("SELECT id, name, kind, owner, created_at FROM chat_channels ORDER BY id")
    ]
    members = [
        MemberRow(r[0], r[1], r[2], bool(r[3]))
        for r in conn.execute(
            "SELECT m.channel_id, m.user_key, m.username, m.guest FROM chat_members m"
            " JOIN chat_channels c ON c.id = m.channel_id WHERE c.kind != 'general'"
        )
    ]
    invites = [(r[0], r[1]) for r in conn.execute("SELECT channel_id, user_key FROM chat_invites")]
    nicknames = [(r[0], r[1]) for r in conn.execute("SELECT user_key, nickname FROM chat_nicknames")]
    mutes = [
        (r[0], r[1], r[2])
        for r in conn.execute("SELECT channel_id, user_key, until FROM chat_mutes WHERE until IS NULL OR until > ?", (now,))
    ]
    return Snapshot(channels, members, invites, nicknames, mutes)


# --- channels and members ---------------------------------------------------------------------------------------------
def create_channel(
    conn: sqlite3.Connection, channel_id: int, name: str, key: str, kind: str, owner: str | None, now: float
) -> None:
    """Ids are handed out by the chat service (it holds every channel in memory and is the only writer)."""
    conn.execute(
        "INSERT INTO chat_channels (id, name, name_key, kind, owner, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (channel_id, name, key, kind, owner, now),
    )


def set_owner(conn: sqlite3.Connection, channel_id: int, owner: str) -> None:
    conn.execute("UPDATE chat_channels SET owner = ? WHERE id = ?", (owner, channel_id))


def delete_channel(conn: sqlite3.Connection, channel_id: int) -> None:
    """The channel with its members, invitations, messages, files and mutes (cascades)."""
    conn.execute("DELETE FROM chat_channels WHERE id = ?", (channel_id,))


def set_kind(conn: sqlite3.Connection, channel_id: int, kind: str) -> None:
    conn.execute("UPDATE chat_channels SET kind = ? WHERE id = ?", (kind, channel_id))


def add_member(
    conn: sqlite3.Connection, channel_id: int, user_key: str, username: str, guest: bool, now: float
) -> None:
    """Add a member whose read marker starts at the channel's newest message (nothing old counts as unread); an
    existing member keeps its marker. A pending invitation is used up."""
    conn.execute(
        "INSERT INTO chat_members (channel_id, user_key, username, guest, joined_at, last_read_id)"
        " VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM chat_messages WHERE channel_id = ?))"
        " ON CONFLICT (channel_id, user_key) DO UPDATE SET username = excluded.username",
        (channel_id, user_key, username, int(guest), now, channel_id),
    )
    conn.execute("DELETE FROM chat_invites WHERE channel_id = ? AND user_key = ?", (channel_id, user_key))


def remove_member(conn: sqlite3.Connection, channel_id: int, user_key: str) -> None:
    conn.execute("DELETE FROM chat_members WHERE channel_id = ? AND user_key = ?", (channel_id, user_key))


def forget_guest(conn: sqlite3.Connection, user_key: str) -> None:
    """A guest left the chat: its memberships, read markers and nickname go."""
    conn.execute("DELETE FROM chat_members WHERE user_key = ? AND guest = 1", (user_key,))
    conn.execute("DELETE FROM chat_nicknames WHERE user_key = ? AND guest = 1", (user_key,))


def add_invite(conn: sqlite3.Connection, channel_id: int, user_key: str, by: str, now: float) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO chat_invites (channel_id, user_key, invited_by, created_at) VALUES (?, ?, ?, ?)",
        (channel_id, user_key, by, now),
    )


def player_username(conn: sqlite3.Connection, key: str) -> str | None:
    """The registered player whose folded name is ``key``."""
    row = conn.execute("SELECT username FROM accounts WHERE role = 'player' AND name_key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


# --- messages ---------------------------------------------------------------------------------------------------------
_MESSAGE_COLUMNS = "id, channel_id, sender_key, sender, nickname, text, sent_at, system, file_id"


def _message(r: Sequence[object]) -> MessageRow:
    return MessageRow(
        int(r[0]),  # type: ignore[call-overload]
        int(r[1]),  # type: ignore[call-overload]
        str(r[2]),
        str(r[3]),
        None if r[4] is None else str(r[4]),
        str(r[5]),
        float(r[6]),  # type: ignore[arg-type]
        bool(r[7]),
        None if r[8] is None else int(r[8]),  # type: ignore[call-overload]
    )


def insert_messages(conn: sqlite3.Connection, batch: Sequence[NewMessage]) -> list[int]:
    """Store a batch of messages in one transaction (group commit); their ids in order."""
    ids = []
    for m in batch:
        cur = conn.execute(
            "INSERT INTO chat_messages (channel_id, sender_key, sender, nickname, text, sent_at, system, file_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (m.channel_id, m.sender_key, m.sender, m.nickname, m.text, m.sent_at, int(m.system), m.file_id),
        )
        ids.append(int(cur.lastrowid or 0))
    return ids


def history(conn: sqlite3.Connection, channel_id: int, before_id: int | None, limit: int) -> list[MessageRow]:
    """Up to ``limit`` messages older than ``before_id`` (the newest when None), newest first."""
    if before_id is None:
        rows = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM chat_messages WHERE channel_id = ? ORDER BY id DESC LIMIT ?",
            (channel_id, limit),
        )
    else:
        rows = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM chat_messages WHERE channel_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (channel_id, before_id, limit),
        )
    return [_message(r) for r in rows]


def latest_id(conn: sqlite3.Connection, channel_id: int) -> int:
    row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM chat_messages WHERE channel_id = ?", (channel_id,)).fetchone()
    return int(row[0])


def mark_read(conn: sqlite3.Connection, channel_id: int, user_key: str, up_to: int) -> None:
    """Move the read marker forward (never back)."""
    conn.execute(
        "UPDATE chat_members SET last_read_id = MAX(last_read_id, ?) WHERE channel_id = ? AND user_key = ?",
        (up_to, channel_id, user_key),
    )


def unread_counts(conn: sqlite3.Connection, user_key: str, cap: int) -> dict[int, int]:
    """Per channel the user is a member of: messages of others after the read marker (counted up to ``cap``)."""
    out: dict[int, int] = {}
    marks = conn.execute("SELECT channel_id, last_read_id FROM chat_members WHERE user_key = ?", (user_key,)).fetchall()
    for channel_id, last_read in marks:
        row = conn.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM chat_messages WHERE channel_id = ? AND id > ? AND sender_key != ?"
            " LIMIT ?)",
            (channel_id, last_read, user_key, cap),
        ).fetchone()
        out[int(channel_id)] = int(row[0])
    return out


def apply_retention(conn: sqlite3.Connection, keep_per_channel: int, older_than: float | None) -> int:
    """Drop messages past the newest ``keep_per_channel`` of their channel or sent before ``older_than``, and the
    files shared by those messages. Returns how many messages went."""
    dropped = 0
    if older_than is not None:
        dropped += conn.execute("DELETE FROM chat_messages WHERE sent_at < ?", (older_than,)).rowcount
    if keep_per_channel > 0:
        over = conn.execute(
            "SELECT channel_id FROM chat_messages GROUP BY channel_id HAVING COUNT(*) > ?", (keep_per_channel,)
        ).fetchall()
        for (channel_id,) in over:
            dropped += conn.execute(
                "DELETE FROM chat_messages WHERE channel_id = ? AND id <= (SELECT id FROM chat_messages"
                " WHERE channel_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (channel_id, channel_id, keep_per_channel),
            ).rowcount
    if dropped:
        conn.execute(
            "DELETE FROM chat_files WHERE message_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM chat_messages m WHERE m.id = chat_files.message_id)"
        )
    return dropped


# --- nicknames and mutes ----------------------------------------------------------------------------------------------
def nickname_owner(conn: sqlite3.Connection, nick_key: str) -> str | None:
    row = conn.execute("SELECT user_key FROM chat_nicknames WHERE nick_key = ?", (nick_key,)).fetchone()
    return None if row is None else str(row[0])


def set_nickname(conn: sqlite3.Connection, user_key: str, nickname: str | None, nick_key: str, guest: bool) -> None:
    if nickname is None:
        conn.execute("DELETE FROM chat_nicknames WHERE user_key = ?", (user_key,))
        return
    conn.execute(
        "INSERT INTO chat_nicknames (user_key, nickname, nick_key, guest) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_key) DO UPDATE SET nickname = excluded.nickname, nick_key = excluded.nick_key",
        (user_key, nickname, nick_key, int(guest)),
    )


def set_mute(conn: sqlite3.Connection, channel_id: int, user_key: str, until: float | None) -> None:
    conn.execute(
        "INSERT INTO chat_mutes (channel_id, user_key, until) VALUES (?, ?, ?)"
        " ON CONFLICT (channel_id, user_key) DO UPDATE SET until = excluded.until",
        (channel_id, user_key, until),
    )


def clear_mute(conn: sqlite3.Connection, channel_id: int, user_key: str) -> None:
    conn.execute("DELETE FROM chat_mutes WHERE channel_id = ? AND user_key = ?", (channel_id, user_key))


# --- files ------------------------------------------------------------------------------------------------------------
_FILE_COLUMNS = (
    "id, channel_id, uploader_key, uploader, filename, size_bytes, sha256, piece_size, created_at, message_id"
)


def _file(r: Sequence[object]) -> FileRow:
    return FileRow(*r)  # type: ignore[arg-type]


def uploader_bytes(conn: sqlite3.Connection, user_key: str) -> int:
    row = conn.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM chat_files WHERE uploader_key = ?", (user_key,))
    return int(row.fetchone()[0])


def insert_file(
    conn: sqlite3.Connection,
    channel_id: int,
    uploader_key: str,
    uploader: str,
    filename: str,
    sha256: str,
    piece_size: int,
    pieces: Iterable[bytes],
    now: float,
) -> int:
    """Store a whole file (its row and its pieces) in the caller's transaction; returns its id."""
    cur = conn.execute(
        "INSERT INTO chat_files (channel_id, uploader_key, uploader, filename, size_bytes, sha256, piece_size,"
        " created_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
        (channel_id, uploader_key, uploader, filename, sha256, piece_size, now),
    )
    file_id = int(cur.lastrowid or 0)
    size = 0
    for seq, data in enumerate(pieces):
        conn.execute("INSERT INTO chat_file_pieces (file_id, seq, data) VALUES (?, ?, ?)", (file_id, seq, data))
        size += len(data)
    conn.execute("UPDATE chat_files SET size_bytes = ? WHERE id = ?", (size, file_id))
    return file_id


def attach_file_message(conn: sqlite3.Connection, file_id: int, message_id: int) -> None:
    conn.execute("UPDATE chat_files SET message_id = ? WHERE id = ?", (message_id, file_id))


def get_file(conn: sqlite3.Connection, file_id: int) -> FileRow | None:
    row = conn.execute(f"SELECT {_FILE_COLUMNS} FROM chat_files WHERE id = ?", (file_id,)).fetchone()
    return None if row is None else _file(tuple(row))


def list_files(conn: sqlite3.Connection, channel_id: int, limit: int) -> list[FileRow]:
    rows = conn.execute(
        f"SELECT {_FILE_COLUMNS} FROM chat_files WHERE channel_id = ? ORDER BY id DESC LIMIT ?", (channel_id, limit)
    )
    return [_file(tuple(r)) for r in rows]


def file_piece(conn: sqlite3.Connection, file_id: int, seq: int) -> bytes | None:
    row = conn.execute("SELECT data FROM chat_file_pieces WHERE file_id = ? AND seq = ?", (file_id, seq)).fetchone()
    return None if row is None else bytes(row[0])


def share_file(
    conn: sqlite3.Connection,
    part: str,
    piece_size: int,
    channel_id: int,
    uploader_key: str,
    uploader: str,
    nickname: str | None,
    filename: str,
    sha256: str,
    now: float,
) -> tuple[int, int]:
    """A finished upload becomes a file and the message that shares it, in one transaction: read from the upload's
    part file in pieces. Returns (file id, message id)."""

    def pieces() -> Iterable[bytes]:
        with open(part, "rb") as fh:
            while data := fh.read(piece_size):
                yield data

    file_id = insert_file(conn, channel_id, uploader_key, uploader, filename, sha256, piece_size, pieces(), now)
    (message_id,) = insert_messages(
        conn, [NewMessage(channel_id, uploader_key, uploader, nickname, filename, now, False, file_id)]
    )
    attach_file_message(conn, file_id, message_id)
    return file_id, message_id
