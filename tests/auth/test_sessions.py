"""Server-side sessions: no token stored, idle and absolute ends, CSRF, ending a user's all."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.auth.sessions import Sessions
from cityhub.auth.users import Users
from cityhub.db import Database


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "hub.db")
    users = Users(database)
    await users.create("j.martin", Role.OPERATOR, Context(), password="Vidéoprotection-2026")
    await users.create("p.leroy", Role.OPERATOR, Context(), password="Vidéoprotection-2026")
    yield database
    await database.close()


async def test_the_database_holds_only_a_digest_of_the_token(db: Database) -> None:
    sessions = Sessions(db)
    session = await sessions.create("j.martin", client_address="10.1.2.3", user_agent="Chromium")
    assert session.token is not None
    row = await db.fetchone("SELECT * FROM sessions")
    assert row is not None
    assert row["token_hash"] == hashlib.sha256(session.token.encode()).hexdigest() == session.id
    assert session.token not in str(dict(row))
    found = await sessions.get(session.token)
    assert found is not None
    assert found.user == "j.martin"
    assert found.token is None
    assert found.csrf_ok(session.csrf_token)
    assert not found.csrf_ok("forged")
    assert not found.csrf_ok(None)
    assert await sessions.get("not-a-token") is None
    assert await sessions.get("") is None


async def test_idle_and_absolute_limits_end_sessions(db: Database) -> None:
    clock = Clock()
    sessions = Sessions(db, idle_s=600, absolute_s=3600, clock=clock)
    session = await sessions.create("j.martin")
    assert session.token is not None
    for _ in range(5):  # active every 9 minutes: kept alive...
        clock.now += timedelta(minutes=9)
        assert await sessions.get(session.token) is not None
    clock.now += timedelta(minutes=16)  # ...until the shift's end, whatever the activity
    assert await sessions.get(session.token) is None
    row = await db.fetchone("SELECT end_reason FROM sessions")
    assert row is not None
    assert row["end_reason"] == "expired"

    idle = await sessions.create("j.martin")
    assert idle.token is not None
    clock.now += timedelta(minutes=11)
    assert await sessions.get(idle.token) is None
    assert await sessions.live() == []


async def test_logout_and_ending_every_session_of_a_user(db: Database) -> None:
    sessions = Sessions(db)
    first = await sessions.create("j.martin")
    second = await sessions.create("j.martin")
    other = await sessions.create("p.leroy")
    assert first.token
    assert second.token
    assert other.token
    assert await sessions.end(first.id)
    assert not await sessions.end(first.id)
    assert await sessions.get(first.token) is None
    assert await sessions.end_all("j.martin", "disabled") == 1
    assert await sessions.get(second.token) is None
    assert [s.user for s in await sessions.live()] == ["p.leroy"]
