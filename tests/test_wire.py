"""The sans-I/O framing codec, byte by byte."""

from __future__ import annotations

import struct

import pytest

from playhub.wire import FrameDecoder, FrameTooLarge, Framing, encode_frame, sniff_framing


def lp(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


@pytest.mark.parametrize(
    ("first", "framing"),
    [
        (b"{", Framing.NDJSON),
        (b" ", Framing.NDJSON),
        (b"\n", Framing.NDJSON),
        (b"\t", Framing.NDJSON),
        (b"\x00", Framing.LENGTH_PREFIXED),
        (b"[", Framing.LENGTH_PREFIXED),
    ],
)
def test_sniff_by_first_byte(first: bytes, framing: Framing) -> None:
    assert sniff_framing(first[0]) is framing


def test_ndjson_many_frames_in_one_read_and_blank_lines_skipped() -> None:
    d = FrameDecoder(100)
    assert d.feed(b'{"a":1}\n\n  \n{"b":2}\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert d.feed(b":3}\n") == [b'{"c":3}']
    assert d.buffered == 0


def test_ndjson_one_byte_at_a_time() -> None:
    d = FrameDecoder(100)
    out: list[bytes] = []
    for b in b'{"type":"X"}\n{"type":"Y"}\n':
        out += d.feed(bytes([b]))
    assert out == [b'{"type":"X"}', b'{"type":"Y"}']


def test_ndjson_oversize_without_newline_refused() -> None:
    d = FrameDecoder(10)
    with pytest.raises(FrameTooLarge):
        d.feed(b"{" + b"x" * 20)


def test_ndjson_oversize_complete_line_refused() -> None:
    d = FrameDecoder(10)
    with pytest.raises(FrameTooLarge):
        d.feed(b"{" + b"x" * 20 + b"}\n")


def test_length_prefixed_split_header_and_many_frames() -> None:
    d = FrameDecoder(100)
    data = lp(b'{"a":1}') + lp(b'{"b":2}') + lp(b'{"c":3}')
    out: list[bytes] = []
    for i in range(0, len(data), 3):
        out += d.feed(data[i : i + 3])
    assert out == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_length_prefix_announcing_too_much_is_refused_before_reading_it() -> None:
    d = FrameDecoder(1000)
    with pytest.raises(FrameTooLarge) as info:
        d.feed(struct.pack("!I", 1_000_001))
    assert info.value.size == 1_000_001


def test_cut_off_frame_is_visible_as_buffered() -> None:
    d = FrameDecoder(100)
    assert d.feed(lp(b'{"a":1}')[:6]) == []
    assert d.buffered == 6


def test_encode_round_trip() -> None:
    for framing in Framing:
        d = FrameDecoder(100, framing)
        assert d.feed(encode_frame(framing, b'{"x":1}') * 2) == [b'{"x":1}', b'{"x":1}']


def test_encode_frame_parts_joins_once_in_either_framing() -> None:
    from playhub.wire.framing import encode_frame_parts

    parts = (b'{"a":', b"[1,2]", b"}")
    for framing in Framing:
        assert FrameDecoder(100, framing).feed(encode_frame_parts(framing, parts)) == [b'{"a":[1,2]}']
