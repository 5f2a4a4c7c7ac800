"""The logbook (*main courante*): the events operators must see, their acknowledgements, notes.

Every bus event is already in ``event_log`` (one writer, in the hub). The logbook is a view of
the ones that matter to a control room (:func:`is_logbook_event`: camera events such as
motion, tampering, inputs, offline, clock drift, and storage alarms), in the user's zones,
plus what agents add: an acknowledgement per event (with a comment, possibly "false alarm")
and free notes, optionally tied to a camera or an event. Both are append-only; a note is
corrected by a later note. Additions fire ``logbook.acknowledged`` / ``logbook.note_added``
with the agent's Context, for the audit trail. New logbook events are pushed to listeners
(the panel's live list) once written, with their id, so they can be acknowledged at once.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Final

import attrs

from cityhub.api import Context
from cityhub.bus import EventBus
from cityhub.db import Database, format_utc, parse_utc

__all__ = [
    "EVENT_ACKNOWLEDGED",
    "EVENT_NOTE_ADDED",
    "INFORMATION_ONLY",
    "Logbook",
    "LogbookEntry",
    "LogbookError",
    "Note",
    "ZoneStatistics",
    "is_logbook_event",
    "needs_acknowledgement",
]

EVENT_ACKNOWLEDGED: Final = "logbook.acknowledged"
EVENT_NOTE_ADDED: Final = "logbook.note_added"
MAX_ENTRIES: Final = 500
"""Most entries one query returns; page with ``before_id``."""
_NOT_LOGGED: Final = frozenset({"camera.state_changed"})
"""Camera events too frequent or too internal for the logbook (states live in Health)."""


INFORMATION_ONLY: Final = frozenset({"camera.online", "storage.ok"})
"""Logbook events that end an alarm rather than raise one: listed, never waiting for an
acknowledgement (nor counted in the alarm badge)."""


def needs_acknowledgement(event_type: str) -> bool:
    """Whether an event of this type waits for an agent's acknowledgement."""
    return is_logbook_event(event_type) and event_type not in INFORMATION_ONLY


def is_logbook_event(event_type: str) -> bool:
    """Whether events of this type appear in the logbook."""
    if event_type in _NOT_LOGGED:
        return False
    return event_type.startswith(("camera.", "storage.", "alarm."))


class LogbookError(Exception):
    """A logbook request cannot be honoured; the message says why."""


@attrs.frozen
class LogbookEntry:
    """An event of the logbook and its acknowledgement, if any."""

    id: int
    time: datetime
    event_type: str
    camera_id: str | None
    data: dict[str, Any]
    acked_at: datetime | None = None
    acked_by: str | None = None
    comment: str | None = None
    false_alarm: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering (API, live list)."""
        return {
            "id": self.id,
            "time": format_utc(self.time),
            "event_type": self.event_type,
            "camera_id": self.camera_id,
            "data": self.data,
            "needs_acknowledgement": needs_acknowledgement(self.event_type),
            "acknowledged": None
            if self.acked_at is None
            else {
                "at": format_utc(self.acked_at),
                "by": self.acked_by,
                "comment": self.comment,
                "false_alarm": self.false_alarm,
            },
        }


@attrs.frozen
class Note:
    """An operator's note in the logbook."""

    id: int
    time: datetime
    author: str
    text: str
    camera_id: str | None = None
    zone: str | None = None
    event_id: int | None = None
    corrects: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering."""
        return {**attrs.asdict(self), "time": format_utc(self.time)}


@attrs.define
class ZoneStatistics:
    """What the logbook holds for one zone (None: the whole installation) over a range."""

    zone: str | None
    events: dict[str, int] = attrs.Factory(dict)
    acknowledged: int = 0
    false_alarms: int = 0
    waiting: int = 0
    ack_seconds: float = 0.0
    notes: int = 0
    bookmarks: int = 0

    @property
    def mean_ack_seconds(self) -> float | None:
        """Mean time from an event to its acknowledgement (None: nothing acknowledged)."""
        return round(self.ack_seconds / self.acknowledged, 1) if self.acknowledged else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering."""
        return {
            "zone": self.zone,
            "events": dict(sorted(self.events.items())),
            "total_events": sum(self.events.values()),
            "acknowledged": self.acknowledged,
            "false_alarms": self.false_alarms,
            "waiting": self.waiting,
            "mean_ack_seconds": self.mean_ack_seconds,
            "notes": self.notes,
            "bookmarks": self.bookmarks,
        }


def _entry(row: sqlite3.Row) -> LogbookEntry:
    return LogbookEntry(
        id=int(row["id"]),
        time=parse_utc(row["time_utc"]),
        event_type=row["event_type"],
        camera_id=row["camera_id"],
        data=json.loads(row["data"]),
        acked_at=None if row["acked_at"] is None else parse_utc(row["acked_at"]),
        acked_by=row["acked_by"],
        comment=row["comment"],
        false_alarm=bool(row["false_alarm"]),
    )


def _note(row: sqlite3.Row) -> Note:
    return Note(
        id=int(row["id"]),
        time=parse_utc(row["time_utc"]),
        author=row["author"],
        text=row["text"],
        camera_id=row["camera_id"],
        zone=row["zone"],
        event_id=row["event_id"],
        corrects=row["corrects"],
    )


class Logbook:
    """Reads the logbook's events, writes acknowledgements and notes; runs in the loop."""

    def __init__(self, db: Database, bus: EventBus, camera_zones: dict[str, str]) -> None:
        self._db = db
        self._bus = bus
        self.camera_zones = camera_zones
        self._listeners: list[Callable[[LogbookEntry], None]] = []

    # --- the live list -----------------------------------------------------------------------

    def listen(self, listener: Callable[[LogbookEntry], None]) -> Callable[[], None]:
        """Call ``listener`` with each new logbook entry once written; returns the remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def written(self, event_id: int, time: datetime, event_type: str, camera_id: str | None,
                data: dict[str, Any]) -> None:  # fmt: skip
        """Told by the event-log writer that an event got its row: pushed if it is ours."""
        if not is_logbook_event(event_type) or not self._listeners:
            return
        entry = LogbookEntry(event_id, time, event_type, camera_id, data)
        for listener in list(self._listeners):
            listener(entry)

    def in_scope(self, camera_id: str | None, zones: Collection[str] | None) -> bool:
        """Whether an entry of ``camera_id`` is visible with ``zones`` (None: every zone)."""
        if zones is None or camera_id is None:
            return True
        return self.camera_zones.get(camera_id) in zones

    # --- reading -------------------------------------------------------------------------------

    async def entries(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        cameras: Collection[str] | None = None,
        zones: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
        unacknowledged: bool = False,
        before_id: int | None = None,
        limit: int = MAX_ENTRIES,
    ) -> list[LogbookEntry]:
        """Logbook events, newest first, matching every filter given.

        ``zones`` limits them to cameras of those zones (events without a camera, such as
        storage alarms, are always included); ``cameras`` to those cameras.
        """
        where = ["(e.event_type LIKE 'camera.%' OR e.event_type LIKE 'storage.%'"
                 " OR e.event_type LIKE 'alarm.%')",
                 "e.event_type NOT IN (SELECT value FROM json_each(:skip))"]  # fmt: skip
        params: dict[str, Any] = {"skip": json.dumps(sorted(_NOT_LOGGED))}
        if start is not None:
            where.append("e.time_utc >= :start")
            params["start"] = format_utc(start)
        if end is not None:
            where.append("e.time_utc < :end")
            params["end"] = format_utc(end)
        if cameras is not None:
            where.append("e.camera_id IN (SELECT value FROM json_each(:cameras))")
            params["cameras"] = json.dumps(sorted(cameras))
        if zones is not None:
            allowed = sorted(c for c, z in self.camera_zones.items() if z in zones)
            where.append(
                "(e.camera_id IS NULL OR e.camera_id IN (SELECT value FROM json_each(:zc)))"
            )
            params["zc"] = json.dumps(allowed)
        if event_types is not None:
            where.append("e.event_type IN (SELECT value FROM json_each(:types))")
            params["types"] = json.dumps(sorted(event_types))
        if unacknowledged:
            where.append("a.event_id IS NULL")
            where.append("e.event_type NOT IN (SELECT value FROM json_each(:info))")
            params["info"] = json.dumps(sorted(INFORMATION_ONLY))
        if before_id is not None:
            where.append("e.id < :before")
            params["before"] = before_id
        params["limit"] = max(1, min(limit, MAX_ENTRIES))
        sql = (  # the conditions are constants; every value is a parameter
            "SELECT e.id, e.time_utc, e.event_type, e.camera_id, e.data, a.acked_at, a.acked_by,"  # noqa: S608
            " a.comment, a.false_alarm FROM event_log e LEFT JOIN event_acks a"
            " ON a.event_id = e.id WHERE "
            + " AND ".join(where)
            + " ORDER BY e.id DESC LIMIT :limit"
        )
        rows = await self._db.fetchall(sql, params)
        return [_entry(row) for row in rows]

    async def waiting(self, zones: Collection[str] | None = None) -> int:
        """How many logbook events in ``zones`` wait for an acknowledgement (the alarm badge)."""
        params: dict[str, Any] = {
            "skip": json.dumps(sorted(_NOT_LOGGED | INFORMATION_ONLY)),
            "all": zones is None,
            "zc": json.dumps(
                sorted(c for c, z in self.camera_zones.items() if zones is None or z in zones)
            ),
        }
        row = await self._db.fetchone(
            "SELECT count(*) AS n FROM event_log e LEFT JOIN event_acks a ON a.event_id = e.id"
            " WHERE a.event_id IS NULL AND (e.event_type LIKE 'camera.%'"
            " OR e.event_type LIKE 'storage.%' OR e.event_type LIKE 'alarm.%')"
            " AND e.event_type NOT IN (SELECT value FROM json_each(:skip))"
            " AND (:all OR e.camera_id IS NULL"
            " OR e.camera_id IN (SELECT value FROM json_each(:zc)))",
            params,
        )
        return int(row["n"]) if row is not None else 0

    async def entry(self, event_id: int) -> LogbookEntry:
        """One logbook event by id; raises :class:`LogbookError` if there is none."""
        row = await self._db.fetchone(
            "SELECT e.id, e.time_utc, e.event_type, e.camera_id, e.data, a.acked_at, a.acked_by,"
            " a.comment, a.false_alarm FROM event_log e LEFT JOIN event_acks a"
            " ON a.event_id = e.id WHERE e.id = ?",
            (event_id,),
        )
        if row is None or not is_logbook_event(row["event_type"]):
            raise LogbookError(f"no logbook event {event_id}")
        return _entry(row)

    async def notes(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        zones: Collection[str] | None = None,
        limit: int = MAX_ENTRIES,
    ) -> list[Note]:
        """Notes, newest first; with ``zones``, those of other zones' cameras are left out."""
        rows = await self._db.fetchall(
            "SELECT * FROM logbook_notes WHERE (:start IS NULL OR time_utc >= :start)"
            " AND (:end IS NULL OR time_utc < :end) ORDER BY id DESC LIMIT :limit",
            {
                "start": None if start is None else format_utc(start),
                "end": None if end is None else format_utc(end),
                "limit": max(1, min(limit, MAX_ENTRIES)),
            },
        )
        notes = [_note(row) for row in rows]
        if zones is None:
            return notes
        return [
            n
            for n in notes
            if (n.zone is None or n.zone in zones) and self.in_scope(n.camera_id, zones)
        ]

    # --- writing -------------------------------------------------------------------------------

    async def acknowledge(
        self, event_id: int, comment: str, context: Context, *, false_alarm: bool = False
    ) -> LogbookEntry:
        """Acknowledge an event once, with a comment; fires ``logbook.acknowledged``."""
        entry = await self.entry(event_id)
        if entry.acked_at is not None:
            raise LogbookError(
                f"event {event_id} was already acknowledged by {entry.acked_by} at "
                f"{format_utc(entry.acked_at)}"
            )
        if not comment.strip():
            raise LogbookError("an acknowledgement needs a comment (what was seen or done)")
        now = datetime.now().astimezone()
        await self._db.execute(
            "INSERT INTO event_acks (event_id, acked_at, acked_by, comment, false_alarm)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, format_utc(now), context.origin, comment.strip(), int(false_alarm)),
        )
        self._bus.async_fire(
            EVENT_ACKNOWLEDGED,
            {"event_id": event_id, "event_type": entry.event_type, "camera_id": entry.camera_id,
             "comment": comment.strip(), "false_alarm": false_alarm},
            context,
        )  # fmt: skip
        return await self.entry(event_id)

    async def add_note(
        self,
        text: str,
        context: Context,
        *,
        camera_id: str | None = None,
        zone: str | None = None,
        event_id: int | None = None,
        corrects: int | None = None,
    ) -> Note:
        """Add a note to the logbook; fires ``logbook.note_added``."""
        if not text.strip():
            raise LogbookError("a note needs some text")
        if camera_id is not None and camera_id not in self.camera_zones:
            raise LogbookError(f"no camera {camera_id!r}")
        if camera_id is not None and zone is None:
            zone = self.camera_zones[camera_id]
        if event_id is not None:
            await self.entry(event_id)
        if corrects is not None:
            found = await self._db.fetchone(
                "SELECT id FROM logbook_notes WHERE id = ?", (corrects,)
            )
            if found is None:
                raise LogbookError(f"no note {corrects} to correct")
        row = await self._db.fetchone(
            "INSERT INTO logbook_notes (time_utc, author, camera_id, zone, event_id, corrects,"
            " text) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
            (format_utc(datetime.now().astimezone()), context.origin, camera_id, zone, event_id,
             corrects, text.strip()),
        )  # fmt: skip
        assert row is not None
        note = _note(row)
        self._bus.async_fire(
            EVENT_NOTE_ADDED,
            {"note_id": note.id, "camera_id": camera_id, "zone": zone, "event_id": event_id,
             "corrects": corrects, "text": note.text},
            context,
        )  # fmt: skip
        return note

    # --- statistics ----------------------------------------------------------------------------

    async def statistics(
        self, start: datetime, end: datetime, zones: Collection[str] | None = None
    ) -> list[ZoneStatistics]:
        """What happened per zone over ``start``..``end`` (for the local security council).

        Events without a camera (storage alarms) count under the zone ``None``: the whole
        installation. Only zones in ``zones`` (None: all) are given; every such zone that has a
        camera is listed, even with nothing to count.
        """
        span = {"start": format_utc(start), "end": format_utc(end)}
        zone_of = self.camera_zones
        wanted = sorted({z for z in zone_of.values() if zones is None or z in zones})
        found: dict[str | None, ZoneStatistics] = {z: ZoneStatistics(zone=z) for z in wanted}

        def bucket(camera_id: str | None) -> ZoneStatistics | None:
            zone = None if camera_id is None else zone_of.get(camera_id)
            if camera_id is not None and zone is None:
                return None  # a camera no longer configured
            if zone is not None and zones is not None and zone not in zones:
                return None
            if zone not in found:
                found[zone] = ZoneStatistics(zone=zone)
            return found[zone]

        rows = await self._db.fetchall(
            "SELECT e.camera_id, e.event_type, count(*) AS n, count(a.event_id) AS acked,"
            " coalesce(sum(a.false_alarm), 0) AS false_alarms,"
            " sum((julianday(a.acked_at) - julianday(e.time_utc)) * 86400) AS ack_seconds"
            " FROM event_log e LEFT JOIN event_acks a ON a.event_id = e.id"
            " WHERE e.time_utc >= :start AND e.time_utc < :end"
            " AND (e.event_type LIKE 'camera.%' OR e.event_type LIKE 'storage.%'"
            " OR e.event_type LIKE 'alarm.%')"
            " AND e.event_type NOT IN (SELECT value FROM json_each(:skip))"
            " GROUP BY e.camera_id, e.event_type",
            {**span, "skip": json.dumps(sorted(_NOT_LOGGED))},
        )
        for row in rows:
            stats = bucket(row["camera_id"])
            if stats is None:
                continue
            kind = row["event_type"]
            stats.events[kind] = stats.events.get(kind, 0) + int(row["n"])
            if needs_acknowledgement(kind):
                stats.acknowledged += int(row["acked"])
                stats.waiting += int(row["n"]) - int(row["acked"])
                stats.false_alarms += int(row["false_alarms"])
                stats.ack_seconds += float(row["ack_seconds"] or 0.0)
        for row in await self._db.fetchall(
            "SELECT camera_id, zone, count(*) AS n FROM logbook_notes"
            " WHERE time_utc >= :start AND time_utc < :end GROUP BY camera_id, zone",
            span,
        ):
            if row["camera_id"] is not None:
                stats = bucket(row["camera_id"])
            elif row["zone"] is None or zones is None or row["zone"] in zones:
                stats = found.setdefault(row["zone"], ZoneStatistics(zone=row["zone"]))
            else:
                continue
            if stats is not None:
                stats.notes += int(row["n"])
        for row in await self._db.fetchall(
            "SELECT zone, count(*) AS n FROM bookmarks WHERE created_at >= :start"
            " AND created_at < :end AND removed_at IS NULL GROUP BY zone",
            span,
        ):
            zone = row["zone"]
            if zones is None or zone in zones:
                found.setdefault(zone, ZoneStatistics(zone=zone)).bookmarks += int(row["n"])
        return sorted(found.values(), key=lambda s: (s.zone is None, s.zone or ""))

    @staticmethod
    def statistics_csv(statistics: list[ZoneStatistics], zone_names: dict[str, str]) -> str:
        """The statistics as CSV: one row per zone and event type, then the zone's totals."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["zone", "zone_name", "what", "count"])
        for stats in statistics:
            zone = stats.zone or ""
            name = zone_names.get(zone, zone or "whole installation")
            for kind, count in sorted(stats.events.items()):
                writer.writerow([zone, name, kind, count])
            for label, value in (
                ("acknowledged", stats.acknowledged),
                ("false alarms", stats.false_alarms),
                ("waiting", stats.waiting),
                ("mean seconds to acknowledge", stats.mean_ack_seconds),
                ("notes", stats.notes),
                ("bookmarks", stats.bookmarks),
            ):
                writer.writerow([zone, name, label, "" if value is None else value])
        return out.getvalue()

    # --- export --------------------------------------------------------------------------------

    @staticmethod
    def to_csv(entries: list[LogbookEntry], notes: list[Note]) -> str:
        """Events and notes as one CSV, oldest first (for the local security council)."""
        rows: list[tuple[str, list[str]]] = []
        for e in entries:
            ack = e.as_dict()["acknowledged"] or {}
            rows.append(
                (format_utc(e.time),
                 ["event", format_utc(e.time), e.event_type, e.camera_id or "",
                  json.dumps(e.data, ensure_ascii=False, sort_keys=True), ack.get("by") or "",
                  ack.get("comment") or "", "yes" if ack.get("false_alarm") else ""])
            )  # fmt: skip
        for n in notes:
            rows.append(
                (format_utc(n.time),
                 ["note", format_utc(n.time), "note", n.camera_id or "", n.text, n.author,
                  "" if n.corrects is None else f"corrects note {n.corrects}", ""])
            )  # fmt: skip
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            ["kind", "time_utc", "type", "camera", "details", "by", "comment", "false_alarm"]
        )
        for _, row in sorted(rows, key=lambda r: r[0]):
            writer.writerow(row)
        return out.getvalue()
