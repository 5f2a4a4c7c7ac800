-- 0004: the register of exports. One row per evidence package asked for, written when the
-- export starts (state 'running') and completed with its folder and the SHA-256 of its signed
-- manifest, or marked 'failed' with the reason. Rows are never deleted: the register is what
-- the CSU shows when asked who exported which footage, when and on what legal basis.
-- Record-keeping times are UTC ISO-8601 text with milliseconds and a trailing Z; the range
-- exported is integer UTC milliseconds, as in segments.
CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    requested_by TEXT NOT NULL,          -- user:NAME, automation:ID or system
    context_id TEXT NOT NULL,
    reference TEXT NOT NULL CHECK (length(trim(reference)) > 0),  -- requisition number
    legal_basis TEXT NOT NULL,
    reason TEXT NOT NULL,
    cameras TEXT NOT NULL CHECK (json_valid(cameras)),  -- JSON array of camera ids
    stream TEXT NOT NULL,
    start_ms INTEGER NOT NULL,           -- the range asked for
    end_ms INTEGER NOT NULL,
    hold_id INTEGER,                     -- holds.id of the legal hold on the range, once placed
    path TEXT,                           -- the package folder, once written
    manifest_sha256 TEXT,
    state TEXT NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'complete', 'failed')),
    error TEXT,
    finished_at TEXT,
    CHECK (end_ms > start_ms)
);

CREATE INDEX exports_created_at ON exports (created_at);
CREATE INDEX exports_reference ON exports (reference);
