-- 0002: the recording index. One row per segment file written by the recorder.
-- Instants are integer milliseconds since the POSIX epoch, UTC (start_ms, end_ms), so that
-- durations, gaps and range queries are plain integer arithmetic. A gap is any interval
-- between one segment's end_ms and the next one's start_ms (same camera and stream) longer
-- than the frame interval; gaps are derived, never stored.

CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    camera_id TEXT NOT NULL REFERENCES cameras (id),
    stream TEXT NOT NULL,                -- the profile recorded: main, sub...
    start_ms INTEGER NOT NULL,           -- capture time of the first frame (a keyframe)
    end_ms INTEGER NOT NULL,             -- end of the last complete frame; = start_ms while open
    bytes INTEGER NOT NULL DEFAULT 0,
    codec TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    fps REAL NOT NULL DEFAULT 0,
    storage_key TEXT NOT NULL UNIQUE,    -- where the storage backend keeps the file
    sha256 TEXT,                         -- of the whole file once closed; NULL while open
    state TEXT NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'complete', 'repaired')),
    trigger TEXT NOT NULL DEFAULT 'continuous'
        CHECK (trigger IN ('continuous', 'event')),
    CHECK (end_ms >= start_ms)
);

CREATE INDEX segments_camera_stream_start ON segments (camera_id, stream, start_ms);
CREATE INDEX segments_start ON segments (start_ms);
