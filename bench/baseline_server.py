"""The raw baseline: a minimal asyncio NDJSON request/response server, same JSON library and event loop as PlayHub.

Run: ``python bench/baseline_server.py PORTFILE``; it writes its port to PORTFILE and answers every line with a
small fixed-shape JSON object echoing the request's id.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import use_fast_loop  # noqa: E402

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            req = _decode(line)
            writer.write(
                _encode(
                    {
                        "status": "ok",
                        "code": 0,
                        "message": "OK",
                        "payload": {"pong": True},
                        "id": req.get("id"),
                    }
                )
                + b"\n"
            )
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port_file: Path) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_file.write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240 - once, at startup
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    use_fast_loop()
    asyncio.run(main(Path(sys.argv[1])))
