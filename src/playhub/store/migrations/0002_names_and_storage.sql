-- marks: versions.unpacked_bytes
-- Disk each published version takes once unpacked, so a developer's storage quota is one query away.
ALTER TABLE versions ADD COLUMN unpacked_bytes INTEGER NOT NULL DEFAULT 0;

-- Names compare folded (NFKC + case folding, playhub.names.name_key, registered as the SQL function name_key):
-- 'Alice' and 'alice' are one name. Rows that already collide once folded keep a key that cannot be typed
-- (suffixed with a NUL and their id), so the oldest keeps the name and nothing is lost.
ALTER TABLE accounts ADD COLUMN name_key TEXT;
UPDATE accounts SET name_key = name_key(username);
UPDATE accounts SET name_key = name_key || char(0) || id
 WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.role = accounts.role AND a.name_key = accounts.name_key
                                        AND a.id < accounts.id);
CREATE UNIQUE INDEX accounts_name_key ON accounts (role, name_key);

ALTER TABLE games ADD COLUMN name_key TEXT;
UPDATE games SET name_key = name_key(name);
UPDATE games SET name_key = name_key || char(0) || id
 WHERE EXISTS (SELECT 1 FROM games g WHERE g.name_key = games.name_key AND g.rowid < games.rowid);
CREATE UNIQUE INDEX games_name_key ON games (name_key);

-- Rows inserted without a key (tools, older code paths) get one, so no row escapes the folded uniqueness.
CREATE TRIGGER accounts_name_key_fill AFTER INSERT ON accounts WHEN NEW.name_key IS NULL
BEGIN
    UPDATE accounts SET name_key = name_key(NEW.username) WHERE id = NEW.id;
END;
CREATE TRIGGER games_name_key_fill AFTER INSERT ON games WHEN NEW.name_key IS NULL
BEGIN
    UPDATE games SET name_key = name_key(NEW.name) WHERE id = NEW.id;
END;
