-- Chat (issue 13): channels, members with their read markers, invitations, messages, files, nicknames, mutes.
-- Users are keyed by their folded name (playhub.names.name_key), so a registered player and a guest of another
-- door are members the same way. Guests are ephemeral: their rows go when they leave the chat (and at start).

CREATE TABLE chat_channels (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL CHECK (kind IN ('general', 'public', 'private', 'room', 'direct')),
    owner      TEXT,               -- username of the creator (public and private channels)
    created_at REAL    NOT NULL
);

CREATE TABLE chat_members (
    channel_id   INTEGER NOT NULL REFERENCES chat_channels (id) ON DELETE CASCADE,
    user_key     TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    guest        INTEGER NOT NULL DEFAULT 0,
    joined_at    REAL    NOT NULL,
    last_read_id INTEGER NOT NULL DEFAULT 0,  -- unread = messages of others with a larger id
    PRIMARY KEY (channel_id, user_key)
);
CREATE INDEX chat_members_user ON chat_members (user_key);

CREATE TABLE chat_invites (
    channel_id INTEGER NOT NULL REFERENCES chat_channels (id) ON DELETE CASCADE,
    user_key   TEXT    NOT NULL,
    invited_by TEXT    NOT NULL,
    created_at REAL    NOT NULL,
    PRIMARY KEY (channel_id, user_key)
);

-- AUTOINCREMENT: ids never come back after retention removed the newest rows, so a cursor stays meaningful.
CREATE TABLE chat_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL REFERENCES chat_channels (id) ON DELETE CASCADE,
    sender_key TEXT    NOT NULL,      -- '' for system messages
    sender     TEXT    NOT NULL,
    nickname   TEXT,
    text       TEXT    NOT NULL,
    sent_at    REAL    NOT NULL,
    system     INTEGER NOT NULL DEFAULT 0,
    file_id    INTEGER
);
CREATE INDEX chat_messages_channel ON chat_messages (channel_id, id);
CREATE INDEX chat_messages_time ON chat_messages (sent_at);

-- A file shared in a channel; its bytes in pieces of piece_size, kept as long as its message is.
CREATE TABLE chat_files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id   INTEGER NOT NULL REFERENCES chat_channels (id) ON DELETE CASCADE,
    uploader_key TEXT    NOT NULL,
    uploader     TEXT    NOT NULL,
    filename     TEXT    NOT NULL,
    size_bytes   INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    piece_size   INTEGER NOT NULL,
    created_at   REAL    NOT NULL,
    message_id   INTEGER
);
CREATE INDEX chat_files_channel ON chat_files (channel_id);
CREATE INDEX chat_files_uploader ON chat_files (uploader_key);

CREATE TABLE chat_file_pieces (
    file_id INTEGER NOT NULL REFERENCES chat_files (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (file_id, seq)
);

CREATE TABLE chat_nicknames (
    user_key TEXT PRIMARY KEY,
    nickname TEXT NOT NULL,
    nick_key TEXT NOT NULL UNIQUE,
    guest    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE chat_mutes (
    channel_id INTEGER NOT NULL REFERENCES chat_channels (id) ON DELETE CASCADE,
    user_key   TEXT    NOT NULL,
    until      REAL,                  -- NULL: until lifted
    PRIMARY KEY (channel_id, user_key)
);
