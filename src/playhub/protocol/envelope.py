"""The envelope of every message, decoded once at the edge with msgspec.

Request  ``{"type", "token"?, "payload"?, "id"?}``
Response ``{"status", "code", "message", "payload", "id"?}``
Push     ``{"type", "payload"}`` (never carries ``status``)
"""

from __future__ import annotations

from typing import Any

import msgspec

from playhub.protocol.codes import Code
from playhub.protocol.errors import InvalidRequest, PlayHubError
from playhub.protocol.pushes import Push
from playhub.protocol.schemas import Int64

RequestId = int | str | None
_EMPTY = msgspec.Raw(b"{}")


class Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    type: str
    token: str | None = None
    payload: msgspec.Raw = _EMPTY
    id: Int64 | str | None = None


# msgspec recurses once per nesting level, up to Python's recursion limit (~1000): deeper documents are refused.
_TOO_DEEP = "not accepted: JSON nested too deeply"

_request_decoder = msgspec.json.Decoder(Request)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

encode = _encoder.encode


def decode_request(frame: bytes) -> Request:
    """Decode one frame into a Request, or raise InvalidRequest naming what is wrong."""
    try:
        req = _request_decoder.decode(frame)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"bad envelope: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequest("not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest(_TOO_DEEP) from None
    return req


def decode_json(frame: bytes) -> Any:
    """Decode any JSON document (client side, legacy messages)."""
    return _any_decoder.decode(frame)


def decode_payload(raw: msgspec.Raw | bytes, decoder: msgspec.json.Decoder) -> Any:
    """Decode a request payload against its schema; any mismatch is a 100."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"bad payload: {exc}") from None
    except msgspec.DecodeError as exc:  # pragma: no cover - the envelope already parsed
        raise InvalidRequest(f"bad payload: {exc}") from None
    except UnicodeDecodeError:
        raise InvalidRequest("bad payload: not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest(_TOO_DEEP) from None


def ok(payload: Any = None, req_id: RequestId = None, message: str = "OK") -> bytes:
    """Encode a success response. ``payload`` may be a dict, a Struct or a pre-encoded ``msgspec.Raw``."""
    body: dict[str, Any] = {
        "status": "ok",
        "code": 0,
        "message": message,
        "payload": {} if payload is None else payload,
    }
    if req_id is not None:
        body["id"] = req_id
    return _encoder.encode(body)


_OK_RAW_PREFIX = b'{"status":"ok","code":0,"message":"OK","payload":'


def ok_parts(payload: msgspec.Raw, req_id: RequestId = None) -> tuple[bytes | msgspec.Raw, ...]:
    """A success response around a pre-encoded payload, as pieces to be joined once by the framing.

    Cached answers (the store listing) are tens of KB: splicing them in saves re-encoding and extra copies.
    """
    suffix = b"}" if req_id is None else b',"id":' + _encoder.encode(req_id) + b"}"
    return (_OK_RAW_PREFIX, payload, suffix)


def error(code: int, message: str, payload: dict[str, Any] | None = None, req_id: RequestId = None) -> bytes:
    body: dict[str, Any] = {
        "status": "error",
        "code": int(code),
        "message": message,
        "payload": payload or {},
    }
    if req_id is not None:
        body["id"] = req_id
    return _encoder.encode(body)


def error_from(exc: PlayHubError, req_id: RequestId = None) -> bytes:
    return error(exc.code, exc.message, exc.payload, req_id)


def push(type_: str, payload: Any) -> bytes:
    return _encoder.encode({"type": type_, "payload": payload})


def encode_push(message: Push, encoder: msgspec.json.Encoder = _encoder) -> bytes:
    """Encode a typed push as ``{"type": NAME, "payload": {...}}`` (pass an encoder of your own off the loop thread)."""
    return encoder.encode({"type": message.name, "payload": message})


__all__ = [
    "Code",
    "Request",
    "decode_json",
    "decode_payload",
    "decode_request",
    "encode",
    "encode_push",
    "error",
    "error_from",
    "ok",
    "ok_parts",
    "push",
]
