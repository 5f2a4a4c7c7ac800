"""Legal holds: footage exempt from purge until released, and the services that manage them.

A hold names cameras and a time range; every segment of those cameras that overlaps the
range (ends included) is held. A requisition, an investigation or an operator's "freeze" of
an incident are all holds: each has a reference (case or requisition number) and a reason.
The hold row records who created it, when and why, and later who released it, when and
why; the database refuses to delete a hold or to change it other than by one release.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import attrs
import voluptuous as vol

from cityhub.api import Context
from cityhub.bus import EventBus
from cityhub.db import Database, format_utc, parse_utc
from cityhub.media.index import from_ms, to_ms
from cityhub.services import ServiceCall, ServiceError, ServiceRegistry

__all__ = [
    "EVENT_HOLD_CREATED",
    "EVENT_HOLD_RELEASED",
    "HOLD_SCHEMA",
    "RELEASE_SCHEMA",
    "SEGMENT_IS_HELD",
    "Hold",
    "HoldAlreadyReleasedError",
    "HoldError",
    "HoldNotFoundError",
    "Holds",
    "InvalidHoldError",
    "UnknownCameraError",
    "register_hold_services",
]

EVENT_HOLD_CREATED: Final = "recording.hold_created"
"""A hold was created; data: the hold (id, reference, reason, cameras, start, end, created_by)."""
EVENT_HOLD_RELEASED: Final = "recording.hold_released"
"""A hold was released; data: the hold, with released_at, released_by and release_reason."""

SERVICE_DOMAIN: Final = "recording"
SERVICE_HOLD: Final = "hold"
SERVICE_RELEASE: Final = "release"

# SQL in this module and in retention is composed only from these constants and ``?``
# placeholders, never from values: hence the ``noqa: S608`` where they are joined.
SEGMENT_IS_HELD: Final = (
    "EXISTS (SELECT 1 FROM hold_cameras hc JOIN holds h ON h.id = hc.hold_id"
    " WHERE hc.camera_id = s.camera_id AND h.released_at IS NULL"
    " AND h.start_ms <= s.end_ms AND h.end_ms >= s.start_ms)"
)
"""SQL condition: the segment aliased ``s`` is covered by an active hold (the one definition)."""


_HOLD_COLUMNS = (
    "h.id, h.reference, h.reason, h.start_ms, h.end_ms, h.created_at, h.created_by,"
    " h.released_at, h.released_by, h.release_reason,"
    " (SELECT json_group_array(camera_id) FROM"
    " (SELECT camera_id FROM hold_cameras WHERE hold_id = h.id ORDER BY camera_id)) AS cameras"
)


class HoldError(ServiceError):
    """Base class of the errors this module raises; a service caller sees them as is."""


class InvalidHoldError(HoldError):
    """A hold's cameras, range, reference or reason are missing or inconsistent."""


class UnknownCameraError(HoldError):
    """A hold names a camera the hub has never known."""


class HoldNotFoundError(HoldError):
    """No hold has that id."""


class HoldAlreadyReleasedError(HoldError):
    """The hold was released already; a release is written once."""


@attrs.frozen
class Hold:
    """One legal hold: cameras and a time range exempt from purge until released."""

    id: int
    reference: str
    reason: str
    cameras: tuple[str, ...]
    start_ms: int
    end_ms: int
    created_at: datetime
    created_by: str
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        """Whether the hold still protects its footage."""
        return self.released_at is None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering (events, API, service results)."""
        return {
            "hold_id": self.id,
            "reference": self.reference,
            "reason": self.reason,
            "cameras": list(self.cameras),
            "start": from_ms(self.start_ms).isoformat(timespec="milliseconds"),
            "end": from_ms(self.end_ms).isoformat(timespec="milliseconds"),
            "created_at": format_utc(self.created_at),
            "created_by": self.created_by,
            "released_at": None if self.released_at is None else format_utc(self.released_at),
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Hold:
        """Build a hold from a row selected with the module's hold columns."""
        released_at = row["released_at"]
        return cls(
            id=int(row["id"]),
            reference=str(row["reference"]),
            reason=str(row["reason"]),
            cameras=tuple(json.loads(row["cameras"])),
            start_ms=int(row["start_ms"]),
            end_ms=int(row["end_ms"]),
            created_at=parse_utc(row["created_at"]),
            created_by=str(row["created_by"]),
            released_at=None if released_at is None else parse_utc(released_at),
            released_by=row["released_by"],
            release_reason=row["release_reason"],
        )


def _required_text(value: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidHoldError(f"a hold needs a {what}; it is empty")
    return text


class Holds:
    """Creates, releases and answers questions about legal holds, in the hub's database."""

    def __init__(self, db: Database, bus: EventBus | None = None) -> None:
        self._db = db
        self._bus = bus

    async def create(
        self,
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        reference: str,
        reason: str,
        context: Context,
    ) -> Hold:
        """Hold every segment of ``cameras`` overlapping ``start``..``end`` until released."""
        reference = _required_text(reference, "reference (case or requisition number)")
        reason = _required_text(reason, "reason")
        names = sorted(set(cameras))
        if not names:
            raise InvalidHoldError("a hold needs at least one camera")
        start_ms, end_ms = to_ms(start), to_ms(end)
        if end_ms <= start_ms:
            raise InvalidHoldError(
                f"a hold's end ({end.isoformat()}) must be after its start ({start.isoformat()})"
            )
        async with self._db.transaction() as db:
            rows = await db.fetchall(
                "SELECT id FROM cameras WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(names),),
            )
            unknown = sorted(set(names) - {str(r["id"]) for r in rows})
            if unknown:
                raise UnknownCameraError(
                    f"unknown camera(s) {', '.join(unknown)}: a hold names cameras the hub "
                    f"has recorded (see the camera inventory)"
                )
            row = await db.fetchone(
                "INSERT INTO holds (reference, reason, start_ms, end_ms, created_at, created_by,"
                " context_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    reference,
                    reason,
                    start_ms,
                    end_ms,
                    format_utc(datetime.now(UTC)),
                    context.origin,
                    context.id,
                ),
            )
            assert row is not None
            hold_id = int(row["id"])
            for camera in names:
                await db.execute(
                    "INSERT INTO hold_cameras (hold_id, camera_id) VALUES (?, ?)",
                    (hold_id, camera),
                )
        hold = await self.get(hold_id)
        if self._bus is not None:
            self._bus.async_fire(EVENT_HOLD_CREATED, hold.as_dict(), context)
        return hold

    async def release(self, hold_id: int, reason: str, context: Context) -> Hold:
        """Release a hold: its footage follows the retention rules again from the next pass."""
        reason = _required_text(reason, "reason for the release")
        changed = await self._db.execute(
            "UPDATE holds SET released_at = ?, released_by = ?, release_reason = ?,"
            " release_context_id = ? WHERE id = ? AND released_at IS NULL",
            (format_utc(datetime.now(UTC)), context.origin, reason, context.id, hold_id),
        )
        hold = await self.get(hold_id)
        if not changed:
            raise HoldAlreadyReleasedError(
                f"hold {hold_id} ({hold.reference}) was already released at "
                f"{hold.released_at} by {hold.released_by}"
            )
        if self._bus is not None:
            self._bus.async_fire(EVENT_HOLD_RELEASED, hold.as_dict(), context)
        return hold

    async def get(self, hold_id: int) -> Hold:
        """The hold with ``hold_id``, active or released."""
        row = await self._db.fetchone(
            f"SELECT {_HOLD_COLUMNS} FROM holds h WHERE h.id = ?",  # noqa: S608 - constant
            (hold_id,),
        )
        if row is None:
            raise HoldNotFoundError(f"no hold has id {hold_id}")
        return Hold.from_row(row)

    async def active(self, camera: str | None = None) -> list[Hold]:
        """The holds not yet released (of ``camera`` only, when given), oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_HOLD_COLUMNS} FROM holds h WHERE h.released_at IS NULL"  # noqa: S608
            " AND (:camera IS NULL"
            " OR h.id IN (SELECT hold_id FROM hold_cameras WHERE camera_id = :camera))"
            " ORDER BY h.id",
            {"camera": camera},
        )
        return [Hold.from_row(row) for row in rows]

    async def is_held(self, camera: str, start_ms: int, end_ms: int) -> bool:
        """Whether footage of ``camera`` from ``start_ms`` to ``end_ms`` is under a hold."""
        row = await self._db.fetchone(
            f"SELECT {SEGMENT_IS_HELD} AS held"  # noqa: S608 - constant
            " FROM (SELECT ? AS camera_id, ? AS start_ms, ? AS end_ms) s",
            (camera, start_ms, end_ms),
        )
        assert row is not None
        return bool(row["held"])


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------


def aware_datetime(value: Any) -> datetime:
    """Voluptuous validator: an ISO-8601 datetime (string or value) with a time zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise vol.Invalid(
                f"{value!r} is not an ISO-8601 date and time (e.g. 2026-11-22T14:05:00+01:00)"
            ) from None
    if not isinstance(value, datetime):
        raise vol.Invalid("expected an ISO-8601 date and time with a time zone")
    if value.tzinfo is None or value.utcoffset() is None:
        raise vol.Invalid(
            f"{value.isoformat()} has no time zone: add one (+01:00, +02:00 or Z) so the "
            f"range means the same instant everywhere"
        )
    return value


def non_empty_text(what: str) -> Callable[[Any], str]:
    """Voluptuous validator: text that is not blank (stripped); ``what`` names it in errors."""

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise vol.Invalid(f"expected text: the {what}")
        if not value.strip():
            raise vol.Invalid(f"must not be empty: give the {what}")
        return value.strip()

    return validate


def end_after_start(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Voluptuous validator of a mapping whose ``end`` must come after its ``start``."""
    if data["end"] <= data["start"]:
        raise vol.Invalid(
            f"must be after start ({data['end'].isoformat()} is not after "
            f"{data['start'].isoformat()})",
            path=["end"],
        )
    return data


HOLD_SCHEMA = vol.Schema(
    vol.All(
        {
            vol.Required("cameras"): vol.All(
                [non_empty_text("camera id")],
                vol.Length(min=1, msg="name at least one camera"),
            ),
            vol.Required("start"): aware_datetime,
            vol.Required("end"): aware_datetime,
            vol.Required("reference"): non_empty_text("case or requisition number"),
            vol.Required("reason"): non_empty_text("reason for the hold"),
        },
        end_after_start,
    )
)
"""Data of ``recording.hold``: cameras, start and end (ISO-8601, zoned), reference, reason."""

RELEASE_SCHEMA = vol.Schema(
    {
        vol.Required("hold_id"): vol.All(int, vol.Range(min=1)),
        vol.Required("reason"): non_empty_text("reason for the release"),
    }
)
"""Data of ``recording.release``: the hold's id and the reason for releasing it."""


def register_hold_services(services: ServiceRegistry, holds: Holds) -> Callable[[], None]:
    """Register ``recording.hold`` and ``recording.release``; returns a callable removing both."""

    async def hold(call: ServiceCall) -> Hold:
        data = call.data
        return await holds.create(
            data["cameras"],
            data["start"],
            data["end"],
            data["reference"],
            data["reason"],
            call.context,
        )

    async def release(call: ServiceCall) -> Hold:
        return await holds.release(call.data["hold_id"], call.data["reason"], call.context)

    removers = [
        services.register(
            SERVICE_DOMAIN,
            SERVICE_HOLD,
            hold,
            HOLD_SCHEMA,
            "Exempt cameras' footage over a time range from purge (requisition or freeze).",
        ),
        services.register(
            SERVICE_DOMAIN,
            SERVICE_RELEASE,
            release,
            RELEASE_SCHEMA,
            "Release a hold: its footage follows the retention rules again.",
        ),
    ]

    def unregister() -> None:
        for remove in removers:
            remove()

    return unregister
