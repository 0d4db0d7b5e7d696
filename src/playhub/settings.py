"""Every limit, timeout and queue size of the platform, named, with a safe default.

``Settings`` is a frozen dataclass; ``playhub serve`` builds one from its flags, tests build one with ``replace``.
``docs/settings.md`` documents each field.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from playhub.sdk.hosts import dial_host


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
    # Transport high-water mark: flow-controlled senders wait above it.
    write_buffer_high_bytes: int = 256 * 1024
    send_stall_timeout_s: float = 30.0  # a backlog above the high-water mark must drain within this, or close
    # Unread output across all connections before the worst offenders are dropped.
    max_total_send_buffer_bytes: int = 128 << 20
    # SO_SNDBUF of accepted sockets (kernel memory per client); 0 = the OS default (autotuned).
    tcp_send_buffer_bytes: int = 256 * 1024
    close_drain_timeout_s: float = 2.0  # a connection closed on an error waits this long for its last answer to leave
    listener_close_timeout_s: float = 2.0  # at shutdown, how long to wait for each listener to close
    housekeeping_interval_s: float = 1.0  # timeouts, session grace periods and expiries are checked this often
    sendfile_slice_bytes: int = 1 << 20  # bytes one sendfile download sends before letting other tasks run
    frames_per_turn: int = 32  # frames handled from one connection before it yields to the others
    max_connections: int = 10_000
    # --- timeouts ---
    frame_timeout_s: float = 30.0  # a frame begun but not finished within this → 100 and close (slowloris)
    auth_timeout_s: float = 120.0  # a connection that has not logged in (or used a token) by then is closed
    tcp_keepalive_idle_s: int = 60  # TCP keepalive: idle time before the first probe (half-open peers)
    tcp_keepalive_interval_s: int = 10  # between probes
    tcp_keepalive_probes: int = 5  # unanswered probes before the kernel drops the connection
    # Pending-connection queue of each listener: after a restart every client reconnects at once, and a short queue
    # turns that burst into refused connects and retries (the kernel caps it at net.core.somaxconn).
    listen_backlog: int = 1_024
    # Heartbeat: a connection that sends nothing (not even PING) for this long is closed; 0 = never.
    idle_timeout_s: float = 45.0
    close_flush_timeout_s: float = 5.0  # a closed connection's unsent output must be read within this, or it is cut
    client_ping_interval_s: float = 15.0  # how often clients should PING (told by SERVER_INFO)

    # --- accounts ---
    username_min: int = 3
    username_max: int = 32
    password_min: int = 6
    password_max: int = 128
    # argon2id, one lane (p=1): OWASP's minimum configuration m=7 MiB, t=5, equal in strength to its 19 MiB/t=2 one
    # and the cheapest of its five with libsodium (see services/passwords.py).
    argon2_time_cost: int = 5
    argon2_memory_kib: int = 7_168
    hash_concurrency: int = 0  # password hashes running at once, in threads; 0 = one per available core
    hash_queue_max: int = 64  # hashes waiting for a thread; past that, logins and registrations answer 106
    login_fail_window_s: float = 60.0
    login_fail_max_per_ip_account: int = 5  # attempts per client IP and account per window
    login_fail_max_per_account: int = 20  # attempts per account from all addresses per window
    # Attempts per client IP per window: high, because many honest players may share one address.
    login_fail_max_per_ip: int = 200
    auth_failure_jitter_s: float = 0.1  # a failed login answers after a random delay of up to this
    login_limiter_max_keys: int = 100_000  # entries per login counter table (least recently used dropped first)
    session_resume_grace_s: float = 60.0  # a dropped connection counts as gone (rooms, presence) after this long
    session_ttl_s: float = 7 * 24 * 3_600.0  # a token unused for this long expires (sliding)
    session_replaced_memory: int = 100_000  # superseded tokens remembered (105 instead of 101) in memory
    session_purge_interval_s: float = 60.0  # how often expired sessions are dropped from memory and the database
    session_touch_interval_s: float = 300.0  # how often use of a token extends its stored expiry, at most
    presence_batch_s: float = 0.05  # PLAYER_PRESENCE changes within this window go out as one delta; 0 = at once
    max_sessions_per_connection: int = 4  # sessions (logins/registrations) bound to one connection at once
    register_max_per_ip: int = 20  # registrations (both roles) per client IP per window → 106 past it
    register_window_s: float = 3_600.0

    # --- roles, bans, moderation (docs/admin.md) ---
    admin_poll_interval_s: float = 1.0  # how often the server looks for changes made by `playhub admin`
    admin_users_page_max: int = 500  # most users one ADMIN_USERS_LIST answer carries
    audit_page_max: int = 200  # most entries one ADMIN_AUDIT answer carries
    ban_reason_max: int = 300  # characters of a ban or kick reason
    announcement_max: int = 500  # characters of a server-wide announcement

    # --- catalogue and uploads ---
    name_max: int = 64
    display_name_max: int = 80
    description_max: int = 2_000
    max_players_limit: int = 64
    chunk_size: int = 256 * 1024  # suggested decoded bytes per upload chunk (downloads: download_chunk_size)
    max_package_bytes: int = 512 << 20
    max_unpacked_bytes: int = 1 << 30
    max_package_files: int = 5_000
    max_manifest_bytes: int = 64 << 10  # manifest.json is parsed in memory; a larger one is refused (100)
    # A package may unpack to at most this many times its archive size (packages under 1 MiB unpacked are exempt),
    # so a small upload cannot claim a large amount of disk.
    max_package_ratio: int = 50
    # Disk one developer's published versions (archive + unpacked files) and open uploads may use in total.
    developer_storage_quota_bytes: int = 2 << 30
    # How stale an upload's durable progress may get; a crash costs the client at most this much resending.
    upload_persist_interval_s: float = 0.5
    upload_expiry_s: float = 3_600.0  # an upload with no chunk for this long is abandoned
    max_open_uploads_per_developer: int = 16  # open (unfinished) uploads one developer may hold at once
    upload_write_queue: int = (
        8  # chunks of one upload waiting for its writer thread before the sender is slowed
    )

    # --- downloads ---
    max_concurrent_downloads: int = 256
    max_downloads_per_connection: int = 4  # streams one connection may run at once
    max_downloads_per_account: int = 4  # streams one player account may run at once, over all its connections
    max_downloads_per_ip: int = 64  # streams one client IP may run at once
    # Decoded bytes per DOWNLOAD_CHUNK. Encoding holds the GIL, so moderate chunks keep the loop's pauses short and a
    # stream's memory small (about 5 chunk-sized buffers in flight) while amortising the per-chunk cost.
    download_chunk_size: int = 128 * 1024
    # Binary-mode downloads send package bytes from the file to the socket with os.sendfile (no copy through Python);
    # off: read in a worker thread and written like any frame.
    download_sendfile: bool = True
    store_detail_cache_max: int = 4_096  # cached GET_GAME_DETAIL answers (dropped oldest first)

    # --- reviews ---
    comment_max: int = 1_000
    reviews_sample_size: int = 5  # newest reviews shown in GET_GAME_DETAIL
    reviews_page_max: int = 200  # most reviews one LIST_REVIEWS answer carries

    # --- chat ---
    chat_message_max_chars: int = 2_000  # longer text → 100
    chat_channel_name_max: int = 32  # public/private channel names: letters, digits, _ . -
    chat_nickname_max: int = 32
    chat_history_page_max: int = 100  # most messages one CHAT_HISTORY answer carries
    chat_retention_messages: int = 10_000  # newest messages kept per channel; 0 = no count limit
    chat_retention_s: float = 30 * 24 * 3_600.0  # messages (and their files) older than this go; 0 = kept
    chat_retention_sweep_s: float = 60.0  # how often retention runs
    chat_unread_cap: int = 1_000  # unread counts stop counting here (shown as "1000+" by clients)
    chat_user_rate: float = 5.0  # flood control per user: messages per second, sustained (token bucket)
    chat_user_burst: int = 10  # ...and the burst a user may send at once
    chat_channel_rate: float = 50.0  # per channel, all senders together
    chat_channel_burst: int = 100
    chat_flood_max_keys: int = 100_000  # buckets kept per table (idle ones dropped first)
    chat_channels_per_user: int = 100  # public/private channels one user may be in → 105 past it
    chat_write_batch_max: int = 512  # messages stored in one transaction (group commit)
    chat_file_max_bytes: int = 8 << 20  # one shared file
    chat_file_quota_bytes: int = 64 << 20  # files one user has shared and still kept, in total
    chat_file_chunk_size: int = 64 * 1024  # decoded bytes per CHAT_FILE_CHUNK and per CHAT_FILE_GET piece
    chat_file_name_max: int = 128
    chat_open_uploads_per_user: int = 2  # chat uploads one user may have open at once → 105 past it
    chat_upload_expiry_s: float = 300.0  # an upload with no chunk for this long is dropped
    chat_files_page_max: int = 100  # most files one CHAT_FILES answer lists

    # --- rooms and game servers ---
    vote_timeout_s: float = 30.0
    vote_memory: int = 4_096  # decided votes remembered, so a late VOTE answers 105 "already decided" rather than 103
    disconnect_grace_s: float = 30.0
    room_id_prefix_chars: int = 64  # a room id is the game's name (folded to safe characters, this long) + 8 hex
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
    game_server_abort_grace_s: float = 0.2  # the same, for a server whose room closed while it was starting
    game_server_log_tail_bytes: int = 2_000  # how much of a failed game server's log an error message quotes
    game_server_finish_grace_s: float = (
        1.0  # after GAME_FINISHED, time the server gets to exit before it is stopped
    )
    game_server_file_bytes: int = 64 << 20  # largest file a game server may write (its log included)
    game_server_probe_interval_s: float = 2.0  # liveness probe of a playing game server (seed 003: every 2 s)
    game_server_probe_failures: int = 3  # failed probes in a row before the match is ended as "unresponsive"
    game_server_probe_timeout_s: float = 1.0  # one probe's connect timeout

    # --- game-server isolation (docs/security.md, "A malicious game server") ---
    # When PlayHub runs as root, each match gets a uid of its own from this pool (gid = uid, no supplementary groups).
    game_uid_base: int = 61_000
    game_uid_count: int = 1_000
    # One lock file per uid; every PlayHub on the host must use the same folder so they never share a uid.
    # None: /run/playhub/game-uids.
    game_uid_lock_dir: Path | None = None
    game_run_dir: Path | None = None  # parent of the per-match run folders; None: the system temp folder
    # Interpreter for game servers; None: the running one if a game uid can execute it, else python3 on the PATH.
    game_server_python: str | None = None
    game_cgroups: str = "auto"  # "auto": one cgroup per match when the cgroup file system allows it; "off"
    game_cgroup_name: str = "playhub"  # the subtree that holds the matches' cgroups
    game_room_memory_bytes: int = 1 << 30  # memory of a whole match (all its processes); 0 = no cgroup limit
    game_room_processes: int = 128  # processes and threads of a whole match; 0 = no cgroup limit
    game_room_cpus: float = 1.0  # CPU cores a whole match may use; 0 = no cgroup limit

    # --- seed 003's own protocol (server/doors/seed003.py) ---
    # A seed-003 upload_game carries the whole package base64-encoded in one line: the developer listener accepts
    # lines up to this size (other frames keep max_frame_bytes' limit in spirit; see docs/seed003.md).
    seed003_max_line_bytes: int = 16 << 20
    seed003_max_download_bytes: int = 32 << 20  # largest package download_game sends (base64, one line)
    seed003_requests_per_ip: int = 600  # seed-003 requests per client address per window → RATE_LIMITED; 0 = off
    seed003_request_window_s: float = 60.0
    # A seed-003 session (one connection per request) counts as connected while it subscribes to a room or made a
    # request within this long; after that it is "disconnected" for rooms and presence, like a dropped connection.
    seed003_idle_timeout_s: float = 300.0
    seed003_sweep_interval_s: float = 1.0  # how often idle seed-003 sessions and relays of closed rooms are swept
    # The game address a seed-003 room hands out is a relay opened with the room: a client that connects before the
    # match runs waits this long for the game server before it is closed.
    seed003_relay_wait_s: float = 30.0
    seed003_relay_max_clients: int = 16  # connections one room's relay carries at once

    # --- peer-to-peer connections (docs/p2p.md) ---
    p2p_session_timeout_s: float = 20.0  # from P2P_REQUEST until the path is decided (direct or relayed) → failed
    p2p_requests_per_window: int = 10  # P2P_REQUESTs one player may send per window → 106 past it
    p2p_request_window_s: float = 60.0
    p2p_max_sessions_per_user: int = 4  # open P2P sessions (not yet ended) one player may be part of → 105
    p2p_max_sessions: int = 1_000  # open P2P sessions on the server → 105
    p2p_relay: bool = True  # fall back to relaying through the server when the direct path fails
    p2p_max_relays: int = 100  # relayed sessions at once on the server; past it a fallback ends as failed
    p2p_relay_pair_timeout_s: float = 10.0  # P2P_RELAY waits this long for the other side's relay connection → 105
    p2p_relay_bytes_per_s: int = 256 * 1024  # bandwidth cap of one relayed session, each direction
    p2p_relay_max_bytes: int = 64 << 20  # bytes one relayed session may carry in all; past it the relay ends (106)
    p2p_relay_idle_timeout_s: float = 300.0  # a relay that carried nothing for this long is closed
    p2p_signal_max_bytes: int = 16 * 1024  # one P2P_SIGNAL's data, encoded as JSON → 100 past it
    p2p_signals_per_window: int = 120  # P2P_SIGNALs one player may send per window → 106 past it
    p2p_signal_window_s: float = 10.0

    @property
    def advertised_host(self) -> str:
        if self.public_host:
            return self.public_host
        return dial_host(self.host)
