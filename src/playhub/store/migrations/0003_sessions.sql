-- Login sessions survive a restart. Only the SHA-256 of each token is stored: a copy of the database does not hand
-- out live tokens, and checking a presented token needs one hash, not argon2.
CREATE TABLE sessions (
    token_sha256 BLOB    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    role         TEXT    NOT NULL CHECK (role IN ('developer', 'player')),
    created_at   REAL    NOT NULL,
    expires_at   REAL    NOT NULL,  -- sliding: pushed forward when the token is used
    replaced_at  REAL               -- a newer login of the same account replaced it: the token answers 105
);
CREATE INDEX sessions_account ON sessions (account_id, role);
CREATE INDEX sessions_expiry ON sessions (expires_at);
