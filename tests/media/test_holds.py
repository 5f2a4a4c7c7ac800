"""Legal holds on a real database: the API, the log kept in the rows, the services."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from retention_kit import DAY, NOW, add_cameras, collect

from cityhub.api import Context
from cityhub.bus import EventBus
from cityhub.db import Database
from cityhub.media.holds import (
    EVENT_HOLD_CREATED,
    EVENT_HOLD_RELEASED,
    Hold,
    HoldAlreadyReleasedError,
    HoldError,
    HoldNotFoundError,
    Holds,
    InvalidHoldError,
    UnknownCameraError,
    register_hold_services,
)
from cityhub.media.index import from_ms, to_ms
from cityhub.services import ServiceError, ServiceRegistry, ServiceValidationError

OFFICER = Context(user="agent.durand")
START = NOW - 3 * DAY
END = NOW - 2 * DAY
DAY_MS = 86_400_000


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "hub.db")
    await add_cameras(database, "cam-1", "cam-2", "cam-3")
    yield database
    await database.close()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def holds(db: Database, bus: EventBus) -> Holds:
    return Holds(db, bus)


async def _hold(holds: Holds, *cameras: str) -> Hold:
    return await holds.create(
        cameras or ("cam-1",), START, END, "PV 2026/1234", "vol à l'arraché", OFFICER
    )


def test_milliseconds_round_trip_exactly() -> None:
    paris = timezone(timedelta(hours=1))
    moment = NOW.astimezone(paris) + timedelta(microseconds=123_000)
    assert from_ms(to_ms(moment)) == moment
    assert to_ms(NOW) == 1_795_348_800_000
    with pytest.raises(ValueError, match="naive"):
        to_ms(NOW.replace(tzinfo=None))


async def test_create_records_who_when_and_why(holds: Holds) -> None:
    hold = await _hold(holds, "cam-2", "cam-1", "cam-1")

    assert hold.cameras == ("cam-1", "cam-2")
    assert (hold.start_ms, hold.end_ms) == (to_ms(START), to_ms(END))
    assert hold.reference == "PV 2026/1234"
    assert hold.reason == "vol à l'arraché"
    assert hold.created_by == "user:agent.durand"
    assert hold.active
    assert await holds.get(hold.id) == hold
    assert await holds.active() == [hold]
    assert await holds.active("cam-2") == [hold]
    assert await holds.active("cam-3") == []


async def test_segments_overlapping_the_range_are_held_ends_included(holds: Holds) -> None:
    hold = await _hold(holds)
    minute = 60_000

    assert await holds.is_held("cam-1", hold.start_ms - minute, hold.start_ms)
    assert await holds.is_held("cam-1", hold.end_ms, hold.end_ms + minute)
    assert await holds.is_held("cam-1", hold.start_ms - DAY_MS, hold.end_ms + DAY_MS)
    assert not await holds.is_held("cam-1", hold.start_ms - 2 * minute, hold.start_ms - 1)
    assert not await holds.is_held("cam-1", hold.end_ms + 1, hold.end_ms + minute)
    assert not await holds.is_held("cam-2", hold.start_ms, hold.end_ms)


async def test_release_records_who_when_and_why_and_ends_the_hold(
    holds: Holds, bus: EventBus
) -> None:
    events = collect(bus, "recording.*")
    hold = await _hold(holds)
    supervisor = Context(user="chef.martin")

    released = await holds.release(hold.id, "affaire classée", supervisor)

    assert not released.active
    assert released.released_by == "user:chef.martin"
    assert released.release_reason == "affaire classée"
    assert released.released_at is not None
    assert await holds.active() == []
    assert not await holds.is_held("cam-1", hold.start_ms, hold.end_ms)
    assert [e.event_type for e in events] == [EVENT_HOLD_CREATED, EVENT_HOLD_RELEASED]
    assert events[0].context is OFFICER
    assert events[1].context is supervisor
    assert events[1].data["hold_id"] == hold.id
    assert events[1].data["release_reason"] == "affaire classée"


async def test_a_hold_is_released_once(holds: Holds) -> None:
    hold = await _hold(holds)
    await holds.release(hold.id, "affaire classée", OFFICER)
    with pytest.raises(HoldAlreadyReleasedError, match="already released"):
        await holds.release(hold.id, "encore", OFFICER)
    with pytest.raises(HoldNotFoundError, match="no hold has id 99"):
        await holds.release(99, "erreur", OFFICER)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"cameras": ()}, InvalidHoldError, "at least one camera"),
        ({"cameras": ("cam-9",)}, UnknownCameraError, "unknown camera.*cam-9"),
        ({"end": START}, InvalidHoldError, "must be after its start"),
        ({"reference": "  "}, InvalidHoldError, "reference"),
        ({"reason": ""}, InvalidHoldError, "reason"),
    ],
)
async def test_create_refuses_bad_holds(
    holds: Holds, db: Database, change: dict[str, object], error: type[HoldError], message: str
) -> None:
    arguments: dict[str, object] = {
        "cameras": ("cam-1",),
        "start": START,
        "end": END,
        "reference": "PV 1",
        "reason": "rixe",
        "context": OFFICER,
    }
    with pytest.raises(error, match=message):
        await holds.create(**{**arguments, **change})  # type: ignore[arg-type]
    assert issubclass(error, ServiceError)
    assert await db.fetchall("SELECT * FROM holds") == []


async def test_the_database_keeps_holds_and_their_log(holds: Holds, db: Database) -> None:
    hold = await _hold(holds)
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        await db.execute("DELETE FROM holds WHERE id = ?", (hold.id,))
    with pytest.raises(sqlite3.IntegrityError, match="only ever changed once"):
        await db.execute("UPDATE holds SET end_ms = end_ms + 1 WHERE id = ?", (hold.id,))
    with pytest.raises(sqlite3.IntegrityError, match="never change"):
        await db.execute("DELETE FROM hold_cameras WHERE hold_id = ?", (hold.id,))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        await db.execute(
            "UPDATE holds SET released_at = 'x', released_by = 'y' WHERE id = ?", (hold.id,)
        )

    await holds.release(hold.id, "levée", OFFICER)
    with pytest.raises(sqlite3.IntegrityError, match="only ever changed once"):
        await db.execute("UPDATE holds SET released_at = NULL WHERE id = ?", (hold.id,))
    assert (await holds.get(hold.id)).release_reason == "levée"


# --- services ----------------------------------------------------------------------------


@pytest.fixture
def services(bus: EventBus, holds: Holds) -> ServiceRegistry:
    registry = ServiceRegistry(bus)
    register_hold_services(registry, holds)
    return registry


HOLD_DATA = {
    "cameras": ["cam-1", "cam-3"],
    "start": "2026-11-19T13:00:00+01:00",
    "end": "2026-11-19T14:30:00+01:00",
    "reference": "Réquisition 2026-0042",
    "reason": "rixe devant la mairie",
}


async def test_hold_and_release_services_carry_the_context(
    services: ServiceRegistry, bus: EventBus, holds: Holds
) -> None:
    events = collect(bus)
    operator = Context(user="agent.durand")

    hold = await services.async_call("recording", "hold", HOLD_DATA, operator)

    assert isinstance(hold, Hold)
    assert hold.cameras == ("cam-1", "cam-3")
    assert hold.start_ms == to_ms(NOW - 3 * DAY)  # 13:00 in Paris is 12:00 UTC
    assert hold.end_ms - hold.start_ms == 90 * 60_000
    assert [h.id for h in await holds.active("cam-3")] == [hold.id]
    created = [e for e in events if e.event_type == EVENT_HOLD_CREATED]
    assert len(created) == 1
    assert created[0].context is operator
    assert created[0].data["reference"] == "Réquisition 2026-0042"

    await services.async_call(
        "recording", "release", {"hold_id": hold.id, "reason": "copie remise"}, operator
    )
    assert await holds.active() == []
    assert [e.event_type for e in events] == [
        "service.called",
        EVENT_HOLD_CREATED,
        "service.called",
        EVENT_HOLD_RELEASED,
    ]
    assert {e.context.id for e in events} == {operator.id}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reference": None}, "reference: required key not provided"),
        ({"reference": "   "}, "reference: must not be empty"),
        ({"reason": None}, "reason: required key not provided"),
        ({"cameras": []}, "cameras: name at least one camera"),
        ({"end": "2026-11-19T12:59:00+01:00"}, "end: must be after start"),
        ({"end": "2026-11-19T13:00:00+01:00"}, "end: must be after start"),
        ({"start": "2026-11-19T13:00:00"}, "start: .* has no time zone"),
        ({"start": "hier soir"}, "start: 'hier soir' is not an ISO-8601 date"),
        ({"extra": 1}, "extra: extra keys not allowed"),
    ],
)
async def test_hold_service_refuses_bad_data_clearly(
    services: ServiceRegistry, holds: Holds, change: dict[str, object], message: str
) -> None:
    data = {k: v for k, v in {**HOLD_DATA, **change}.items() if v is not None}
    with pytest.raises(ServiceValidationError, match=f"^recording.hold: {message}"):
        await services.async_call("recording", "hold", data, OFFICER)
    assert await holds.active() == []


async def test_release_service_needs_a_reason(services: ServiceRegistry) -> None:
    with pytest.raises(ServiceValidationError, match="reason: required key not provided"):
        await services.async_call("recording", "release", {"hold_id": 1}, OFFICER)
    with pytest.raises(HoldNotFoundError):
        await services.async_call("recording", "release", {"hold_id": 5, "reason": "x"}, OFFICER)


async def test_unregistering_removes_both_services(bus: EventBus, holds: Holds) -> None:
    registry = ServiceRegistry(bus)
    unregister = register_hold_services(registry, holds)
    assert registry.has("recording", "hold")
    assert registry.has("recording", "release")
    unregister()
    assert not registry.has("recording", "hold")
    assert not registry.has("recording", "release")
