-- 0001: the installation's identity, the inventory of cameras, and the event log.
-- Times are UTC, ISO-8601 with milliseconds and a trailing Z (fixed width, so text order
-- is time order and the indexes serve range queries).

CREATE TABLE installation (
    -- Exactly one row: the CHECK and UNIQUE on only_row forbid a second.
    only_row INTEGER NOT NULL DEFAULT 1 UNIQUE CHECK (only_row = 1),
    id TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- Every camera ever configured, kept after it leaves the configuration so old recordings,
-- events and audit lines still name it.
CREATE TABLE cameras (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    first_seen_utc TEXT NOT NULL,
    last_seen_utc TEXT NOT NULL
);

CREATE TABLE event_log (
    id INTEGER PRIMARY KEY,
    time_utc TEXT NOT NULL,
    event_type TEXT NOT NULL,
    camera_id TEXT REFERENCES cameras (id),
    data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
    context_id TEXT NOT NULL,
    context_user TEXT,
    context_automation TEXT
);

CREATE INDEX event_log_time ON event_log (time_utc);
CREATE INDEX event_log_camera_time ON event_log (camera_id, time_utc);
