-- 0007: the audit log. One row per audited action (who did what, on which camera, over which
-- footage, why, from where), append-only and hash-chained: each row's hash is the SHA-256 of
-- its canonical serialisation, which includes the previous row's hash, so changing, removing
-- or inserting a row breaks the chain from there on (`cityhub audit verify` finds where).
-- Record-keeping times are UTC ISO-8601 text with milliseconds and a trailing Z; footage
-- ranges are integer UTC milliseconds, as in segments. camera_id names no foreign key: the
-- log keeps what was asked, even about a camera the hub never knew.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,             -- 1, 2, 3... without gaps
    time_utc TEXT NOT NULL,
    actor TEXT NOT NULL,                 -- user:NAME, automation:ID or system
    context_id TEXT NOT NULL,
    action TEXT NOT NULL,                -- ptz.move, recording.export...
    camera_id TEXT,
    start_ms INTEGER,                    -- the footage concerned (playback, export), if any
    end_ms INTEGER,
    details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    reason TEXT,
    client TEXT,                         -- the client's address, for calls from the web
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_log_time ON audit_log (time_utc);
CREATE INDEX audit_log_camera_time ON audit_log (camera_id, time_utc);
CREATE INDEX audit_log_actor_time ON audit_log (actor, time_utc);

CREATE TRIGGER audit_log_never_updated BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: audit entries are never changed');
END;

CREATE TRIGGER audit_log_never_deleted BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: audit entries are never deleted');
END;
