"""Accounts on a real database: creation, scope, habilitation, login, lockout, second factor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cityhub.api import Context
from cityhub.auth.passwords import WeakPasswordError
from cityhub.auth.roles import Permission, Role
from cityhub.auth.totp import totp
from cityhub.auth.users import (
    EVENT_LOGIN,
    EVENT_LOGIN_FAILED,
    EVENT_USER_CHANGED,
    LOCKOUT_AFTER,
    LOCKOUT_S,
    Habilitation,
    LoginError,
    LoginFailure,
    UserError,
    UserNotFoundError,
    Users,
)
from cityhub.bus import Event, EventBus
from cityhub.db import Database

ADMIN = Context(user="chef.dupont")
PASSWORD = "Vidéoprotection-2026"


class Clock:
    """The tests' clock: a fixed instant moved by hand (lockouts last 15 minutes)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "hub.db")
    yield database
    await database.close()


@pytest.fixture
def events() -> tuple[EventBus, list[Event]]:
    bus, seen = EventBus(), []
    bus.subscribe("auth.*", seen.append)
    return bus, seen


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(db: Database, events: tuple[EventBus, list[Event]], clock: Clock) -> Users:
    return Users(db, events[0], clock=clock)


HABILITATION = Habilitation("Arrêté 2026-114", date(2026, 1, 5), date(2027, 1, 4))


async def test_create_with_a_one_time_password_to_change_at_first_login(
    users: Users, events: tuple[EventBus, list[Event]]
) -> None:
    user, one_time = await users.create(
        "j.martin", Role.OPERATOR, ADMIN, display_name="Julie Martin", zones=["centre", "gare"]
    )
    assert one_time is not None
    assert len(one_time) == 20
    assert user.must_change_password
    assert user.zones == ("centre", "gare")
    assert user.habilitation is None
    assert (await users.authenticate("j.martin", one_time)).name == "j.martin"
    created = next(e for e in events[1] if e.event_type == EVENT_USER_CHANGED)
    assert created.context.user == "chef.dupont"
    assert created.data["change"] == "created"
    assert "password" not in str(created.data).lower().replace("must_change_password", "")


async def test_names_duplicates_scopes_and_weak_passwords_are_refused(users: Users) -> None:
    with pytest.raises(UserError, match="invalid account name"):
        await users.create("Julie Martin", Role.OPERATOR, ADMIN)
    with pytest.raises(UserError, match="at least one zone"):
        await users.create("j.martin", Role.OPERATOR, ADMIN, zones=[" "])
    with pytest.raises(WeakPasswordError):
        await users.create("j.martin", Role.OPERATOR, ADMIN, password="court")
    bad = Habilitation("A-1", date(2026, 5, 1), date(2026, 4, 1))
    with pytest.raises(UserError, match=r"expires .* before it is granted"):
        await users.create("j.martin", Role.OPERATOR, ADMIN, habilitation=bad)
    await users.create("j.martin", Role.OPERATOR, ADMIN, password=PASSWORD)
    with pytest.raises(UserError, match="already exists"):
        await users.create("j.martin", Role.VIEWER, ADMIN)
    with pytest.raises(UserNotFoundError):
        await users.set_role("nobody", Role.ADMIN, ADMIN)


async def test_video_needs_role_scope_and_a_habilitation_in_force(
    users: Users, clock: Clock
) -> None:
    user, _ = await users.create(
        "j.martin", Role.OPERATOR, ADMIN, zones=["centre"], habilitation=HABILITATION
    )
    now = clock.now
    assert user.can(Permission.LIVE, now, zone="centre")
    assert not user.can(Permission.LIVE, now, zone="gare")  # out of scope
    assert not user.can(Permission.EXPORT, now, zone="centre")  # not an operator's
    assert not user.can(Permission.USERS, now)
    expired = datetime(2027, 1, 5, 0, 30, tzinfo=UTC)
    assert user.can(Permission.LIVE, datetime(2027, 1, 4, 23, 0, tzinfo=UTC), zone="centre")
    assert not user.can(Permission.LIVE, expired, zone="centre")
    assert user.can(Permission.LOGBOOK, expired)  # not video: the habilitation is not needed

    admin, _ = await users.create("chef.dupont", Role.ADMIN, ADMIN)
    assert admin.can(Permission.USERS, now)
    assert admin.can(Permission.CONFIG, now)
    assert not admin.can(Permission.LIVE, now, zone="centre")  # no habilitation yet
    admin = await users.set_habilitation("chef.dupont", HABILITATION, ADMIN)
    assert admin.can(Permission.EXPORT, now, zone="anything")  # scope "*"
    disabled = await users.set_disabled("chef.dupont", True, ADMIN)
    assert not disabled.can(Permission.LOGBOOK, now)


async def test_wrong_passwords_lock_the_account_for_a_while(
    users: Users, clock: Clock, events: tuple[EventBus, list[Event]]
) -> None:
    await users.create("j.martin", Role.OPERATOR, ADMIN, password=PASSWORD)
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(LoginError) as refused:
            await users.authenticate("j.martin", "not it", client_address="10.0.0.9")
        assert refused.value.failure is LoginFailure.BAD_CREDENTIALS
    with pytest.raises(LoginError) as locked:
        await users.authenticate("j.martin", PASSWORD)  # even the right one, while locked
    assert locked.value.failure is LoginFailure.LOCKED
    assert locked.value.locked_until == clock.now + timedelta(seconds=LOCKOUT_S)
    failed = [e for e in events[1] if e.event_type == EVENT_LOGIN_FAILED]
    assert len(failed) == LOCKOUT_AFTER + 1
    assert failed[0].data == {
        "user": "j.martin",
        "reason": "bad_credentials",
        "client_address": "10.0.0.9",
    }

    clock.now += timedelta(seconds=LOCKOUT_S + 1)
    assert (await users.authenticate("j.martin", PASSWORD)).name == "j.martin"
    assert [e.event_type for e in events[1]][-1] == EVENT_LOGIN
    # the count starts again after a success
    for _ in range(LOCKOUT_AFTER - 1):
        with pytest.raises(LoginError):
            await users.authenticate("j.martin", "not it")
    assert (await users.authenticate("j.martin", PASSWORD)).locked_until is None


async def test_unknown_names_and_disabled_accounts_are_refused(users: Users) -> None:
    with pytest.raises(LoginError) as unknown:
        await users.authenticate("personne", PASSWORD)
    assert unknown.value.failure is LoginFailure.BAD_CREDENTIALS
    await users.create("j.martin", Role.OPERATOR, ADMIN, password=PASSWORD)
    await users.set_disabled("j.martin", True, ADMIN)
    with pytest.raises(LoginError) as disabled:
        await users.authenticate("j.martin", PASSWORD)
    assert disabled.value.failure is LoginFailure.DISABLED
    await users.set_disabled("j.martin", False, ADMIN)
    assert await users.authenticate("j.martin", PASSWORD)


async def test_the_second_factor_is_required_once_enabled(users: Users, clock: Clock) -> None:
    await users.create("j.martin", Role.OPERATOR, ADMIN, password=PASSWORD)
    secret = await users.enable_second_factor("j.martin", ADMIN)
    with pytest.raises(LoginError) as missing:
        await users.authenticate("j.martin", PASSWORD)
    assert missing.value.failure is LoginFailure.SECOND_FACTOR_REQUIRED
    with pytest.raises(LoginError) as wrong:
        await users.authenticate("j.martin", PASSWORD, "000000")
    assert wrong.value.failure is LoginFailure.BAD_SECOND_FACTOR
    code = totp(secret, clock.now.timestamp())
    assert (await users.authenticate("j.martin", PASSWORD, code)).second_factor
    await users.disable_second_factor("j.martin", ADMIN)
    assert await users.authenticate("j.martin", PASSWORD)


async def test_password_reset_gives_a_one_time_password_and_unlocks(users: Users) -> None:
    await users.create("j.martin", Role.OPERATOR, ADMIN, password=PASSWORD)
    for _ in range(LOCKOUT_AFTER):
        with pytest.raises(LoginError):
            await users.authenticate("j.martin", "not it")
    one_time = await users.set_password("j.martin", ADMIN)
    assert one_time is not None
    user = await users.authenticate("j.martin", one_time)
    assert user.must_change_password
    assert (
        await users.set_password("j.martin", Context(user="j.martin"), "Nouveau-mot-2026") is None
    )
    assert not (await users.authenticate("j.martin", "Nouveau-mot-2026")).must_change_password


async def test_the_first_start_creates_one_admin_once(users: Users) -> None:
    one_time = await users.ensure_first_admin()
    assert one_time is not None
    admin = await users.authenticate("admin", one_time)
    assert admin.role is Role.ADMIN
    assert admin.must_change_password
    assert await users.ensure_first_admin() is None
    assert [u.name for u in await users.all()] == ["admin"]
