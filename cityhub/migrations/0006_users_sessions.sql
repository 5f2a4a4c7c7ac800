-- 0006: named accounts, their habilitation and scope, and server-side sessions.
-- Times of record-keeping are UTC ISO-8601 text with milliseconds and a trailing Z; dates of
-- habilitation are ISO-8601 dates (YYYY-MM-DD, the date on the order that designates the agent).

-- One row per named person. An account is never deleted, only disabled, so the audit trail
-- and the registers keep naming who did what.
CREATE TABLE users (
    name TEXT NOT NULL PRIMARY KEY
        CHECK (name GLOB '[a-z]*' AND name NOT GLOB '*[^a-z0-9._-]*' AND length(name) <= 64),
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator', 'viewer')),
    zones TEXT NOT NULL DEFAULT '["*"]' CHECK (json_valid(zones)),  -- zone ids; "*" = all
    password_hash TEXT NOT NULL,                 -- argon2id, PHC string
    must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    totp_secret TEXT,                            -- base32; NULL: no second factor
    habilitation_reference TEXT,                 -- the order designating the agent
    habilitation_date TEXT,
    habilitation_expires TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    disabled_at TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,                    -- user:NAME or system
    updated_at TEXT NOT NULL,
    last_login_at TEXT,
    CHECK ((habilitation_reference IS NULL) = (habilitation_expires IS NULL))
);

-- A session is known by the SHA-256 of its token: the database never holds a usable token.
CREATE TABLE sessions (
    token_hash TEXT NOT NULL PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,                    -- absolute end, whatever the activity
    client_address TEXT,
    user_agent TEXT,
    ended_at TEXT,
    end_reason TEXT
);

CREATE INDEX sessions_user ON sessions (user_name);
