"""Socket options of accepted connections: kernel send buffer and TCP keepalive, from settings."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playhub.settings import Settings

log = logging.getLogger("playhub.conn")


def tune_socket(sock: Any, settings: Settings) -> None:
    """Bound the kernel's send buffer (unread output lives there too) and turn on keepalive, so a peer that
    vanished without a FIN or RST (half-open: cable pulled, NAT state lost) is noticed and its connection closed."""
    if sock is None:
        return
    try:
        if settings.tcp_send_buffer_bytes > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.tcp_send_buffer_bytes)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for suffix, value in (
            ("IDLE", settings.tcp_keepalive_idle_s),
            ("INTVL", settings.tcp_keepalive_interval_s),
            ("CNT", settings.tcp_keepalive_probes),
        ):
            option = getattr(socket, f"TCP_KEEP{suffix}", None)  # Linux has all three; others may lack some
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    except OSError as exc:  # not a TCP socket (tests over socketpairs), or an option the platform refuses
        log.debug("socket options not applied: %s", exc)
