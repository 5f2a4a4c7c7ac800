"""The PTZ service: steering any driver's PTZ, with arbitration, a dead-man stop, tours, home.

Every command names a camera and carries the caller's :class:`~cityhub.api.Context`, whose
priority (:func:`priority_of`) decides who steers:

- A camera's *control lock* has one holder (``user:NAME``, ``automation:ID``, ``system`` or
  ``tour:NAME``), a priority and a start time. A command from the holder, or on a free camera,
  takes or keeps the lock. A higher priority takes it over. An equal or lower one is refused
  with :class:`LockedError`, which names the holder, unless the lock is idle (no command from
  the holder for the camera's ``lock_timeout``): an idle lock is released, and anyone may take
  it. ``ptz.take`` and ``ptz.release`` take and give it back explicitly. Every change fires
  ``ptz.lock_changed``.
- ``ptz.move`` starts a continuous move; a joystick repeats it every 100-200 ms. Repeats
  refresh a timestamp; the driver is called again when the velocities change, and otherwise
  at most every ``PTZ_MOVE_REFRESH_S`` (so a driver may give its device a move timeout of a
  second or more as a second dead-man). The *dead-man* stops the camera when no move came
  for ``deadman_timeout`` (1 s by default).
- A *tour* runs through presets with dwell times, as a supervised task at the lowest priority:
  any other caller takes the camera over and the tour pauses; when the lock is released or
  idles out, the tour resumes at the step it was interrupted in.
- After ``return_home_after`` seconds with no command, no holder and no tour, the camera goes
  to its ``home_preset`` (or the driver's home position).
- A camera with a ``patrol`` (one of its tours) runs it whenever nobody steers it: from the
  hub's start, and again after ``return_home_after`` (else ``lock_timeout``) seconds with no
  command, no holder and no tour, instead of going home. Stopping it is for a while, not for
  good: the configuration says the camera patrols.

Services and the hub stage are at the end of the module (:func:`register_ptz_services`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import attrs
import voluptuous as vol

from cityhub.api import (
    PTZ,
    CameraDriver,
    CameraKind,
    Context,
    Preset,
    PTZPositioning,
    capabilities_of,
)
from cityhub.bus import EventBus
from cityhub.const import (
    EVENT_PTZ_LOCK_CHANGED,
    EVENT_PTZ_MOVE_ENDED,
    EVENT_PTZ_REFUSED,
    EVENT_PTZ_RETURNED_HOME,
    EVENT_PTZ_TOUR_CHANGED,
    PTZ_COMMAND_TIMEOUT_S,
    PTZ_MOVE_REFRESH_S,
    PTZ_STOP_RETRY_S,
    PTZ_TOUR_OFFLINE_RETRY_S,
)
from cityhub.db import format_utc
from cityhub.model import CameraConfig, Tour
from cityhub.redact import redact
from cityhub.services import ServiceCall, ServiceError, ServiceRegistry, ServiceValidationError
from cityhub.states import StateStore
from cityhub.supervisor import Supervisor

__all__ = [
    "CameraOfflineError",
    "DriverCommandError",
    "LockedError",
    "NoPositioningError",
    "NoPtzError",
    "PtzController",
    "PtzError",
    "PtzPriority",
    "PtzService",
    "TourState",
    "UnknownPresetError",
    "UnknownTourError",
    "priority_of",
    "register_ptz_services",
]

_LOGGER = logging.getLogger(__name__)

_T = TypeVar("_T")

TOUR_HOLDER_PREFIX: Final = "tour:"
DOMAIN: Final = "ptz"


class PtzPriority(enum.IntEnum):
    """Ranks of PTZ callers; a higher rank takes a camera over from a lower one.

    The web layer sets ``Context.priority`` from the user's role (an administrator above a
    supervisor above an operator); without it, a user counts as an operator, an automation as
    an automation, anything else as the system. Tours rank lowest, below the system.
    """

    TOUR = 0
    SYSTEM = 10
    AUTOMATION = 20
    OPERATOR = 30
    SUPERVISOR = 40
    ADMIN = 50


def priority_of(context: Context) -> int:
    """The rank of a caller: ``context.priority`` if set, else by origin (user > automation)."""
    if context.priority is not None:
        return context.priority
    if context.user is not None:
        return PtzPriority.OPERATOR
    if context.automation is not None:
        return PtzPriority.AUTOMATION
    return PtzPriority.SYSTEM


def priority_label(priority: int) -> str:
    """``operator`` for a known rank, the number otherwise."""
    try:
        return PtzPriority(priority).name.lower()
    except ValueError:
        return str(priority)


class PtzError(ServiceError):
    """Base class of the errors PTZ commands raise to their caller."""


class NoPtzError(PtzError):
    """The camera cannot pan, tilt or zoom (its driver has no PTZ capability)."""


class CameraOfflineError(PtzError):
    """The camera's driver is not connected."""


class NoPositioningError(PtzError):
    """The camera's driver cannot move to absolute or relative positions."""


class UnknownPresetError(PtzError):
    """No preset of the camera has that token or name."""


class UnknownTourError(PtzError):
    """The camera has no tour of that name in the configuration."""


class DriverCommandError(PtzError):
    """The driver failed to carry a command out."""


class LockedError(PtzError):
    """Another caller of equal or higher priority holds the camera."""

    def __init__(self, camera_id: str, holder: str, priority: int, since: datetime) -> None:
        super().__init__(
            f"camera {camera_id} is held by {holder} (priority {priority_label(priority)}) "
            f"since {format_utc(since)}; wait until it is released or idle, or ask someone "
            f"of higher priority"
        )
        self.camera_id = camera_id
        self.holder = holder
        self.priority = priority
        self.since = since


class TourState(enum.StrEnum):
    """Where a camera's tour stands."""

    RUNNING = "running"
    PAUSED = "paused"


@attrs.frozen
class Lock:
    """Who holds a camera's PTZ control, at which priority, since when."""

    holder: str
    priority: int
    since: datetime

    @property
    def is_tour(self) -> bool:
        """Whether a tour holds the camera."""
        return self.holder.startswith(TOUR_HOLDER_PREFIX)


@attrs.define
class _TourRun:
    tour: Tour
    step: int = 0
    state: TourState = TourState.RUNNING


def _tour_holder(tour: Tour) -> str:
    return f"{TOUR_HOLDER_PREFIX}{tour.name}"


Velocity = tuple[float, float, float]

PATROL_START_POLL_S: Final = 0.5
"""How often a patrol started with the hub looks whether its camera's driver is ready."""
_STOPPED: Final[Velocity] = (0.0, 0.0, 0.0)


class PtzController:
    """One camera's PTZ: its lock, its move, its tour and its timers (loop only)."""

    def __init__(
        self,
        camera: CameraConfig,
        driver_of: Callable[[], CameraDriver | None],
        bus: EventBus,
        states: StateStore,
        supervisor: Supervisor,
    ) -> None:
        self.camera = camera
        self.settings = camera.ptz
        self._driver_of = driver_of
        self._bus = bus
        self._states = states
        self._supervisor = supervisor
        self._clock = asyncio.get_running_loop().time
        self.lock: Lock | None = None
        self._lock_used = 0.0
        self._velocity: Velocity = _STOPPED
        self._last_move = 0.0
        self._last_sent = 0.0
        self._stop_failures = 0
        self._last_activity = self._clock()
        self._at_home = False
        self._tour: _TourRun | None = None
        self.last_command: str | None = None
        self.last_actor: str | None = None
        self.last_command_at: datetime | None = None
        self._io = asyncio.Lock()
        self._wake = asyncio.Event()
        self._lock_event = asyncio.Event()
        self._task_prefix = f"ptz:{camera.id}:"

    @property
    def camera_id(self) -> str:
        """The camera's id."""
        return self.camera.id

    @property
    def moving(self) -> bool:
        """Whether a continuous move is under way."""
        return self._velocity != _STOPPED

    # --- life -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the timer task (dead-man, idle lock, return home) and the patrol, if any."""
        self._supervisor.start(f"{self._task_prefix}timers", self._run_timers)
        if self.settings.patrol is not None:
            self._start_patrol(at_start=True)
        self._publish()

    async def async_shutdown(self, timeout: float) -> None:
        """Stop the tour and the timers; stop the camera if it is moving."""
        await self._supervisor.async_cancel(self._task_prefix, timeout=timeout)
        self._tour = None
        if self.moving and self._driver_of() is not None:
            with contextlib.suppress(PtzError):
                await self._stop_move("hub stopping", Context())

    # --- commands -------------------------------------------------------------------------

    async def async_move(self, context: Context, pan: float, tilt: float, zoom: float) -> None:
        """Start, change or keep alive a continuous move; all zero stops."""
        velocity = (pan, tilt, zoom)
        if velocity == _STOPPED:
            await self.async_stop(context)
            return
        driver = self._ptz()
        await self._arbitrate(context, "move")
        now = self._clock()
        self._last_move = now
        self._note(context.origin, "move", now)
        if velocity == self._velocity and now - self._last_sent < PTZ_MOVE_REFRESH_S:
            return
        started = not self.moving
        self._at_home = False
        self._last_sent = now
        await self._call(lambda: driver.async_ptz_move(pan, tilt, zoom))
        self._velocity = velocity
        if started:
            self._wake.set()

    async def async_stop(self, context: Context) -> None:
        """Stop any move."""
        driver = self._ptz()
        await self._arbitrate(context, "stop")
        self._note(context.origin, "stop")
        await self._call(driver.async_ptz_stop)
        self._end_move("stop", context)

    async def async_goto_preset(
        self, context: Context, preset: str, holder: str | None = None
    ) -> Preset:
        """Move to a preset named by token or name; returns the preset."""
        driver = self._ptz()
        await self._arbitrate(context, "goto_preset", holder)
        found = await self._find_preset(driver, preset)
        await self._command(
            context, "goto_preset", lambda: driver.async_ptz_goto_preset(found.token), holder
        )
        return found

    async def async_home(self, context: Context) -> None:
        """Move to the home position: the configured home preset, else the driver's own."""
        driver = self._ptz()
        await self._arbitrate(context, "home")
        await self._go_home(driver, context)

    async def async_set_preset(self, context: Context, name: str, token: str | None) -> Preset:
        """Store the current position as a preset (replacing ``token`` when given)."""
        driver = self._ptz()
        await self._arbitrate(context, "set_preset")
        return await self._command(
            context, "set_preset", lambda: driver.async_ptz_set_preset(name, token), moves=False
        )

    async def async_remove_preset(self, context: Context, preset: str) -> Preset:
        """Delete a preset named by token or name; returns it."""
        driver = self._ptz()
        await self._arbitrate(context, "remove_preset")
        found = await self._find_preset(driver, preset)
        await self._command(
            context,
            "remove_preset",
            lambda: driver.async_ptz_remove_preset(found.token),
            moves=False,
        )
        return found

    async def async_presets(self) -> list[Preset]:
        """The presets stored in the camera."""
        driver = self._ptz()
        return list(await self._call(driver.async_ptz_presets))

    async def async_absolute_move(
        self, context: Context, pan: float, tilt: float, zoom: float
    ) -> None:
        """Move to an absolute position (pan, tilt in -1..1, zoom in 0..1)."""
        driver = self._positioning()
        await self._arbitrate(context, "absolute_move")
        await self._command(
            context, "absolute_move", lambda: driver.async_ptz_absolute_move(pan, tilt, zoom)
        )

    async def async_relative_move(
        self, context: Context, pan: float, tilt: float, zoom: float
    ) -> None:
        """Move by an offset from the current position (click-to-centre)."""
        driver = self._positioning()
        await self._arbitrate(context, "relative_move")
        await self._command(
            context, "relative_move", lambda: driver.async_ptz_relative_move(pan, tilt, zoom)
        )

    async def async_take(self, context: Context) -> Lock:
        """Take the control lock without moving; a move under way stops."""
        self._ptz()
        await self._arbitrate(context, "take")
        self._note(context.origin, "take")
        lock = self.lock
        assert lock is not None
        return lock

    async def async_release(self, context: Context) -> None:
        """Give the lock back (the holder, or anyone who outranks it); a move stops."""
        lock = self.lock
        if lock is None:
            return
        if lock.holder != context.origin and priority_of(context) <= lock.priority:
            self._refuse(context, "release", lock)
        if self.moving:
            await self._stop_move("release", context)
        self._note(context.origin, "release")
        self._set_lock(None, "release", context)

    async def async_tour_start(self, context: Context, name: str) -> None:
        """Start the configured tour ``name`` (replacing a running one) and hand the lock to it."""
        try:
            tour = self.settings.tour(name)
        except KeyError:
            known = ", ".join(t.name for t in self.settings.tours) or "none configured"
            raise UnknownTourError(
                f"camera {self.camera_id} has no tour {name!r} (tours: {known}); tours are "
                f"configured under the camera's ptz: tours:"
            ) from None
        self._ptz()
        await self._arbitrate(context, "tour_start")
        self._note(context.origin, "tour_start")
        await self._cancel_tour()
        if self.moving:
            await self._stop_move("tour", context)
        self._tour = _TourRun(tour)
        self._set_lock(None, "tour", context)
        self._supervisor.start(f"{self._task_prefix}tour", lambda: self._run_tour(tour))
        self._tour_changed(context)

    async def async_tour_stop(self, context: Context) -> None:
        """Stop the running tour; the caller keeps the camera until release or idle."""
        if self._tour is None:
            return
        await self._arbitrate(context, "tour_stop")
        self._note(context.origin, "tour_stop")
        await self._cancel_tour()
        self._tour_changed(context, stopped=True)

    def status(self) -> dict[str, Any]:
        """Holder, priority, since, tour and last command, for the panel."""
        lock = self.lock
        tour = self._tour
        return {
            "camera_id": self.camera_id,
            "holder": lock.holder if lock else None,
            "priority": priority_label(lock.priority) if lock else None,
            "since": format_utc(lock.since) if lock else None,
            "tour": tour.tour.name if tour else None,
            "tour_state": tour.state.value if tour else None,
            "tour_step": tour.step if tour else None,
            "moving": self.moving,
            "last_command": self.last_command,
            "last_actor": self.last_actor,
            "last_command_at": format_utc(self.last_command_at) if self.last_command_at else None,
        }

    # --- arbitration ----------------------------------------------------------------------

    def _idle(self, now: float) -> bool:
        lock = self.lock
        return (
            lock is not None
            and not lock.is_tour
            and not self.moving
            and now - self._lock_used >= self.settings.lock_timeout
        )

    async def _arbitrate(self, context: Context, command: str, holder: str | None = None) -> None:
        """Take or keep the lock for ``context``, or raise :class:`LockedError`."""
        label = holder or context.origin
        priority = priority_of(context)
        now = self._clock()
        lock = self.lock
        if lock is not None and lock.holder == label:
            if priority != lock.priority:
                self._set_lock(attrs.evolve(lock, priority=priority), "take", context)
        elif lock is None or self._idle(now):
            self._set_lock(
                Lock(label, priority, datetime.now(UTC)), "idle" if lock else "take", context
            )
        elif priority > lock.priority:
            if self.moving:
                await self._stop_move("takeover", context)
            self._set_lock(Lock(label, priority, datetime.now(UTC)), "takeover", context)
        else:
            self._refuse(context, command, lock)
        self._lock_used = now

    def _refuse(self, context: Context, command: str, lock: Lock) -> None:
        self._bus.async_fire(
            EVENT_PTZ_REFUSED,
            {
                "camera_id": self.camera_id,
                "command": command,
                "holder": lock.holder,
                "holder_priority": priority_label(lock.priority),
                "priority": priority_label(priority_of(context)),
            },
            context,
        )
        raise LockedError(self.camera_id, lock.holder, lock.priority, lock.since)

    def _set_lock(self, new: Lock | None, cause: str, context: Context) -> None:
        old = self.lock
        self.lock = new
        self._lock_used = self._clock()
        self._bus.async_fire(
            EVENT_PTZ_LOCK_CHANGED,
            {
                "camera_id": self.camera_id,
                "holder": new.holder if new else None,
                "priority": priority_label(new.priority) if new else None,
                "since": format_utc(new.since) if new else None,
                "previous_holder": old.holder if old else None,
                "previous_priority": priority_label(old.priority) if old else None,
                "cause": cause,
            },
            context,
        )
        run = self._tour
        if run is not None and new is not None and new.holder != _tour_holder(run.tour):
            self._set_tour_state(run, TourState.PAUSED)
        self._lock_event.set()
        self._wake.set()
        self._publish()

    # --- driver calls ---------------------------------------------------------------------

    def _driver(self) -> CameraDriver:
        driver = self._driver_of()
        if driver is None:
            status = self._states.get(self.camera_id)
            where = (
                f"{status.state.value}: {status.reason}"
                if status and status.reason
                else (status.state.value if status else "not started")
            )
            raise CameraOfflineError(
                f"camera {self.camera_id} is offline ({where}); PTZ commands need its driver "
                f"connected: check the camera's network and credentials"
            )
        return driver

    def _ptz(self) -> PTZ:
        driver = self._driver()
        if not isinstance(driver, PTZ):
            raise NoPtzError(f"camera {self.camera_id} has no PTZ")
        return driver

    def _positioning(self) -> PTZPositioning:
        driver = self._driver()
        if not isinstance(driver, PTZPositioning):
            raise NoPositioningError(
                f"camera {self.camera_id} cannot move to positions (its driver "
                f"'{self.camera.driver}' has no absolute or relative moves); use ptz.move"
            )
        return driver

    async def _call(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """Run one driver call, one at a time per camera, within ``PTZ_COMMAND_TIMEOUT_S``;
        driver failures become :class:`DriverCommandError`."""
        async with self._io:
            try:
                async with asyncio.timeout(PTZ_COMMAND_TIMEOUT_S):
                    return await call()
            except PtzError:
                raise
            except TimeoutError as err:
                raise DriverCommandError(
                    f"camera {self.camera_id} did not answer within {PTZ_COMMAND_TIMEOUT_S:.0f} s; "
                    f"check the camera's network"
                ) from err
            except Exception as err:
                raise DriverCommandError(
                    f"camera {self.camera_id} did not carry the command out: "
                    f"{redact(f'{type(err).__name__}: {err}')}"
                ) from err

    async def _command(
        self,
        context: Context,
        name: str,
        call: Callable[[], Awaitable[_T]],
        holder: str | None = None,
        *,
        moves: bool = True,
    ) -> _T:
        """Run a command; one that ``moves`` the head replaces a continuous move under way."""
        self._note(holder or context.origin, name)
        if moves:
            self._at_home = False
            self._end_move("command", context)
        return await self._call(call)

    async def _find_preset(self, driver: PTZ, preset: str) -> Preset:
        presets = list(await self._call(driver.async_ptz_presets))
        for found in presets:
            if found.token == preset:
                return found
        for found in presets:
            if found.name == preset:
                return found
        known = ", ".join(f"{p.name} ({p.token})" for p in presets) or "none"
        raise UnknownPresetError(
            f"camera {self.camera_id} has no preset with token or name {preset!r} "
            f"(presets: {known})"
        )

    async def _go_home(self, driver: PTZ, context: Context) -> str | None:
        """Go to the home preset or the driver's home; returns the preset's token, if any."""
        if self.settings.home_preset is None:
            await self._command(context, "home", driver.async_ptz_home)
            self._at_home = True
            return None
        found = await self._find_preset(driver, self.settings.home_preset)
        await self._command(context, "home", lambda: driver.async_ptz_goto_preset(found.token))
        self._at_home = True
        return found.token

    async def _stop_move(self, cause: str, context: Context) -> None:
        """Stop the head; the move counts as ended only once the driver confirmed the stop."""
        driver = self._ptz()
        await self._call(driver.async_ptz_stop)
        self._end_move(cause, context)

    def _end_move(self, cause: str, context: Context) -> None:
        """Mark a move under way as ended (the camera stopped or was sent elsewhere)."""
        if not self.moving:
            return
        self._velocity = _STOPPED
        self._stop_failures = 0
        lock = self.lock
        self._bus.async_fire(
            EVENT_PTZ_MOVE_ENDED,
            {
                "camera_id": self.camera_id,
                "cause": cause,
                "moved_by": lock.holder if lock else None,
            },
            context,
        )

    def _note(self, actor: str, command: str, now: float | None = None) -> None:
        self.last_command = command
        self.last_actor = actor
        self.last_command_at = datetime.now(UTC)
        self._last_activity = now if now is not None else self._clock()

    # --- timers ---------------------------------------------------------------------------

    def _next_deadline(self) -> float | None:
        deadlines = []
        if self.moving:
            deadlines.append(self._last_move + self.settings.deadman_timeout)
        lock = self.lock
        if lock is not None and not lock.is_tour and not self.moving:
            deadlines.append(self._lock_used + self.settings.lock_timeout)
        rest = self._rest_after()
        if rest is not None:
            deadlines.append(self._last_activity + rest)
        return min(deadlines) if deadlines else None

    def _rest_after(self) -> float | None:
        """Seconds of quiet after which the camera patrols or goes home; None if it stays."""
        if self._tour is not None or self.lock is not None or self.moving:
            return None
        if self.settings.patrol is not None:
            return self.settings.return_home_after or self.settings.lock_timeout
        if self._at_home:
            return None
        return self.settings.return_home_after

    async def _run_timers(self) -> None:
        while True:
            deadline = self._next_deadline()
            self._wake.clear()
            if deadline is None:
                await self._wake.wait()
            else:
                delay = deadline - self._clock()
                if delay > 0:
                    # asyncio.timeout, not wait_for: on Python 3.11, wait_for drops a
                    # cancellation that comes as the event is set, and the task lives on.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._wake.wait()
            await self._check_timers()

    async def _check_timers(self) -> None:
        now = self._clock()
        system = Context()
        if self.moving and now - self._last_move >= self.settings.deadman_timeout:
            await self._dead_man_stop(now - self._last_move)
        if self._idle(now):
            assert self.lock is not None
            _LOGGER.info(
                "Camera %s: %s released the PTZ lock by idling %.0f s",
                self.camera_id,
                self.lock.holder,
                self.settings.lock_timeout,
            )
            self._set_lock(None, "idle", system)
        rest = self._rest_after()
        if rest is not None and now - self._last_activity >= rest:
            if self.settings.patrol is not None:
                _LOGGER.info("Camera %s: nobody steers it; patrolling again", self.camera_id)
                self._start_patrol()
            else:
                await self._return_home(system)

    async def _dead_man_stop(self, silence: float) -> None:
        """Stop a move nobody keeps alive; retried every ``PTZ_STOP_RETRY_S`` until it holds."""
        failures = self._stop_failures
        if not failures:
            _LOGGER.warning(
                "Camera %s: no ptz.move for %.1f s; stopping it (dead-man)", self.camera_id, silence
            )
        try:
            await self._stop_move("dead-man", Context())
        except PtzError as err:
            self._stop_failures = failures + 1
            _LOGGER.log(
                logging.ERROR if not failures else logging.DEBUG,
                "Camera %s: the dead-man stop failed (%s); trying again every %.0f s till it holds",
                self.camera_id,
                err,
                PTZ_STOP_RETRY_S,
            )
            self._last_move = self._clock() + PTZ_STOP_RETRY_S - self.settings.deadman_timeout
            return
        if failures:
            _LOGGER.warning(
                "Camera %s: stopped by the dead-man after %d failed attempts",
                self.camera_id,
                failures,
            )

    async def _return_home(self, context: Context) -> None:
        try:
            token = await self._go_home(self._ptz(), context)
        except PtzError as err:
            _LOGGER.warning("Camera %s could not return home: %s", self.camera_id, err)
            self._last_activity = self._clock()
            return
        self._bus.async_fire(
            EVENT_PTZ_RETURNED_HOME, {"camera_id": self.camera_id, "preset": token}, context
        )

    # --- tours ----------------------------------------------------------------------------

    def _start_patrol(self, *, at_start: bool = False) -> None:
        """Start the configured patrol on a camera nobody steers (no arbitration needed).

        With the hub, the camera's driver is usually still connecting: the patrol waits for it
        quietly first, rather than report the camera offline.
        """
        assert self.settings.patrol is not None
        tour = self.settings.tour(self.settings.patrol)
        self._tour = _TourRun(tour)

        async def run() -> None:
            # The driver appears on the camera's runtime, which announces nothing of its own.
            while at_start and self._driver_of() is None:  # noqa: ASYNC110
                await asyncio.sleep(PATROL_START_POLL_S)
            await self._run_tour(tour)

        self._supervisor.start(f"{self._task_prefix}tour", run)
        self._tour_changed(Context())

    async def _cancel_tour(self) -> None:
        await self._supervisor.async_cancel(f"{self._task_prefix}tour", timeout=5.0)
        run, self._tour = self._tour, None
        lock = self.lock
        if run is not None and lock is not None and lock.is_tour:
            self._set_lock(None, "tour", Context())
        self._wake.set()
        self._publish()

    def _tour_changed(self, context: Context, *, stopped: bool = False) -> None:
        run = self._tour
        self._bus.async_fire(
            EVENT_PTZ_TOUR_CHANGED,
            {
                "camera_id": self.camera_id,
                "tour": run.tour.name if run else None,
                "state": "stopped" if stopped or run is None else run.state.value,
                "step": run.step if run else None,
            },
            context,
        )
        self._publish()

    def _set_tour_state(self, run: _TourRun, state: TourState) -> None:
        if run.state is not state:
            run.state = state
            self._tour_changed(Context())

    async def _run_tour(self, tour: Tour) -> None:
        run = self._tour
        assert run is not None
        assert run.tour is tour
        holder = _tour_holder(tour)
        context = Context(priority=PtzPriority.TOUR)
        offline = False
        while True:
            await self._wait_free(run, holder)
            step = tour.steps[run.step]
            try:
                await self.async_goto_preset(context, step.preset, holder=holder)
            except LockedError:
                continue
            except CameraOfflineError as err:
                if not offline:
                    _LOGGER.warning("Camera %s: tour %s waits: %s", self.camera_id, tour.name, err)
                    offline = True
                await asyncio.sleep(PTZ_TOUR_OFFLINE_RETRY_S)
                continue
            except PtzError as err:
                _LOGGER.warning(
                    "Camera %s, tour %s, step %d (preset %s): %s",
                    self.camera_id,
                    tour.name,
                    run.step + 1,
                    step.preset,
                    err,
                )
            if offline:
                _LOGGER.info("Camera %s: tour %s goes on", self.camera_id, tour.name)
                offline = False
            if await self._dwell(holder, step.dwell):
                continue
            run.step = (run.step + 1) % len(tour.steps)
            self._publish()

    async def _wait_free(self, run: _TourRun, holder: str) -> None:
        """Wait until the camera is free or the tour's own; the tour shows paused meanwhile."""
        while True:
            self._lock_event.clear()
            lock = self.lock
            if lock is None or lock.holder == holder:
                self._set_tour_state(run, TourState.RUNNING)
                return
            self._set_tour_state(run, TourState.PAUSED)
            await self._lock_event.wait()

    async def _dwell(self, holder: str, seconds: float) -> bool:
        """Stay ``seconds``; True when someone else took the camera meanwhile."""
        deadline = self._clock() + seconds
        while True:
            self._lock_event.clear()
            lock = self.lock
            if lock is not None and lock.holder != holder:
                return True
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            try:
                # Not wait_for, which on Python 3.11 drops a cancellation that comes with the
                # event (ptz.tour_stop takes the lock, then cancels the tour at once).
                async with asyncio.timeout(remaining):
                    await self._lock_event.wait()
            except TimeoutError:
                return False

    # --- state ----------------------------------------------------------------------------

    def _publish(self) -> None:
        """Show holder and tour in the camera's state attributes (``ptz_*``)."""
        lock = self.lock
        run = self._tour
        self._states.async_set(
            self.camera_id,
            attributes={
                "ptz_holder": lock.holder if lock else None,
                "ptz_priority": priority_label(lock.priority) if lock else None,
                "ptz_since": format_utc(lock.since) if lock else None,
                "ptz_tour": run.tour.name if run else None,
                "ptz_tour_state": run.state.value if run else None,
                "ptz_tour_step": run.step if run else None,
            },
        )


# --------------------------------------------------------------------------------------------
# The hub's PTZ service
# --------------------------------------------------------------------------------------------


class PtzService:
    """Every camera's :class:`PtzController`, built for the cameras whose driver has PTZ."""

    def __init__(
        self,
        cameras: Sequence[CameraConfig],
        driver_types: Mapping[str, type[CameraDriver]],
        driver_of: Callable[[str], CameraDriver | None],
        bus: EventBus,
        states: StateStore,
        supervisor: Supervisor,
    ) -> None:
        self._cameras = {camera.id: camera for camera in cameras}
        self.controllers: dict[str, PtzController] = {}
        for camera in cameras:
            driver_type = driver_types.get(camera.driver)
            if (
                camera.enabled
                and camera.kind is not CameraKind.FIXED
                and driver_type
                and "ptz" in capabilities_of(driver_type)
            ):
                self.controllers[camera.id] = PtzController(
                    camera, functools.partial(driver_of, camera.id), bus, states, supervisor
                )

    def start(self) -> None:
        """Start every controller's timers."""
        for controller in self.controllers.values():
            controller.start()

    async def async_stop(self, timeout: float) -> None:
        """Stop tours and timers; stop moving cameras."""
        await asyncio.gather(*(c.async_shutdown(timeout) for c in self.controllers.values()))

    def controller(self, camera_id: str) -> PtzController:
        """The controller of ``camera_id``; a clear error for unknown, disabled or fixed ones."""
        found = self.controllers.get(camera_id)
        if found is not None:
            return found
        camera = self._cameras.get(camera_id)
        if camera is None:
            raise ServiceValidationError(
                f"unknown camera {camera_id!r} (cameras: {', '.join(self._cameras) or 'none'})"
            )
        if not camera.enabled:
            raise CameraOfflineError(f"camera {camera_id} is disabled in the configuration")
        if camera.kind is CameraKind.FIXED:
            raise NoPtzError(
                f"camera {camera_id} has no PTZ (its kind is 'fixed' in the configuration; set "
                f"kind: ptz if it pans, tilts and zooms)"
            )
        raise NoPtzError(
            f"camera {camera_id} has no PTZ (its driver '{camera.driver}' cannot pan, tilt or zoom)"
        )


_CAMERA = vol.Required("camera_id")


def _velocity(low: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(low, 1.0))


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise vol.Invalid("expected a text")
    text = str(value).strip()
    if not text:
        raise vol.Invalid("expected a non-empty text")
    return text


CAMERA_SCHEMA = vol.Schema({_CAMERA: _text})
MOVE_SCHEMA = vol.Schema(
    {
        _CAMERA: _text,
        vol.Optional("pan", default=0.0): _velocity(-1.0),
        vol.Optional("tilt", default=0.0): _velocity(-1.0),
        vol.Optional("zoom", default=0.0): _velocity(-1.0),
    }
)
"""``ptz.move``: velocities in -1..1 (0 = still); all zero stops."""
POSITION_SCHEMA = vol.Schema(
    {
        _CAMERA: _text,
        vol.Required("pan"): _velocity(-1.0),
        vol.Required("tilt"): _velocity(-1.0),
        vol.Optional("zoom", default=0.0): _velocity(0.0),
    }
)
OFFSET_SCHEMA = MOVE_SCHEMA
PRESET_SCHEMA = vol.Schema({_CAMERA: _text, vol.Required("preset"): _text})
SET_PRESET_SCHEMA = vol.Schema(
    {_CAMERA: _text, vol.Required("name"): _text, vol.Optional("token"): _text}
)
TOUR_SCHEMA = vol.Schema({_CAMERA: _text, vol.Required("tour"): _text})
STATUS_SCHEMA = vol.Schema({vol.Optional("camera_id"): _text})


def _preset(preset: Preset) -> dict[str, str]:
    return {"token": preset.token, "name": preset.name}


def register_ptz_services(services: ServiceRegistry, ptz: PtzService) -> Callable[[], None]:
    """Register the ``ptz.*`` services; returns their remover."""

    def ctl(call: ServiceCall) -> PtzController:
        return ptz.controller(call.data["camera_id"])

    async def move(call: ServiceCall) -> None:
        d = call.data
        await ctl(call).async_move(call.context, d["pan"], d["tilt"], d["zoom"])

    async def stop(call: ServiceCall) -> None:
        await ctl(call).async_stop(call.context)

    async def goto_preset(call: ServiceCall) -> dict[str, str]:
        return _preset(await ctl(call).async_goto_preset(call.context, call.data["preset"]))

    async def set_preset(call: ServiceCall) -> dict[str, str]:
        d = call.data
        return _preset(await ctl(call).async_set_preset(call.context, d["name"], d.get("token")))

    async def remove_preset(call: ServiceCall) -> dict[str, str]:
        return _preset(await ctl(call).async_remove_preset(call.context, call.data["preset"]))

    async def presets(call: ServiceCall) -> list[dict[str, str]]:
        return [_preset(p) for p in await ctl(call).async_presets()]

    async def home(call: ServiceCall) -> None:
        await ctl(call).async_home(call.context)

    async def absolute_move(call: ServiceCall) -> None:
        d = call.data
        await ctl(call).async_absolute_move(call.context, d["pan"], d["tilt"], d["zoom"])

    async def relative_move(call: ServiceCall) -> None:
        d = call.data
        await ctl(call).async_relative_move(call.context, d["pan"], d["tilt"], d["zoom"])

    async def take(call: ServiceCall) -> dict[str, Any]:
        controller = ctl(call)
        await controller.async_take(call.context)
        return controller.status()

    async def release(call: ServiceCall) -> None:
        await ctl(call).async_release(call.context)

    async def tour_start(call: ServiceCall) -> dict[str, Any]:
        controller = ctl(call)
        await controller.async_tour_start(call.context, call.data["tour"])
        return controller.status()

    async def tour_stop(call: ServiceCall) -> None:
        await ctl(call).async_tour_stop(call.context)

    async def status(call: ServiceCall) -> Any:
        camera_id = call.data.get("camera_id")
        if camera_id is not None:
            return ptz.controller(camera_id).status()
        return [c.status() for c in ptz.controllers.values()]

    table: list[tuple[str, Callable[[ServiceCall], Awaitable[Any]], vol.Schema, str]] = [
        ("move", move, MOVE_SCHEMA, "Start or keep up a continuous move (velocities -1..1)."),
        ("stop", stop, CAMERA_SCHEMA, "Stop any move."),
        ("goto_preset", goto_preset, PRESET_SCHEMA, "Go to a preset (token or name)."),
        ("set_preset", set_preset, SET_PRESET_SCHEMA, "Store the position as a preset."),
        ("remove_preset", remove_preset, PRESET_SCHEMA, "Delete a preset (token or name)."),
        ("presets", presets, CAMERA_SCHEMA, "List the camera's presets."),
        ("home", home, CAMERA_SCHEMA, "Go to the home preset or position."),
        ("absolute_move", absolute_move, POSITION_SCHEMA, "Go to a position."),
        ("relative_move", relative_move, OFFSET_SCHEMA, "Move by an offset."),
        ("take", take, CAMERA_SCHEMA, "Take the control lock."),
        ("release", release, CAMERA_SCHEMA, "Release the control lock."),
        ("tour_start", tour_start, TOUR_SCHEMA, "Start a configured tour."),
        ("tour_stop", tour_stop, CAMERA_SCHEMA, "Stop the running tour."),
        ("status", status, STATUS_SCHEMA, "Holder, tour and last command of PTZ cameras."),
    ]
    removers = [
        services.register(DOMAIN, name, handler, schema, description)
        for name, handler, schema, description in table
    ]

    def unregister() -> None:
        for remove in removers:
            remove()

    return unregister
