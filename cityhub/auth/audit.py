"""The audit log: who did what, to which camera and footage, when, why and from where.

Entries live in the ``audit_log`` table (migration 0007), which the database refuses to
update or delete. Each entry is hash-chained: its ``hash`` is the SHA-256 of its canonical
serialisation (:func:`canonical`), which includes the previous entry's hash, so a changed,
removed or inserted row breaks the chain from there on; :meth:`AuditLog.verify` finds the
first broken entry.

Entries are written in one place, the :class:`AuditWriter`: it listens to the bus
(``service.called`` for the services of :data:`AUDITED_SERVICES`, and the events of
:data:`AUDITED_EVENTS`), so services do not call the log themselves.

Joystick moves are coalesced (a panel sends ``ptz.move`` ten times a second): the first
``ptz.move`` of an actor on a camera is written with its velocities and opens a *burst*; the
actor's following moves on that camera are only counted. The burst ends at the actor's next
other audited call on the camera (``ptz.stop``, ``ptz.goto_preset``...), whose entry then
carries ``moves`` (the number of ``ptz.move`` calls of the burst) and ``refused`` (how many of
them were refused); at a ``ptz.move_ended`` event of the actor's move that the actor did not
call for (dead-man timeout, takeover), written as ``ptz.move_end`` with the cause; or after
:data:`~cityhub.const.AUDIT_MOVE_BURST_GAP_S` without a move, written as ``ptz.move_end``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from cityhub.api import Context
from cityhub.bus import Event, EventBus
from cityhub.const import (
    AUDIT_MOVE_BURST_GAP_S,
    EVENT_PTZ_MOVE_ENDED,
    EVENT_PTZ_REFUSED,
    EVENT_PTZ_RETURNED_HOME,
    EVENT_SERVICE_CALLED,
)
from cityhub.db import Database, format_utc, parse_utc

__all__ = [
    "AUDITED_EVENTS",
    "AUDITED_SERVICES",
    "GENESIS_HASH",
    "RECORDED_EVENTS",
    "AuditEntry",
    "AuditLog",
    "AuditRecord",
    "AuditWriter",
    "VerifyReport",
    "canonical",
    "entry_hash",
    "is_audited",
]

_LOGGER = logging.getLogger(__name__)

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first entry."""

AUDITED_SERVICES: Final = (
    "ptz.*",
    "recording.hold",
    "recording.release",
    "recording.export",
    "camera.restart",
    "wall.*",
)
"""Services whose calls are audited (``domain.*`` for a whole domain): one list, here."""

UNAUDITED_SERVICES: Final = frozenset({"ptz.status", "ptz.presets"})
"""Read-only services inside an audited domain: they change nothing and are not audited."""

AUDITED_EVENTS: Final = (EVENT_PTZ_MOVE_ENDED, EVENT_PTZ_REFUSED, EVENT_PTZ_RETURNED_HOME)
"""Events the writer reads: the end of a move it did not see called, refusals, return home."""

RECORDED_EVENTS: Final = (
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "auth.user_changed",
    "live.view_started",
    "live.view_stopped",
    "live.snapshot",
    "playback.started",
    "playback.stopped",
    "recording.purged",
    "logbook.acknowledged",
    "logbook.note_added",
    "bookmark.added",
    "bookmark.removed",
    "export.downloaded",
    "audit.read",
    "audit.exported",
)
"""Events written as they come (action = event type): logins, account changes, viewing live
and recorded footage (fired by the web layer, which is not a service), and purges (one entry
per pass and reason; the register of destruction holds the segments)."""

MOVE: Final = "ptz.move"
MOVE_END: Final = "ptz.move_end"
QUERY_LIMIT: Final = 1000
"""Most entries one query returns; page with ``after_seq``."""
VERIFY_BATCH: Final = 2000
"""Rows read per query while verifying: bounded memory on a log of millions of entries."""

_COLUMNS = (
    "seq, time_utc, actor, context_id, action, camera_id, start_ms, end_ms, details, reason,"
    " client, prev_hash, hash"
)


def is_audited(service: str) -> bool:
    """Whether calls of ``service`` (``domain.name``) are written to the audit log."""
    if service in UNAUDITED_SERVICES:
        return False
    for pattern in AUDITED_SERVICES:
        if pattern == service or (pattern.endswith(".*") and service.startswith(pattern[:-1])):
            return True
    return False


def _json_text(value: Mapping[str, Any]) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@attrs.frozen
class AuditRecord:
    """What to write: everything of an entry but its place in the chain."""

    time: datetime
    actor: str
    context_id: str
    action: str
    camera_id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)
    reason: str | None = None
    client: str | None = None

    @classmethod
    def of(
        cls, action: str, context: Context, time: datetime | None = None, **fields: Any
    ) -> AuditRecord:
        """A record of ``action`` by the caller of ``context`` (now unless ``time`` is given)."""
        return cls(
            time=time or datetime.now(UTC),
            actor=context.origin,
            context_id=context.id,
            action=action,
            **fields,
        )


@attrs.frozen
class AuditEntry:
    """One entry of the log, as stored."""

    seq: int
    time_utc: str
    actor: str
    context_id: str
    action: str
    camera_id: str | None
    start_ms: int | None
    end_ms: int | None
    details: str
    reason: str | None
    client: str | None
    prev_hash: str
    hash: str

    @property
    def time(self) -> datetime:
        """When the action happened (UTC)."""
        return parse_utc(self.time_utc)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering (panel, API)."""
        fields = attrs.asdict(self)
        fields["details"] = json.loads(self.details)
        return fields

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AuditEntry:
        """The entry of an ``audit_log`` row."""
        return cls(*tuple(row))


def canonical(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every column but ``hash``, as sorted compact JSON."""
    fields = attrs.asdict(entry)
    del fields["hash"]
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    """The SHA-256 (hex) an entry must carry: over its canonical form, previous hash included."""
    return hashlib.sha256(canonical(entry)).hexdigest()


@attrs.frozen
class VerifyReport:
    """What :meth:`AuditLog.verify` found: the entries checked and the first broken one."""

    checked: int
    last_seq: int
    last_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the whole chain holds."""
        return self.broken_seq is None


class AuditLog:
    """Appends to, reads and verifies the ``audit_log`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, record: AuditRecord) -> AuditEntry:
        """Write ``record`` at the end of the chain; returns the stored entry."""
        async with self._db.transaction() as db:
            last = await db.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            seq = 1 if last is None else int(last["seq"]) + 1
            prev_hash = GENESIS_HASH if last is None else str(last["hash"])
            unhashed = AuditEntry(
                seq=seq,
                time_utc=format_utc(record.time),
                actor=record.actor,
                context_id=record.context_id,
                action=record.action,
                camera_id=record.camera_id,
                start_ms=record.start_ms,
                end_ms=record.end_ms,
                details=_json_text(record.details),
                reason=record.reason,
                client=record.client,
                prev_hash=prev_hash,
                hash="",
            )
            entry = attrs.evolve(unhashed, hash=entry_hash(unhashed))
            await db.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",  # noqa: S608
                attrs.astuple(entry),
            )
        return entry

    async def entries(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        actor: str | None = None,
        camera_id: str | None = None,
        action: str | None = None,
        after_seq: int = 0,
        before_seq: int | None = None,
        newest_first: bool = False,
        limit: int = QUERY_LIMIT,
    ) -> list[AuditEntry]:
        """Entries in sequence order (or newest first) matching every filter given.

        ``start``/``end`` bound the entry's time (``end`` excluded); ``camera_id`` also matches
        entries naming the camera among several (``details.cameras``); ``action`` ending in
        ``.*`` matches a whole domain; ``after_seq``/``before_seq`` page through (excluded).
        """
        where = ["seq > ?"]
        params: list[Any] = [after_seq]
        if before_seq is not None:
            where.append("seq < ?")
            params.append(before_seq)
        if start is not None:
            where.append("time_utc >= ?")
            params.append(format_utc(start))
        if end is not None:
            where.append("time_utc < ?")
            params.append(format_utc(end))
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if camera_id is not None:
            where.append(
                "(camera_id = ? OR EXISTS (SELECT 1 FROM json_each(details, '$.cameras')"
                " WHERE value = ?))"
            )
            params += [camera_id, camera_id]
        if action is not None:
            if action.endswith(".*"):
                where.append("substr(action, 1, ?) = ?")
                params += [len(action) - 1, action[:-1]]
            else:
                where.append("action = ?")
                params.append(action)
        params.append(max(1, min(limit, QUERY_LIMIT)))
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)}"  # noqa: S608
            f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?",
            params,
        )
        return [AuditEntry.from_row(row) for row in rows]

    async def verify(self) -> VerifyReport:
        """Check the whole chain: numbering, links and hashes; stop at the first broken entry."""
        expected_seq = 1
        prev_hash = GENESIS_HASH
        checked = 0
        while True:
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?",  # noqa: S608
                (expected_seq, VERIFY_BATCH),
            )
            if not rows:
                return VerifyReport(checked, expected_seq - 1, prev_hash)
            for row in rows:
                entry = AuditEntry.from_row(row)
                problem = _problem(entry, expected_seq, prev_hash)
                if problem is not None:
                    return VerifyReport(
                        checked, expected_seq - 1, prev_hash, min(entry.seq, expected_seq), problem
                    )
                checked += 1
                expected_seq += 1
                prev_hash = entry.hash


def _problem(entry: AuditEntry, expected_seq: int, prev_hash: str) -> str | None:
    if entry.seq != expected_seq:
        return (
            f"entry {expected_seq} is missing (the next entry is {entry.seq}): entries were removed"
        )
    if entry.prev_hash != prev_hash:
        return (
            f"entry {entry.seq} does not follow entry {entry.seq - 1} (its prev_hash is "
            f"{entry.prev_hash[:12]}..., entry {entry.seq - 1}'s hash is {prev_hash[:12]}...): "
            f"an entry was removed, inserted or changed before it"
        )
    if entry_hash(entry) != entry.hash:
        return f"entry {entry.seq} was changed after it was written (its hash does not match)"
    return None


# --------------------------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------------------------


@attrs.define
class _Burst:
    """An actor's run of ``ptz.move`` calls on one camera, written as one entry."""

    started: datetime
    last: float
    moves: int = 1
    refused: int = 0


def _to_ms(value: Any) -> int | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return round(value.timestamp() * 1000)
    return None


class AuditWriter:
    """Writes the audit log from the bus, in order, from one task; coalesces joystick moves."""

    def __init__(
        self,
        log: AuditLog,
        bus: EventBus,
        *,
        burst_gap_s: float = AUDIT_MOVE_BURST_GAP_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.log = log
        self._bus = bus
        self.burst_gap_s = burst_gap_s
        self._clock = clock or asyncio.get_running_loop().time
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._bursts: dict[tuple[str, str], _Burst] = {}
        self._unsubscribe: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.failed = 0

    def start(self) -> None:
        """Subscribe to the bus and start the writing task."""
        for event_type in (EVENT_SERVICE_CALLED, *AUDITED_EVENTS, *RECORDED_EVENTS):
            self._unsubscribe.append(self._bus.subscribe(event_type, self._queue.put_nowait))
        self._task = asyncio.create_task(self._run(), name="cityhub:audit")

    async def async_stop(self) -> None:
        """Unsubscribe, write what is queued and the open bursts, then stop."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self._queue.join()
        for key in list(self._bursts):
            await self._close_burst(key, "hub stopping", datetime.now(UTC), Context())
        if self._task is not None:
            self._task.cancel()

    async def async_flush(self) -> None:
        """Wait until every event received so far is written (tests, CLI)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            timeout = self._next_gap_timeout()
            try:
                event = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                try:
                    await self._close_idle_bursts()
                except Exception:
                    self.failed += 1
                    _LOGGER.exception("Could not write the end of a ptz.move burst")
                continue
            try:
                await self._handle(event)
            except Exception:
                self.failed += 1
                _LOGGER.exception("Could not write the audit entry of %s", event.event_type)
            finally:
                self._queue.task_done()

    def _next_gap_timeout(self) -> float | None:
        if not self._bursts:
            return None
        oldest = min(burst.last for burst in self._bursts.values())
        return max(0.0, oldest + self.burst_gap_s - self._clock())

    async def _close_idle_bursts(self) -> None:
        now = self._clock()
        for key, burst in list(self._bursts.items()):
            if now - burst.last >= self.burst_gap_s:
                await self._close_burst(key, "no further moves", datetime.now(UTC), Context())

    async def _write(self, record: AuditRecord) -> None:
        await self.log.append(record)
        self.written += 1

    async def _handle(self, event: Event) -> None:
        if event.event_type == EVENT_SERVICE_CALLED:
            await self._service_called(event)
        elif event.event_type == EVENT_PTZ_MOVE_ENDED:
            await self._move_ended(event)
        elif event.event_type == EVENT_PTZ_REFUSED:
            await self._refused(event)
        elif event.event_type in RECORDED_EVENTS:
            await self._recorded(event)
        elif event.event_type == EVENT_PTZ_RETURNED_HOME:
            data = event.data
            await self._write(
                AuditRecord.of(
                    "ptz.home_return",
                    event.context,
                    event.time_fired,
                    camera_id=data.get("camera_id"),
                    details={k: v for k, v in data.items() if k != "camera_id"},
                )
            )

    async def _service_called(self, event: Event) -> None:
        service = f"{event.data['domain']}.{event.data['service']}"
        if not is_audited(service):
            return
        data: Mapping[str, Any] = event.data.get("data") or {}
        camera_id = data.get("camera_id")
        cameras = data.get("cameras")
        if camera_id is None and isinstance(cameras, list | tuple) and len(cameras) == 1:
            camera_id = cameras[0]
        key = (str(camera_id), event.context.origin)
        if service == MOVE and camera_id is not None:
            burst = self._bursts.get(key)
            if burst is not None:
                burst.moves += 1
                burst.last = self._clock()
                return
            self._bursts[key] = _Burst(started=event.time_fired, last=self._clock())
        details: dict[str, Any] = {
            k: v
            for k, v in data.items()
            if k not in ("camera_id", "reason", "start", "end")
            and not (k == "cameras" and camera_id is not None and len(cameras or ()) == 1)
        }
        if service != MOVE:
            ended = self._bursts.pop(key, None)
            if ended is not None:
                details.update(moves=ended.moves, refused=ended.refused)
        reason = data.get("reason")
        await self._write(
            AuditRecord.of(
                service,
                event.context,
                event.time_fired,
                camera_id=camera_id,
                start_ms=_to_ms(data.get("start")),
                end_ms=_to_ms(data.get("end")),
                details=details,
                reason=reason if isinstance(reason, str) else None,
            )
        )

    async def _recorded(self, event: Event) -> None:
        data = event.data
        camera_id = data.get("camera_id")
        client = data.get("client_address")
        reason = data.get("reason")
        await self._write(
            AuditRecord.of(
                event.event_type,
                event.context,
                event.time_fired,
                camera_id=camera_id if isinstance(camera_id, str) else None,
                start_ms=_to_ms(data.get("start")),
                end_ms=_to_ms(data.get("end")),
                details={
                    k: v
                    for k, v in data.items()
                    if k not in ("camera_id", "client_address", "start", "end", "reason")
                },
                reason=reason if isinstance(reason, str) else None,
                client=client if isinstance(client, str) else None,
            )
        )

    async def _move_ended(self, event: Event) -> None:
        camera_id = str(event.data.get("camera_id"))
        cause = str(event.data.get("cause", "ended"))
        mover = event.data.get("moved_by")
        for key in [k for k in self._bursts if k[0] == camera_id and mover in (None, k[1])]:
            await self._close_burst(key, cause, event.time_fired, event.context)

    async def _refused(self, event: Event) -> None:
        data = event.data
        burst = self._bursts.get((str(data.get("camera_id")), event.context.origin))
        if data.get("command") == "move" and burst is not None:
            burst.refused += 1
            return
        await self._write(
            AuditRecord.of(
                "ptz.refused",
                event.context,
                event.time_fired,
                camera_id=data.get("camera_id"),
                details={k: v for k, v in data.items() if k != "camera_id"},
            )
        )

    async def _close_burst(
        self, key: tuple[str, str], cause: str, time: datetime, context: Context
    ) -> None:
        burst = self._bursts.pop(key, None)
        if burst is None:
            return
        await self._write(
            AuditRecord.of(
                MOVE_END,
                context,
                time,
                camera_id=key[0],
                details={
                    "cause": cause,
                    "moved_by": key[1],
                    "moves": burst.moves,
                    "refused": burst.refused,
                    "duration_ms": round((time - burst.started).total_seconds() * 1000),
                },
            )
        )
