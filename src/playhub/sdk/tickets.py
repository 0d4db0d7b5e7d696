"""Per-player tickets: proof that a connecting player belongs to a room.

The platform gives each game server a random room secret (in the file ``PLAYHUB_ROOM_SECRET_FILE``) and each member's game client
its ticket (env ``PLAYHUB_TICKET``), computed as HMAC-SHA256(secret, "<room_id>:<username>") in lowercase hex.

P2P sessions (docs/p2p.md) use the same function with the session's one-time token as the secret and
``"<session_id>/<purpose>"`` as the room: a side proves it holds the token without sending it, and a ticket made for
one purpose (``direct``: the handshake between the peers; ``relay``: the relay connection) opens nothing else.
"""

from __future__ import annotations

import hashlib
import hmac


def player_ticket(secret: str, room_id: str, username: str) -> str:
    return hmac.new(secret.encode(), f"{room_id}:{username}".encode(), hashlib.sha256).hexdigest()


def verify_ticket(secret: str, room_id: str, username: str, ticket: str) -> bool:
    return hmac.compare_digest(player_ticket(secret, room_id, username), ticket or "")


def p2p_ticket(token: str, session_id: str, purpose: str, username: str) -> str:
    return player_ticket(token, f"{session_id}/{purpose}", username)


def verify_p2p_ticket(token: str, session_id: str, purpose: str, username: str, ticket: str) -> bool:
    return verify_ticket(token, f"{session_id}/{purpose}", username, ticket)
