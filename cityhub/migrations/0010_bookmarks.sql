-- 0010: bookmarks: an agent marks an instant or a range of a camera's footage with a name,
-- a note and tags, from live or playback. A bookmark is removed by marking it so (who, when);
-- nothing else about it ever changes, and the row stays for the statistics and the audit.
CREATE TABLE bookmarks (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    author TEXT NOT NULL,                -- user:NAME
    camera_id TEXT NOT NULL REFERENCES cameras (id),
    zone TEXT NOT NULL,
    start_utc TEXT NOT NULL,
    end_utc TEXT NOT NULL CHECK (end_utc >= start_utc),
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    note TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    removed_at TEXT,
    removed_by TEXT
);

CREATE INDEX bookmarks_camera_time ON bookmarks (camera_id, start_utc);
CREATE INDEX bookmarks_created ON bookmarks (created_at);

CREATE TRIGGER bookmarks_only_removed BEFORE UPDATE ON bookmarks
WHEN OLD.removed_at IS NOT NULL
    OR NEW.removed_at IS NULL
    OR NEW.id IS NOT OLD.id OR NEW.created_at IS NOT OLD.created_at
    OR NEW.author IS NOT OLD.author OR NEW.camera_id IS NOT OLD.camera_id
    OR NEW.zone IS NOT OLD.zone OR NEW.start_utc IS NOT OLD.start_utc
    OR NEW.end_utc IS NOT OLD.end_utc OR NEW.name IS NOT OLD.name
    OR NEW.note IS NOT OLD.note OR NEW.tags IS NOT OLD.tags
BEGIN
    SELECT RAISE(ABORT, 'a bookmark is only ever marked removed, once');
END;

CREATE TRIGGER bookmarks_never_deleted BEFORE DELETE ON bookmarks
BEGIN
    SELECT RAISE(ABORT, 'bookmarks are never deleted: mark them removed');
END;
