-- 0008: the logbook (main courante): acknowledgements of events and operators' notes.
-- Both are records of what agents did: append-only, like the registers. A note is corrected
-- by a later note that names it (corrects), never by changing it; an event is acknowledged
-- once.

CREATE TABLE event_acks (
    event_id INTEGER NOT NULL PRIMARY KEY REFERENCES event_log (id),
    acked_at TEXT NOT NULL,
    acked_by TEXT NOT NULL,              -- user:NAME
    comment TEXT NOT NULL,
    false_alarm INTEGER NOT NULL DEFAULT 0 CHECK (false_alarm IN (0, 1))
);

CREATE TABLE logbook_notes (
    id INTEGER PRIMARY KEY,
    time_utc TEXT NOT NULL,
    author TEXT NOT NULL,                -- user:NAME
    camera_id TEXT REFERENCES cameras (id),
    zone TEXT,
    event_id INTEGER REFERENCES event_log (id),
    corrects INTEGER REFERENCES logbook_notes (id),
    text TEXT NOT NULL CHECK (length(trim(text)) > 0)
);

CREATE INDEX logbook_notes_time ON logbook_notes (time_utc);
CREATE INDEX event_log_type_time ON event_log (event_type, time_utc);

CREATE TRIGGER event_acks_never_changed BEFORE UPDATE ON event_acks
BEGIN
    SELECT RAISE(ABORT, 'event_acks is append-only: an acknowledgement is never changed');
END;

CREATE TRIGGER event_acks_never_deleted BEFORE DELETE ON event_acks
BEGIN
    SELECT RAISE(ABORT, 'event_acks is append-only: an acknowledgement is never removed');
END;

CREATE TRIGGER logbook_notes_never_changed BEFORE UPDATE ON logbook_notes
BEGIN
    SELECT RAISE(ABORT, 'logbook_notes is append-only: correct a note with a new one');
END;

CREATE TRIGGER logbook_notes_never_deleted BEFORE DELETE ON logbook_notes
BEGIN
    SELECT RAISE(ABORT, 'logbook_notes is append-only: correct a note with a new one');
END;
