-- 0003: legal holds, the register of destruction (purges) and the purge journal.
-- Instants of footage are integer UTC milliseconds, as in segments; times of record-keeping
-- are UTC ISO-8601 text with milliseconds and a trailing Z, as in event_log.

-- A legal hold (requisition, investigation, operator's freeze) exempts every segment of its
-- cameras that overlaps [start_ms, end_ms] from purge until it is released. A hold row is
-- its own log: who created it, when and why; who released it, when and why. Holds are never
-- deleted, and a release is written once.
CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL CHECK (length(trim(reference)) > 0),  -- case / requisition number
    reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,            -- user:NAME, automation:ID or system
    context_id TEXT NOT NULL,
    released_at TEXT,
    released_by TEXT,
    release_reason TEXT,
    release_context_id TEXT,
    CHECK (end_ms > start_ms),
    CHECK (
        (released_at IS NULL AND released_by IS NULL AND release_reason IS NULL
            AND release_context_id IS NULL)
        OR (released_at IS NOT NULL AND released_by IS NOT NULL
            AND release_reason IS NOT NULL AND length(trim(release_reason)) > 0
            AND release_context_id IS NOT NULL)
    )
);

CREATE TABLE hold_cameras (
    hold_id INTEGER NOT NULL REFERENCES holds (id),
    camera_id TEXT NOT NULL REFERENCES cameras (id),
    PRIMARY KEY (hold_id, camera_id)
);

CREATE INDEX hold_cameras_camera ON hold_cameras (camera_id);

CREATE TRIGGER holds_never_deleted BEFORE DELETE ON holds
BEGIN
    SELECT RAISE(ABORT, 'holds are never deleted: release the hold instead');
END;

CREATE TRIGGER holds_released_once BEFORE UPDATE ON holds
WHEN OLD.released_at IS NOT NULL
    OR NEW.id IS NOT OLD.id
    OR NEW.reference IS NOT OLD.reference
    OR NEW.reason IS NOT OLD.reason
    OR NEW.start_ms IS NOT OLD.start_ms
    OR NEW.end_ms IS NOT OLD.end_ms
    OR NEW.created_at IS NOT OLD.created_at
    OR NEW.created_by IS NOT OLD.created_by
    OR NEW.context_id IS NOT OLD.context_id
BEGIN
    SELECT RAISE(ABORT, 'a hold is only ever changed once, by its release');
END;

CREATE TRIGGER hold_cameras_never_changed BEFORE UPDATE ON hold_cameras
BEGIN
    SELECT RAISE(ABORT, 'the cameras of a hold never change: create another hold');
END;

CREATE TRIGGER hold_cameras_never_deleted BEFORE DELETE ON hold_cameras
BEGIN
    SELECT RAISE(ABORT, 'the cameras of a hold never change: create another hold');
END;

-- The register of destruction: one row per segment destroyed, written in the same
-- transaction that deletes the segment's index row. Append-only.
CREATE TABLE purges (
    id INTEGER PRIMARY KEY,
    time_utc TEXT NOT NULL,              -- when the file and the index row were gone
    segment_id INTEGER NOT NULL,         -- the segments.id it had (ids may be reused later)
    camera_id TEXT NOT NULL REFERENCES cameras (id),
    stream TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    storage_key TEXT NOT NULL,
    sha256 TEXT,
    reason TEXT NOT NULL
        CHECK (reason IN ('retention', 'disk_pressure', 'disk_critical', 'missing_file')),
    detail TEXT NOT NULL,
    decided_at TEXT NOT NULL,            -- when the destruction was decided (the journal entry)
    context_id TEXT NOT NULL,
    context_user TEXT,
    context_automation TEXT
);

CREATE INDEX purges_time ON purges (time_utc);
CREATE INDEX purges_camera_start ON purges (camera_id, start_ms);

CREATE TRIGGER purges_never_updated BEFORE UPDATE ON purges
BEGIN
    SELECT RAISE(ABORT, 'purges is append-only: the register of destruction is never changed');
END;

CREATE TRIGGER purges_never_deleted BEFORE DELETE ON purges
BEGIN
    SELECT RAISE(ABORT, 'purges is append-only: the register of destruction is never changed');
END;

-- The purge journal: a destruction decided but not yet finished. Written (and committed)
-- before the file is touched; removed in the transaction that writes the register row and
-- deletes the segment row. After a crash, the next purge pass finishes what it finds here.
CREATE TABLE purge_intents (
    segment_id INTEGER NOT NULL PRIMARY KEY REFERENCES segments (id) ON DELETE CASCADE,
    reason TEXT NOT NULL
        CHECK (reason IN ('retention', 'disk_pressure', 'disk_critical', 'missing_file')),
    detail TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    context_id TEXT NOT NULL,
    context_user TEXT,
    context_automation TEXT
);
