"""The video wall: alarm tiles and wall monitors, fed by the services ``wall.*``.

Browser windows of the panel connect as *wall windows* (see :mod:`cityhub.web.wall`); a
window opened as a named monitor (``/#monitor=NAME``) receives what is pushed to that name.

- ``wall.alarm`` (``camera_id``, ``priority``, ``reason``) raises an alarm: every window whose
  account sees the camera's zone gets the pending alarms in its scope, highest priority first,
  and puts them on its alarm tiles (a tile the operator has locked is never replaced).
- ``wall.dismiss`` (``alarm_id``) removes a pending alarm from every window.
- ``wall.show`` (``monitor`` and ``camera_id`` or ``layout``) pushes a camera or a saved layout
  to a monitor: a user's call reaches that user's own windows open as that monitor, after a
  scope check (a camera outside the user's zones is refused); a call without a user (an
  automation) reaches the monitors declared in the configuration (``wall.monitors``), each
  window getting only what its own account may see.

Every call goes through the service registry, so the audit log records each push (``wall.*``
in :data:`cityhub.auth.audit.AUDITED_SERVICES`).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
import voluptuous as vol

from cityhub.api import Context
from cityhub.auth.roles import Permission
from cityhub.auth.users import UserNotFoundError
from cityhub.services import ServiceCall, ServiceError, ServiceRegistry

if TYPE_CHECKING:
    from cityhub.auth.users import User, Users
    from cityhub.db import Database
    from cityhub.model import CameraConfig

__all__ = [
    "MAX_ALARMS",
    "MAX_PRIORITY",
    "Alarm",
    "WallRefusedError",
    "WallService",
    "WallWindow",
    "register_wall_services",
]

_LOGGER = logging.getLogger(__name__)

MAX_ALARMS: Final = 50
"""Pending alarms kept; beyond, the oldest of the lowest priority is dropped."""
MAX_PRIORITY: Final = 100
MONITOR_NAME: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
"""A monitor's name: letters, digits, ``_ . -``; at most 40 characters (it goes in a URL)."""


class WallRefusedError(ServiceError):
    """A push the caller may not make (a camera outside its zones, an unknown monitor)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen
class Alarm:
    """A pending alarm shown on alarm tiles until dismissed."""

    id: int
    camera_id: str
    zone: str
    priority: int
    reason: str
    raised_at: datetime
    raised_by: str

    def as_dict(self) -> dict[str, Any]:
        """The alarm as the panel receives it."""
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "priority": self.priority,
            "reason": self.reason,
            "raised_at": self.raised_at.isoformat(timespec="milliseconds"),
            "raised_by": self.raised_by,
        }


class WallWindow(Protocol):
    """One connected panel window: its account, its monitor name (or none), its sender."""

    @property
    def user_name(self) -> str:
        """The window's account."""

    @property
    def monitor(self) -> str | None:
        """The monitor this window is, or None for an operator's console."""

    async def async_send(self, message: dict[str, Any]) -> None:
        """Send a JSON message to the window."""


class WallService:
    """Pending alarms, the connected windows and the pushes between them."""

    def __init__(
        self,
        cameras: Sequence[CameraConfig],
        monitors: Sequence[str],
        users: Users | None,
        db: Database | None,
    ) -> None:
        self._zones = {c.id: c.zone for c in cameras}
        self.monitors: tuple[str, ...] = tuple(monitors)
        self._users = users
        self._db = db
        self._windows: list[WallWindow] = []
        self._alarms: dict[int, Alarm] = {}
        self._ids = itertools.count(1)

    # --- windows --------------------------------------------------------------------------

    async def async_connect(self, window: WallWindow) -> Callable[[], Awaitable[None]]:
        """Add a window: it gets the alarms in its scope now; returns its disconnect."""
        self._windows.append(window)
        await self._send_alarms(window)
        await self._announce_monitors(window.user_name)

        async def disconnect() -> None:
            if window in self._windows:
                self._windows.remove(window)
                await self._announce_monitors(window.user_name)

        return disconnect

    def open_monitors(self, user_name: str) -> list[str]:
        """The monitor names of the windows ``user_name`` has open, sorted."""
        return sorted({w.monitor for w in self._windows if w.user_name == user_name and w.monitor})

    async def _announce_monitors(self, user_name: str) -> None:
        message = {"type": "monitors", "open": self.open_monitors(user_name),
                   "declared": list(self.monitors)}  # fmt: skip
        for window in [w for w in self._windows if w.user_name == user_name]:
            await self._send(window, message)

    async def _send(self, window: WallWindow, message: dict[str, Any]) -> None:
        try:
            await window.async_send(message)
        except (ConnectionError, RuntimeError) as err:  # a window closing meanwhile
            _LOGGER.debug("Wall window of %s gone: %s", window.user_name, err)

    async def _user(self, name: str) -> User | None:
        if self._users is None:
            return None
        try:
            return await self._users.get(name)
        except UserNotFoundError:
            return None

    async def _may_watch(self, user_name: str, camera_id: str) -> bool:
        user = await self._user(user_name)
        zone = self._zones.get(camera_id)
        return user is not None and zone is not None and user.can(Permission.LIVE, _now(), zone)

    # --- alarms ---------------------------------------------------------------------------

    def alarms(self) -> list[Alarm]:
        """The pending alarms, highest priority first, then the newest."""
        return sorted(self._alarms.values(), key=lambda a: (-a.priority, -a.id))

    async def async_alarm(
        self, camera_id: str, priority: int, reason: str, context: Context
    ) -> Alarm:
        """Raise an alarm on ``camera_id`` and send it to every window in its scope."""
        zone = self._camera_zone(camera_id)
        alarm = Alarm(next(self._ids), camera_id, zone, priority, reason, _now(), context.origin)
        self._alarms[alarm.id] = alarm
        if len(self._alarms) > MAX_ALARMS:
            lowest = min(self._alarms.values(), key=lambda a: (a.priority, a.id))
            del self._alarms[lowest.id]
        await self._broadcast_alarms()
        return alarm

    async def async_dismiss(self, alarm_id: int, context: Context) -> Alarm:
        """Remove a pending alarm (a user must see its camera's zone)."""
        alarm = self._alarms.get(alarm_id)
        if alarm is None:
            raise WallRefusedError("unknown_alarm", f"no pending alarm {alarm_id}")
        if context.user is not None and not await self._may_watch(context.user, alarm.camera_id):
            raise WallRefusedError("forbidden", f"alarm {alarm_id} is outside your zones")
        del self._alarms[alarm_id]
        await self._broadcast_alarms()
        return alarm

    async def _broadcast_alarms(self) -> None:
        for window in list(self._windows):
            await self._send_alarms(window)

    async def _send_alarms(self, window: WallWindow) -> None:
        user = await self._user(window.user_name)
        visible = [
            a.as_dict()
            for a in self.alarms()
            if user is not None and user.can(Permission.LIVE, _now(), a.zone)
        ]
        await self._send(window, {"type": "alarms", "alarms": visible})

    # --- monitors -------------------------------------------------------------------------

    async def async_show(
        self,
        monitor: str,
        camera_id: str | None,
        layout: str | None,
        tile: int | None,
        context: Context,
    ) -> int:
        """Push a camera or a saved layout to ``monitor``; returns how many windows got it."""
        if (camera_id is None) == (layout is None):
            raise WallRefusedError("bad_request", "give either camera_id or layout")
        if camera_id is not None:
            self._camera_zone(camera_id)
        if context.user is not None:
            if camera_id is not None and not await self._may_watch(context.user, camera_id):
                raise WallRefusedError(
                    "forbidden", f"you may not watch {camera_id}: it is outside your zones"
                )
            targets = [
                w for w in self._windows if w.user_name == context.user and w.monitor == monitor
            ]
            if not targets:
                raise WallRefusedError(
                    "no_monitor", f"no window is open as monitor {monitor!r}: open it first"
                )
        else:
            if monitor not in self.monitors:
                raise WallRefusedError(
                    "unknown_monitor",
                    f"monitor {monitor!r} is not declared (wall.monitors in cityhub.yaml)",
                )
            targets = [w for w in self._windows if w.monitor == monitor]
        message: dict[str, Any] = {"type": "show", "monitor": monitor, "by": context.origin}
        if layout is not None:
            message["layout"] = await self._layout(layout, context.user)
            message["layout_name"] = layout
        sent = 0
        for window in targets:
            if camera_id is not None:
                if not await self._may_watch(window.user_name, camera_id):
                    continue
                await self._send(window, {**message, "camera_id": camera_id, "tile": tile})
            else:
                await self._send(window, message)
            sent += 1
        return sent

    async def _layout(self, name: str, user_name: str | None) -> Any:
        if self._db is None:
            raise WallRefusedError("no_database", "the hub has no database for saved layouts")
        row = await self._db.fetchone(
            "SELECT data FROM layouts WHERE name = ? AND (owner = ? OR owner IS NULL)"
            " ORDER BY owner IS NULL LIMIT 1",
            (name, user_name),
        )
        if row is None:
            raise WallRefusedError("unknown_layout", f"no saved layout {name!r}")
        return json.loads(row["data"])

    def _camera_zone(self, camera_id: str) -> str:
        zone = self._zones.get(camera_id)
        if zone is None:
            raise WallRefusedError("unknown_camera", f"no camera {camera_id!r}")
        return zone


def _now() -> datetime:
    return datetime.now(UTC)


def register_wall_services(
    services: ServiceRegistry, wall: WallService, camera_ids: Sequence[str]
) -> Callable[[], None]:
    """Register ``wall.alarm``, ``wall.dismiss`` and ``wall.show``; returns their removal."""
    camera = vol.In(list(camera_ids))
    monitor = vol.All(str, vol.Match(MONITOR_NAME, msg="a monitor name: letters, digits, _ . -"))

    async def alarm(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        raised = await wall.async_alarm(
            data["camera_id"], data["priority"], data["reason"], call.context
        )
        return raised.as_dict()

    async def dismiss(call: ServiceCall) -> dict[str, Any]:
        return (await wall.async_dismiss(call.data["alarm_id"], call.context)).as_dict()

    async def show(call: ServiceCall) -> dict[str, Any]:
        data: Mapping[str, Any] = call.data
        sent = await wall.async_show(
            data["monitor"], data.get("camera_id"), data.get("layout"), data.get("tile"),
            call.context,
        )  # fmt: skip
        return {"monitor": data["monitor"], "windows": sent}

    removers = [
        services.register(
            "wall",
            "alarm",
            alarm,
            vol.Schema(
                {
                    vol.Required("camera_id"): camera,
                    vol.Optional("priority", default=1): vol.All(
                        int, vol.Range(1, MAX_PRIORITY, msg=f"a priority is 1 to {MAX_PRIORITY}")
                    ),
                    vol.Optional("reason", default=""): vol.All(str, vol.Length(max=200)),
                }
            ),
            "Put a camera on the alarm tiles of every wall in its zone, with a reason.",
        ),
        services.register(
            "wall",
            "dismiss",
            dismiss,
            vol.Schema({vol.Required("alarm_id"): int}),
            "Dismiss a pending wall alarm.",
        ),
        services.register(
            "wall",
            "show",
            show,
            vol.Schema(
                {
                    vol.Required("monitor"): monitor,
                    vol.Exclusive("camera_id", "what"): camera,
                    vol.Exclusive("layout", "what"): vol.All(str, vol.Length(1, 80)),
                    vol.Optional("tile"): vol.All(int, vol.Range(0, 48)),
                }
            ),
            "Push a camera or a saved layout to a wall monitor.",
        ),
    ]

    def remove() -> None:
        for remover in removers:
            remover()

    return remove
