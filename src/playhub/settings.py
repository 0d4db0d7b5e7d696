"""Every limit, timeout and queue size of the platform, named, with a safe default.

``Settings`` is a frozen dataclass; ``playhub serve`` builds one from its flags, tests build one with ``replace``.
``docs/settings.md`` documents each field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("playhub-data")
    host: str = "127.0.0.1"
    dev_port: int = 5501
    lobby_port: int = 5502
    # Address written to runtime_ports.json for clients; defaults to ``host`` (or 127.0.0.1 when binding 0.0.0.0).
    public_host: str | None = None

    # --- wire ---
    max_frame_bytes: int = 1 << 20  # one JSON document; an upload chunk of 256 KiB base64-encodes to ~342 KiB
    read_size: int = 1 << 18
    # Output to a client that does not read is bounded three ways: per connection (transport buffer included), in
    # time (a backlog must drain within send_stall_timeout_s) and server-wide (the worst offenders are dropped).
    max_send_buffer_bytes: int = 4 << 20  # a client whose unread responses exceed this is disconnected
    write_buffer_high_bytes: int = (
        256 * 1024
    )  # transport high-water mark: flow-controlled senders wait above it
    send_stall_timeout_s: float = 30.0  # a backlog above the high-water mark must drain within this, or close
    max_total_send_buffer_bytes: int = (
        128 << 20
    )  # unread output across all connections before dropping the worst
    tcp_send_buffer_bytes: int = (
        256 * 1024
    )  # SO_SNDBUF of accepted sockets (kernel memory per client); 0 = OS default
    frames_per_turn: int = 32  # frames handled from one connection before it yields to the others
    max_connections: int = 10_000
    # --- timeouts ---
    frame_timeout_s: float = 30.0  # a frame begun but not finished within this → 100 and close (slowloris)
    auth_timeout_s: float = 120.0  # a connection that has not logged in (or used a token) by then is closed
    tcp_keepalive_idle_s: int = 60  # TCP keepalive: idle time before the first probe (half-open peers)
    tcp_keepalive_interval_s: int = 10  # between probes
    tcp_keepalive_probes: int = 5  # unanswered probes before the kernel drops the connection

    # --- accounts ---
    username_min: int = 3
    username_max: int = 32
    password_min: int = 6
    password_max: int = 128
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19_456  # OWASP's argon2id minimum (19 MiB, t=2, p=1)
    argon2_parallelism: int = 1
    hash_concurrency: int = 2  # password hashes running at once, in threads
    login_fail_window_s: float = 60.0
    login_fail_max_per_ip: int = 30
    login_fail_max_per_ip_account: int = 5
    session_resume_grace_s: float = 60.0  # a dropped connection's token stays valid this long
    max_sessions_per_connection: int = 4  # sessions (logins/registrations) bound to one connection at once
    register_max_per_ip: int = 20  # registrations (both roles) per client IP per window → 106 past it
    register_window_s: float = 3_600.0

    # --- catalogue and uploads ---
    name_max: int = 64
    display_name_max: int = 80
    description_max: int = 2_000
    max_players_limit: int = 64
    chunk_size: int = 256 * 1024  # suggested decoded bytes per upload chunk (downloads: download_chunk_size)
    max_package_bytes: int = 512 << 20
    max_unpacked_bytes: int = 1 << 30
    max_package_files: int = 5_000
    upload_expiry_s: float = 3_600.0  # an upload with no chunk for this long is abandoned
    max_open_uploads_per_developer: int = 16  # open (unfinished) uploads one developer may hold at once

    # --- downloads ---
    max_concurrent_downloads: int = 256
    max_downloads_per_connection: int = 4  # streams one connection may run at once
    max_downloads_per_account: int = 4  # streams one player account may run at once, over all its connections
    max_downloads_per_ip: int = 64  # streams one client IP may run at once
    # Decoded bytes per DOWNLOAD_CHUNK. Encoding holds the GIL, so moderate chunks keep the loop's pauses short and a
    # stream's memory small (about 5 chunk-sized buffers in flight) while amortising the per-chunk cost.
    download_chunk_size: int = 128 * 1024
    store_detail_cache_max: int = 4_096  # cached GET_GAME_DETAIL answers (dropped oldest first)

    # --- reviews ---
    comment_max: int = 1_000
    reviews_sample_size: int = 5  # newest reviews shown in GET_GAME_DETAIL
    reviews_page_max: int = 200  # most reviews one LIST_REVIEWS answer carries

    # --- rooms and game servers ---
    vote_timeout_s: float = 30.0
    disconnect_grace_s: float = 30.0
    game_server_ready_timeout_s: float = 10.0
    game_server_memory_bytes: int = 1 << 30
    game_server_cpu_seconds: int = 3_600
    game_server_open_files: int = 256
    game_server_processes: int = 64
    max_rooms: int = 1_000
    max_rooms_per_account: int = (
        3  # open rooms created by one account (a room stays open while it has members)
    )
    max_rooms_per_ip: int = 50  # open rooms created from one client IP
    game_server_stop_grace_s: float = 2.0  # between SIGTERM and SIGKILL of a game server's process group
    game_server_log_tail_bytes: int = 2_000  # how much of a failed game server's log an error message quotes
    game_server_finish_grace_s: float = (
        1.0  # after GAME_FINISHED, time the server gets to exit before it is stopped
    )
    game_server_file_bytes: int = 64 << 20  # largest file a game server may write (its log included)

    @property
    def advertised_host(self) -> str:
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
