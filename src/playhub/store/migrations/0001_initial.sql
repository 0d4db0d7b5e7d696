-- Accounts: developers and players are separate namespaces.
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    role          TEXT    NOT NULL CHECK (role IN ('developer', 'player')),
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    REAL    NOT NULL,
    UNIQUE (role, username)
);

-- Games: one row per title; latest_version is denormalised for the listing.
CREATE TABLE games (
    id             TEXT    PRIMARY KEY,
    developer_id   INTEGER NOT NULL REFERENCES accounts (id),
    name           TEXT    NOT NULL UNIQUE,
    display_name   TEXT    NOT NULL,
    description    TEXT    NOT NULL,
    game_type      TEXT    NOT NULL,
    max_players    INTEGER NOT NULL,
    min_players    INTEGER,
    status         TEXT    NOT NULL DEFAULT 'ONLINE' CHECK (status IN ('ONLINE', 'OFFLINE')),
    latest_version TEXT,
    created_at     REAL    NOT NULL,
    updated_at     REAL    NOT NULL
);
CREATE INDEX games_developer ON games (developer_id);

-- Published versions: a row exists only once its files are in place (atomic publish).
CREATE TABLE versions (
    game_id     TEXT    NOT NULL REFERENCES games (id),
    version     TEXT    NOT NULL,
    major       INTEGER NOT NULL,
    minor       INTEGER NOT NULL,
    patch       INTEGER NOT NULL,
    size_bytes  INTEGER NOT NULL,
    checksum    TEXT    NOT NULL,
    manifest    TEXT    NOT NULL,
    uploaded_at REAL    NOT NULL,
    PRIMARY KEY (game_id, version)
);

-- Uploads in progress: survive restarts so an interrupted upload can resume.
CREATE TABLE uploads (
    id             TEXT    PRIMARY KEY,
    game_id        TEXT    NOT NULL REFERENCES games (id),
    version        TEXT    NOT NULL,
    developer_id   INTEGER NOT NULL REFERENCES accounts (id),
    size_bytes     INTEGER NOT NULL,
    checksum       TEXT,
    next_seq       INTEGER NOT NULL DEFAULT 0,
    received_bytes INTEGER NOT NULL DEFAULT 0,
    created_at     REAL    NOT NULL,
    updated_at     REAL    NOT NULL,
    UNIQUE (game_id, version)
);

-- Reviews: one per player per game (a second replaces the first).
CREATE TABLE reviews (
    game_id    TEXT    NOT NULL REFERENCES games (id),
    player_id  INTEGER NOT NULL REFERENCES accounts (id),
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment    TEXT    NOT NULL,
    created_at REAL    NOT NULL,
    PRIMARY KEY (game_id, player_id)
);

-- Who took part in a started game: unlocks reviews.
CREATE TABLE plays (
    game_id    TEXT    NOT NULL REFERENCES games (id),
    player_id  INTEGER NOT NULL REFERENCES accounts (id),
    room_id    TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    started_at REAL    NOT NULL,
    result     TEXT,
    PRIMARY KEY (game_id, player_id, room_id)
);
CREATE INDEX plays_player ON plays (player_id);
