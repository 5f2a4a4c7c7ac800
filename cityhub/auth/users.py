"""Named accounts: who they are, what they may see and do, and how they prove it.

Accounts live in the database (not in YAML: they change daily and carry password hashes).
An account is never deleted, only disabled, so registers and the audit trail keep naming
people. Every change fires an event whose Context says who made it: the audit trail is
written from the bus, in one place.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import attrs

from cityhub.api import Context
from cityhub.auth.passwords import (
    check_password_rules,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from cityhub.auth.roles import ROLE_PERMISSIONS, VIDEO_PERMISSIONS, Permission, Role
from cityhub.auth.totp import new_secret, verify_totp
from cityhub.bus import EventBus
from cityhub.db import Database, format_utc, parse_utc

__all__ = [
    "ALL_ZONES",
    "EVENT_LOGIN",
    "EVENT_LOGIN_FAILED",
    "EVENT_LOGOUT",
    "EVENT_USER_CHANGED",
    "FIRST_ADMIN",
    "LOCKOUT_AFTER",
    "LOCKOUT_S",
    "Habilitation",
    "LoginError",
    "LoginFailure",
    "User",
    "UserError",
    "UserNotFoundError",
    "Users",
]

_LOGGER = logging.getLogger(__name__)

ALL_ZONES: Final = "*"
"""A scope entry meaning every zone, present and future."""
FIRST_ADMIN: Final = "admin"
"""The account the first start creates when there is none."""
LOCKOUT_AFTER: Final = 5
"""Failed logins in a row that lock an account: enough for typos, too few to guess."""
LOCKOUT_S: Final = 15 * 60
"""How long a locked account stays locked (seconds), unless an admin unlocks it sooner."""

EVENT_LOGIN: Final = "auth.login"
"""Someone logged in; data: user, client_address."""
EVENT_LOGOUT: Final = "auth.logout"
"""Someone logged out; data: user, client_address."""
EVENT_LOGIN_FAILED: Final = "auth.login_failed"
"""A login was refused; data: user (as typed), reason, client_address."""
EVENT_USER_CHANGED: Final = "auth.user_changed"
"""An account was created or changed; data: user, change, and the new values (no secrets)."""

_NAME = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
# A real argon2id hash of a random password: checking it costs what checking a real account
# does, so a wrong name answers as slowly as a wrong password.
_DUMMY_HASH = hash_password(generate_password())


class UserError(Exception):
    """A change to accounts cannot be made; the message says why."""


class UserNotFoundError(UserError):
    """No account has this name."""


class LoginFailure(enum.StrEnum):
    """Why a login was refused (kept in the audit trail; the client only learns "refused")."""

    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    BAD_SECOND_FACTOR = "bad_second_factor"


class LoginError(Exception):
    """A login was refused: ``failure`` says why, ``locked_until`` when a lock ends."""

    def __init__(self, failure: LoginFailure, locked_until: datetime | None = None) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.locked_until = locked_until


@attrs.frozen
class Habilitation:
    """The order designating an agent to view footage: reference, date, expiry (inclusive)."""

    reference: str
    granted: date
    expires: date

    def valid_on(self, day: date) -> bool:
        """Whether the habilitation is in force on ``day``."""
        return self.granted <= day <= self.expires


@attrs.frozen
class User:
    """An account as the server checks it (no password hash, no second-factor secret)."""

    name: str
    display_name: str
    role: Role
    zones: tuple[str, ...]
    habilitation: Habilitation | None
    must_change_password: bool
    second_factor: bool
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    def sees_zone(self, zone: str) -> bool:
        """Whether the cameras of ``zone`` are in this user's scope."""
        return ALL_ZONES in self.zones or zone in self.zones

    def habilitated(self, now: datetime) -> bool:
        """Whether the user holds a habilitation in force at ``now`` (the hub's local date)."""
        return self.habilitation is not None and self.habilitation.valid_on(now.date())

    def can(self, permission: Permission, now: datetime, zone: str | None = None) -> bool:
        """Whether the user may use ``permission`` at ``now`` (on a camera of ``zone``).

        A disabled account may do nothing; the role must grant the permission; a permission on
        video needs a habilitation in force; a camera's zone must be in the user's scope.
        """
        if self.disabled or permission not in ROLE_PERMISSIONS[self.role]:
            return False
        if permission in VIDEO_PERMISSIONS and not self.habilitated(now):
            return False
        return zone is None or self.sees_zone(zone)

    def describe(self) -> dict[str, Any]:
        """The account as JSON-ready values (for events, the audit trail and the API)."""
        habilitation = self.habilitation
        return {
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role.value,
            "zones": list(self.zones),
            "habilitation": None
            if habilitation is None
            else {
                "reference": habilitation.reference,
                "granted": habilitation.granted.isoformat(),
                "expires": habilitation.expires.isoformat(),
            },
            "second_factor": self.second_factor,
            "disabled": self.disabled,
        }


def _user(row: sqlite3.Row) -> User:
    habilitation = None
    if row["habilitation_reference"] is not None:
        habilitation = Habilitation(
            row["habilitation_reference"],
            date.fromisoformat(row["habilitation_date"]),
            date.fromisoformat(row["habilitation_expires"]),
        )
    return User(
        name=row["name"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        zones=tuple(json.loads(row["zones"])),
        habilitation=habilitation,
        must_change_password=bool(row["must_change_password"]),
        second_factor=row["totp_secret"] is not None,
        disabled=row["disabled_at"] is not None,
        locked_until=None if row["locked_until"] is None else parse_utc(row["locked_until"]),
        created_at=parse_utc(row["created_at"]),
        last_login_at=None if row["last_login_at"] is None else parse_utc(row["last_login_at"]),
    )


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(
            f"invalid account name {name!r}: use 1-64 lower-case letters, digits, '.', '_' or "
            f"'-', starting with a letter (one account per person, e.g. 'j.martin')"
        )
    return name


def _check_zones(zones: Iterable[str]) -> tuple[str, ...]:
    found = tuple(dict.fromkeys(z.strip() for z in zones if z.strip()))
    if not found:
        raise UserError(f"a user needs at least one zone in scope ({ALL_ZONES!r} for all)")
    return found


class Users:
    """The accounts in the database: create, change, authenticate. Runs in the event loop."""

    def __init__(
        self,
        db: Database,
        bus: EventBus | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))

    def _fire(self, event_type: str, data: dict[str, Any], context: Context) -> None:
        if self._bus is not None:
            self._bus.async_fire(event_type, data, context)

    # --- reading ---------------------------------------------------------------------------

    async def get(self, name: str) -> User:
        """The account called ``name``; raises :class:`UserNotFoundError`."""
        row = await self._db.fetchone("SELECT * FROM users WHERE name = ?", (name,))
        if row is None:
            raise UserNotFoundError(f"no account is called {name!r}")
        return _user(row)

    async def password_hash(self, name: str) -> str:
        """The stored argon2id hash of ``name``'s password (to re-check it before a change)."""
        row = await self._db.fetchone("SELECT password_hash FROM users WHERE name = ?", (name,))
        if row is None:
            raise UserNotFoundError(f"no account is called {name!r}")
        return str(row["password_hash"])

    async def all(self) -> list[User]:
        """Every account, disabled ones included, by name."""
        return [_user(row) for row in await self._db.fetchall("SELECT * FROM users ORDER BY name")]

    async def count(self) -> int:
        """How many accounts exist (disabled ones included)."""
        row = await self._db.fetchone("SELECT count(*) AS n FROM users")
        return int(row["n"]) if row is not None else 0

    # --- changing --------------------------------------------------------------------------

    async def create(
        self,
        name: str,
        role: Role,
        context: Context,
        *,
        display_name: str | None = None,
        zones: Sequence[str] = (ALL_ZONES,),
        password: str | None = None,
        habilitation: Habilitation | None = None,
    ) -> tuple[User, str | None]:
        """Create an account; return it and, when no password was given, a one-time password.

        A generated password must be changed at first login; a given one must follow the
        rules (:func:`check_password_rules`).
        """
        _check_name(name)
        scope = _check_zones(zones)
        one_time = None
        if password is None:
            password = one_time = generate_password()
        else:
            check_password_rules(password, name)
        _check_habilitation(habilitation)
        password_hash = await asyncio.to_thread(hash_password, password)
        stamp = format_utc(self._clock())
        try:
            await self._db.execute(
                "INSERT INTO users (name, display_name, role, zones, password_hash,"
                " must_change_password, habilitation_reference, habilitation_date,"
                " habilitation_expires, created_at, created_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    display_name or name,
                    role.value,
                    json.dumps(scope),
                    password_hash,
                    int(one_time is not None),
                    *_habilitation_columns(habilitation),
                    stamp,
                    context.origin,
                    stamp,
                ),
            )
        except sqlite3.IntegrityError as err:
            raise UserError(f"an account called {name!r} already exists") from err
        user = await self.get(name)
        self._fire(
            EVENT_USER_CHANGED, {"user": name, "change": "created", **user.describe()}, context
        )
        return user, one_time

    async def set_password(
        self, name: str, context: Context, password: str | None = None
    ) -> str | None:
        """Set a new password (or a one-time one, returned, to change at next login).

        Unlocks the account. Sessions are ended by the caller (see :class:`Sessions`).
        """
        await self.get(name)
        one_time = None
        if password is None:
            password = one_time = generate_password()
        else:
            check_password_rules(password, name)
        password_hash = await asyncio.to_thread(hash_password, password)
        await self._update(
            name,
            "password_hash = ?, must_change_password = ?, failed_logins = 0, locked_until = NULL",
            (password_hash, int(one_time is not None)),
        )
        change = "password_reset" if one_time is not None else "password_changed"
        self._fire(EVENT_USER_CHANGED, {"user": name, "change": change}, context)
        return one_time

    async def set_role(self, name: str, role: Role, context: Context) -> User:
        """Give ``name`` another role."""
        await self._update(name, "role = ?", (role.value,))
        return await self._changed(name, "role", context)

    async def set_zones(self, name: str, zones: Sequence[str], context: Context) -> User:
        """Replace the zones in ``name``'s scope."""
        await self._update(name, "zones = ?", (json.dumps(_check_zones(zones)),))
        return await self._changed(name, "zones", context)

    async def set_habilitation(
        self, name: str, habilitation: Habilitation | None, context: Context
    ) -> User:
        """Record (or, with ``None``, withdraw) the order that designates ``name``."""
        _check_habilitation(habilitation)
        await self._update(
            name,
            "habilitation_reference = ?, habilitation_date = ?, habilitation_expires = ?",
            _habilitation_columns(habilitation),
        )
        return await self._changed(name, "habilitation", context)

    async def set_disabled(self, name: str, disabled: bool, context: Context) -> User:
        """Disable (nothing allowed, sessions to end) or enable ``name`` again."""
        stamp = format_utc(self._clock()) if disabled else None
        await self._update(name, "disabled_at = ?", (stamp,))
        return await self._changed(name, "disabled" if disabled else "enabled", context)

    async def unlock(self, name: str, context: Context) -> User:
        """Lift a lockout before it ends by itself."""
        await self._update(name, "failed_logins = 0, locked_until = NULL", ())
        return await self._changed(name, "unlocked", context)

    async def enable_second_factor(self, name: str, context: Context) -> str:
        """Give ``name`` a new TOTP secret (returned once, for the authenticator app)."""
        secret = new_secret()
        await self._update(name, "totp_secret = ?", (secret,))
        await self._changed(name, "second_factor_enabled", context)
        return secret

    async def disable_second_factor(self, name: str, context: Context) -> User:
        """Remove ``name``'s second factor (a lost phone)."""
        await self._update(name, "totp_secret = NULL", ())
        return await self._changed(name, "second_factor_disabled", context)

    async def _update(self, name: str, assignments: str, params: tuple[Any, ...]) -> None:
        changed = await self._db.execute(
            f"UPDATE users SET {assignments}, updated_at = ? WHERE name = ?",  # noqa: S608
            (*params, format_utc(self._clock()), name),
        )
        if not changed:
            raise UserNotFoundError(f"no account is called {name!r}")

    async def _changed(self, name: str, change: str, context: Context) -> User:
        user = await self.get(name)
        self._fire(EVENT_USER_CHANGED, {"user": name, "change": change, **user.describe()}, context)
        return user

    # --- proving who one is ----------------------------------------------------------------

    async def authenticate(
        self,
        name: str,
        password: str,
        second_factor: str | None = None,
        *,
        client_address: str | None = None,
    ) -> User:
        """The account if ``password`` (and the second factor, if it has one) are right.

        Raises :class:`LoginError`. A wrong password counts towards the lockout; the
        ``LOCKOUT_AFTER``-th locks the account for ``LOCKOUT_S``. An unknown name costs the
        same time as a wrong password and reads the same to the client.
        """
        now = self._clock()
        row = await self._db.fetchone("SELECT * FROM users WHERE name = ?", (name,))
        stored = row["password_hash"] if row is not None else _DUMMY_HASH
        matches = await asyncio.to_thread(verify_password, stored, password)
        try:
            if row is None:
                raise LoginError(LoginFailure.BAD_CREDENTIALS)
            user = _user(row)
            if user.locked_until is not None and user.locked_until > now:
                raise LoginError(LoginFailure.LOCKED, user.locked_until)
            if not matches:
                await self._count_failure(row, now)
                raise LoginError(LoginFailure.BAD_CREDENTIALS)
            if user.disabled:
                raise LoginError(LoginFailure.DISABLED)
            if row["totp_secret"] is not None:
                if not second_factor:
                    raise LoginError(LoginFailure.SECOND_FACTOR_REQUIRED)
                if not verify_totp(row["totp_secret"], second_factor, now.timestamp()):
                    await self._count_failure(row, now)
                    raise LoginError(LoginFailure.BAD_SECOND_FACTOR)
        except LoginError as err:
            self._fire(
                EVENT_LOGIN_FAILED,
                {"user": name, "reason": err.failure.value, "client_address": client_address},
                Context(user=name if row is not None else None),
            )
            raise
        rehash = await asyncio.to_thread(needs_rehash, stored)
        new_hash = await asyncio.to_thread(hash_password, password) if rehash else stored
        await self._db.execute(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?,"
            " password_hash = ? WHERE name = ?",
            (format_utc(now), new_hash, name),
        )
        self._fire(
            EVENT_LOGIN, {"user": name, "client_address": client_address}, Context(user=name)
        )
        return await self.get(name)

    async def _count_failure(self, row: sqlite3.Row, now: datetime) -> None:
        failures = int(row["failed_logins"]) + 1
        locked_until = None
        if failures >= LOCKOUT_AFTER:
            locked_until = format_utc(now + timedelta(seconds=LOCKOUT_S))
            _LOGGER.warning(
                "Account %s locked for %d min after %d failed logins",
                row["name"],
                LOCKOUT_S // 60,
                failures,
            )
            failures = 0
        await self._db.execute(
            "UPDATE users SET failed_logins = ?, locked_until = coalesce(?, locked_until)"
            " WHERE name = ?",
            (failures, locked_until, row["name"]),
        )

    async def ensure_first_admin(self) -> str | None:
        """Create the ``admin`` account when there is no account at all.

        Returns its one-time password (to print once, never to log), or ``None`` when
        accounts exist. The admin has no habilitation: it manages accounts and configuration,
        and sees video only once a habilitation is recorded for it.
        """
        if await self.count():
            return None
        _user, one_time = await self.create(
            FIRST_ADMIN,
            Role.ADMIN,
            Context(),
            display_name="Administrator",
        )
        return one_time


def _check_habilitation(habilitation: Habilitation | None) -> None:
    if habilitation is None:
        return
    if not habilitation.reference.strip():
        raise UserError("a habilitation needs the reference of the order designating the agent")
    if habilitation.expires < habilitation.granted:
        raise UserError(
            f"the habilitation expires ({habilitation.expires}) before it is granted "
            f"({habilitation.granted})"
        )


def _habilitation_columns(habilitation: Habilitation | None) -> tuple[str | None, ...]:
    if habilitation is None:
        return (None, None, None)
    return (
        habilitation.reference.strip(),
        habilitation.granted.isoformat(),
        habilitation.expires.isoformat(),
    )
