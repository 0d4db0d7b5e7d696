-- marks: accounts.disabled
-- Roles are named sets of permission keys. The system roles (player, moderator, admin) cannot be deleted; admin holds
-- every permission whatever its rows say (services/admin.py), so no edit can lock the last administrator out.
CREATE TABLE IF NOT EXISTS roles (
    name       TEXT    PRIMARY KEY,
    is_system  INTEGER NOT NULL DEFAULT 0,
    created_at REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS role_permissions (
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);
INSERT OR IGNORE INTO roles (name, is_system, created_at) VALUES ('player', 1, 0), ('moderator', 1, 0), ('admin', 1, 0);
INSERT OR IGNORE INTO role_permissions (role, permission) VALUES
    ('player', 'chat.send'), ('player', 'rooms.create'), ('player', 'store.review'),
    ('moderator', 'chat.send'), ('moderator', 'rooms.create'), ('moderator', 'store.review'),
    ('moderator', 'chat.moderate'), ('moderator', 'games.moderate'), ('moderator', 'users.moderate'),
    ('moderator', 'audit.read');

-- Each account has one role (default player) and may be disabled (banned) with a reason.
ALTER TABLE accounts ADD COLUMN user_role TEXT NOT NULL DEFAULT 'player';
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN disabled_reason TEXT;
CREATE INDEX IF NOT EXISTS accounts_user_role ON accounts (user_role);

-- Every administrative action: who, what, on whom, when.
CREATE TABLE IF NOT EXISTS audit_log (
    id     INTEGER PRIMARY KEY,
    at     REAL    NOT NULL,
    actor  TEXT    NOT NULL,  -- the acting player's name, or "console:<os user>" for `playhub admin`
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT ''
);

-- Changes made by `playhub admin` while a server may be running: the server polls this journal and applies each one
-- (closes a banned account's sessions, pushes a new role) within admin_poll_interval_s.
CREATE TABLE IF NOT EXISTS admin_changes (
    id INTEGER PRIMARY KEY,
    at REAL    NOT NULL
);
