"""Every limit and timeout of the client side (library, ``playhub dev``/``play``, the player app), in one place.

The server's limits are ``playhub.settings.Settings``; these are the client's. ``CLIENT`` holds the defaults every
client module reads; a caller that needs other values passes them where the API takes them (``Client(max_frame=)``,
``PlayerApp(backoff_initial_s=)``, ``upload_file(window=)``). ``docs/settings.md`` ("Client") documents each field.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class ClientSettings:
    # --- connection ---
    # Largest frame accepted from a server: far above the server's own limit, so only a broken peer hits it.
    max_frame_bytes: int = 64 << 20
    read_size: int = 1 << 18  # bytes read from the socket at a time
    stream_buffer_bytes: int = 1 << 20  # asyncio stream buffer of a connection
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 30.0  # an answer that takes longer raises TimeoutError
    # PING interval, so the server does not close the connection as silent; an unanswered PING within the same
    # time closes it (0: never ping).
    heartbeat_s: float = 15.0
    logout_timeout_s: float = 3.0  # LOGOUT on the way out is best effort: never hold an exit up for long

    # --- uploads (playhub dev publish) ---
    upload_window: int = 8  # chunks in flight: enough to keep the server busy while the answers travel back
    upload_chunk_timeout_s: float = 120.0
    # The server verifies, inspects and unpacks the whole package before it answers UPLOAD_END.
    upload_end_timeout_s: float = 600.0
    upload_max_resyncs: int = 5  # times an upload re-asks the server where it stands after an out-of-order chunk
    upload_read_batch_bytes: int = 4 << 20  # file bytes read per worker-thread hop, then cut into chunks
    # After a drop during UPLOAD_END: new connections tried to ask whether the version landed, each this patient.
    upload_landed_probes: int = 5
    upload_landed_probe_timeout_s: float = 5.0
    publish_attempts: int = 3  # a scripted publish whose connection drops reconnects and resumes this many times

    # --- downloads ---
    # Flow control: stop reading the socket while this many chunks wait to be written, resume at the low mark.
    download_queue_high: int = 32
    download_queue_low: int = 8
    download_idle_timeout_s: float = 60.0  # no data for this long counts as a lost connection (resumable)

    # --- the player app's session ---
    reconnect_backoff_initial_s: float = 0.5  # first wait after a drop; doubles per attempt, with jitter
    reconnect_backoff_max_s: float = 10.0
    reconnect_connect_timeout_s: float = 5.0
    resume_timeout_s: float = 10.0  # WHOAMI with the old token after a reconnect
    lobby_poll_s: float = 15.0  # the lobby screen re-reads the room list this often (pushes do the rest)
    leave_match_timeout_s: float = 10.0
    # A window game whose client fails within this many seconds did not get going at all (no display, a missing
    # library): retrying will not help, so the player is told why and the seat is given back.
    game_quick_exit_s: float = 5.0


CLIENT = ClientSettings()
