"""Server-side sessions: a random token in an HttpOnly cookie, its SHA-256 in the database.

A session ends when its user logs out, after ``idle_s`` without a request, at ``absolute_s``
after login whatever the activity (one shift), or when an admin disables the account or
resets its password. Each session carries its own CSRF token, which every state-changing
request must echo in a header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from cityhub.db import Database, format_utc, parse_utc

__all__ = [
    "DEFAULT_ABSOLUTE_S",
    "DEFAULT_IDLE_S",
    "TOUCH_EVERY_S",
    "Session",
    "Sessions",
]

DEFAULT_IDLE_S: Final = 60 * 60
"""A session unused for an hour ends: a wall left open keeps its own alive with every request."""
DEFAULT_ABSOLUTE_S: Final = 12 * 60 * 60
"""No session outlives a 12-hour shift: the next agent logs in under their own name."""
TOUCH_EVERY_S: Final = 60
"""The last-seen time is written at most once a minute per session, not on every request."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@attrs.frozen
class Session:
    """A live session. ``token`` is set only on the value :meth:`Sessions.create` returns."""

    id: str  # the token's SHA-256: safe to show and log
    user: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str | None
    token: str | None = attrs.field(default=None, repr=False)

    def csrf_ok(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (compared in constant time)."""
        return presented is not None and hmac.compare_digest(presented, self.csrf_token)


class Sessions:
    """The sessions table; every method runs in the event loop."""

    def __init__(
        self,
        db: Database,
        *,
        idle_s: float = DEFAULT_IDLE_S,
        absolute_s: float = DEFAULT_ABSOLUTE_S,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._db = db
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self._clock = clock or (lambda: datetime.now(UTC))

    async def create(
        self, user: str, *, client_address: str | None = None, user_agent: str | None = None
    ) -> Session:
        """Open a session for ``user``; the returned value alone carries the token."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self.absolute_s)
        await self._db.execute(
            "INSERT INTO sessions (token_hash, user_name, csrf_token, created_at, last_seen_at,"
            " expires_at, client_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _digest(token),
                user,
                csrf,
                format_utc(now),
                format_utc(now),
                format_utc(expires),
                client_address,
                (user_agent or "")[:200] or None,
            ),
        )
        return Session(_digest(token), user, csrf, now, now, expires, client_address, token)

    async def get(self, token: str) -> Session | None:
        """The live session of ``token``, its last-seen time renewed; ``None`` if it ended.

        An expired or idle session is ended on the way (reason ``expired`` or ``idle``).
        """
        if not token:
            return None
        now = self._clock()
        row = await self._db.fetchone(
            "SELECT * FROM sessions WHERE token_hash = ? AND ended_at IS NULL", (_digest(token),)
        )
        if row is None:
            return None
        session = Session(
            id=row["token_hash"],
            user=row["user_name"],
            csrf_token=row["csrf_token"],
            created_at=parse_utc(row["created_at"]),
            last_seen_at=parse_utc(row["last_seen_at"]),
            expires_at=parse_utc(row["expires_at"]),
            client_address=row["client_address"],
        )
        if now >= session.expires_at:
            await self._end(session.id, "expired", now)
            return None
        if (now - session.last_seen_at).total_seconds() > self.idle_s:
            await self._end(session.id, "idle", now)
            return None
        if (now - session.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
            await self._db.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?",
                (format_utc(now), session.id),
            )
            session = attrs.evolve(session, last_seen_at=now)
        return session

    async def end(self, session_id: str, reason: str = "logout") -> bool:
        """End one session (by its id); return whether it was live."""
        return await self._end(session_id, reason, self._clock())

    async def end_all(self, user: str, reason: str) -> int:
        """End every live session of ``user`` (disabled, password reset); return how many."""
        return await self._db.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ?"
            " WHERE user_name = ? AND ended_at IS NULL",
            (format_utc(self._clock()), reason, user),
        )

    async def live(self, user: str | None = None) -> list[Session]:
        """Sessions not ended (of ``user``, or all), newest first, without tokens."""
        rows = await self._db.fetchall(
            "SELECT * FROM sessions WHERE ended_at IS NULL AND (? IS NULL OR user_name = ?)"
            " ORDER BY created_at DESC",
            (user, user),
        )
        return [
            Session(
                id=row["token_hash"],
                user=row["user_name"],
                csrf_token=row["csrf_token"],
                created_at=parse_utc(row["created_at"]),
                last_seen_at=parse_utc(row["last_seen_at"]),
                expires_at=parse_utc(row["expires_at"]),
                client_address=row["client_address"],
            )
            for row in rows
        ]

    async def _end(self, session_id: str, reason: str, now: datetime) -> bool:
        changed = await self._db.execute(
            "UPDATE sessions SET ended_at = ?, end_reason = ?"
            " WHERE token_hash = ? AND ended_at IS NULL",
            (format_utc(now), reason, session_id),
        )
        return changed > 0
