-- 0005: the register of destruction also records set-aside files (orphans).
-- Reconciliation moves a segment file it cannot read under orphans/; no segment row covers
-- it, yet it is footage and retention must destroy it on time and say so. Its register row has
-- no segment id (segment_id NULL) and the reason 'orphan'; its start is the instant in the
-- file's name and its end is unknown (equal to the start). SQLite cannot change a CHECK or a
-- NOT NULL in place: the table is rebuilt with the same rows, indexes and triggers (DROP TABLE
-- fires no trigger). For an orphan, time_utc is when the row was written, just before the delete;
-- a delete that fails is retried by the next pass without a second row.
CREATE TABLE purges_new (
    id INTEGER PRIMARY KEY,
    time_utc TEXT NOT NULL,              -- when the file and the index row were gone
    segment_id INTEGER,                  -- the segments.id it had; NULL for an orphan file
    camera_id TEXT NOT NULL REFERENCES cameras (id),
    stream TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    storage_key TEXT NOT NULL,
    sha256 TEXT,
    reason TEXT NOT NULL
        CHECK (reason IN ('retention', 'disk_pressure', 'disk_critical', 'missing_file',
                          'orphan')),
    detail TEXT NOT NULL,
    decided_at TEXT NOT NULL,            -- when the destruction was decided (the journal entry)
    context_id TEXT NOT NULL,
    context_user TEXT,
    context_automation TEXT,
    CHECK ((segment_id IS NULL) = (reason = 'orphan'))
);

INSERT INTO purges_new SELECT * FROM purges;
DROP TABLE purges;
ALTER TABLE purges_new RENAME TO purges;

CREATE INDEX purges_time ON purges (time_utc);
CREATE INDEX purges_camera_start ON purges (camera_id, start_ms);
CREATE UNIQUE INDEX purges_orphan_key ON purges (storage_key) WHERE reason = 'orphan';

CREATE TRIGGER purges_never_updated BEFORE UPDATE ON purges
BEGIN
    SELECT RAISE(ABORT, 'purges is append-only: the register of destruction is never changed');
END;

CREATE TRIGGER purges_never_deleted BEFORE DELETE ON purges
BEGIN
    SELECT RAISE(ABORT, 'purges is append-only: the register of destruction is never changed');
END;
