"""Per-player tickets: proof that a connecting player belongs to a room.

The platform gives each game server a random room secret (in the file ``PLAYHUB_ROOM_SECRET_FILE``) and each member's game client
its ticket (env ``PLAYHUB_TICKET``), computed as HMAC-SHA256(secret, "<room_id>:<username>") in lowercase hex.
"""

from __future__ import annotations

import hashlib
import hmac


def player_ticket(secret: str, room_id: str, username: str) -> str:
    return hmac.new(secret.encode(), f"{room_id}:{username}".encode(), hashlib.sha256).hexdigest()


def verify_ticket(secret: str, room_id: str, username: str, ticket: str) -> bool:
    return hmac.compare_digest(player_ticket(secret, room_id, username), ticket or "")
