-- 0009: saved wall layouts: a user's own, or shared with everyone (owner NULL).
-- The layout itself (grid, tiles, cameras, sequences) is the panel's JSON; the hub checks it
-- is JSON and small, and that its cameras exist, and never shows a camera out of scope.
CREATE TABLE layouts (
    id INTEGER PRIMARY KEY,
    owner TEXT REFERENCES users (name),
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    data TEXT NOT NULL CHECK (json_valid(data)),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE UNIQUE INDEX layouts_owner_name ON layouts (coalesce(owner, ''), name);
