"""One exception root for everything that maps to a wire code.

Services raise these; the router turns them into error responses, and the client library raises the same types
when it receives an error response, so code on either side catches ``NotFound`` rather than comparing numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from playhub.protocol.codes import Code


class PlayHubError(Exception):
    code: ClassVar[Code] = Code.SERVER_ERROR
    default_message: ClassVar[str] = "server error"

    def __init__(self, message: str | None = None, payload: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.payload = payload or {}
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.message} (code {int(self.code)})"


class InvalidRequest(PlayHubError):
    code = Code.INVALID_REQUEST
    default_message = "invalid request"


class Unauthorized(PlayHubError):
    code = Code.UNAUTHORIZED
    default_message = "not logged in: log in first"


class Forbidden(PlayHubError):
    code = Code.FORBIDDEN
    default_message = "forbidden"


class NotFound(PlayHubError):
    code = Code.NOT_FOUND
    default_message = "not found"


class Conflict(PlayHubError):
    code = Code.CONFLICT
    default_message = "conflict"


class BadState(PlayHubError):
    code = Code.BAD_STATE
    default_message = "not allowed in the current state"


class RateLimited(PlayHubError):
    code = Code.RATE_LIMITED
    default_message = "too many attempts"

    def __init__(self, retry_after_s: float, message: str | None = None) -> None:
        retry = max(1, round(retry_after_s + 0.499))
        super().__init__(message or f"too many attempts: try again in {retry} s", {"retry_after_s": retry})
        self.retry_after_s = retry


class ChunkOutOfOrder(PlayHubError):
    code = Code.CHUNK_OUT_OF_ORDER
    default_message = "chunk out of order"


class ChecksumMismatch(PlayHubError):
    code = Code.CHECKSUM_MISMATCH
    default_message = "checksum mismatch"


class ServerError(PlayHubError):
    code = Code.SERVER_ERROR
    default_message = "internal server error"


_BY_CODE: dict[int, type[PlayHubError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        BadState,
        ChunkOutOfOrder,
        ChecksumMismatch,
        ServerError,
    )
}


def error_from_wire(code: int, message: str, payload: dict[str, Any] | None) -> PlayHubError:
    """Rebuild the typed exception for an error response (client side)."""
    if code == Code.RATE_LIMITED:
        err: PlayHubError = RateLimited(float((payload or {}).get("retry_after_s", 1)), message)
        err.payload = payload or {}
        return err
    cls = _BY_CODE.get(code, PlayHubError)
    err = cls(message, payload)
    if cls is PlayHubError:
        err.code = code  # type: ignore[misc,assignment]  # an unknown code still travels intact
    return err
