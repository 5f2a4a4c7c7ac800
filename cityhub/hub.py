"""The Hub: bus, states, services, plugins, database, storage, cameras and HTTP, in stages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import voluptuous as vol

from cityhub import __version__
from cityhub.api import CameraDriver, Notification, StorageBackend
from cityhub.auth.audit import AuditLog, AuditWriter
from cityhub.auth.sessions import Sessions
from cityhub.auth.users import FIRST_ADMIN, Users
from cityhub.bookmarks import Bookmarks
from cityhub.bus import Event, EventBus
from cityhub.cameras import CameraRuntime
from cityhub.config import load_config
from cityhub.const import (
    DATABASE_FILE,
    EVENT_HUB_STARTED,
    EVENT_HUB_STOPPING,
    EVENT_SERVICE_CALLED,
    MATCH_ALL,
    STAGE_TIMEOUT_S,
)
from cityhub.db import Database
from cityhub.discovery import Discovery, register_discovery_services
from cityhub.logbook import Logbook
from cityhub.media.export import Exporter
from cityhub.media.holds import Holds, register_hold_services
from cityhub.media.playback import Playback
from cityhub.media.recording import Recording
from cityhub.media.recording_services import hold_placer, register_recording_services
from cityhub.media.retention import RetentionManager, RetentionSettings
from cityhub.media.signing import SigningKey
from cityhub.model import HubConfig
from cityhub.plugins import Plugins
from cityhub.ptz import PtzService, register_ptz_services
from cityhub.services import ServiceCall, ServiceRegistry
from cityhub.states import StateStore
from cityhub.supervisor import Supervisor
from cityhub.wall import WallService, register_wall_services

_LOGGER = logging.getLogger(__name__)

NOTIFY_SCHEMA = vol.Schema(
    {
        vol.Required("title"): str,
        vol.Required("message"): str,
        vol.Optional("severity", default="info"): vol.In(["info", "warning", "alarm"]),
        vol.Optional("camera"): str,
    }
)


class HubStartError(Exception):
    """A start-up stage failed; the message says which and why."""


def _jsonable(value: Any) -> Any:
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


UNLOGGED_SERVICE_CALLS: Final = frozenset({"ptz.move", "ptz.status", "ptz.presets"})
"""Service calls the event log leaves out: a joystick repeats ``ptz.move`` ten times a second
(the audit log keeps each burst as one entry), and the others only read."""


def _not_logged(event: Event) -> bool:
    if event.event_type != EVENT_SERVICE_CALLED:
        return False
    data = event.data
    return f"{data.get('domain')}.{data.get('service')}" in UNLOGGED_SERVICE_CALLS


class Hub:
    """The root object: owns everything and starts and stops it in stages."""

    def __init__(self, config: HubConfig, plugins: Plugins) -> None:
        self.config = config
        self.plugins = plugins
        self.bus = EventBus()
        self.states = StateStore(self.bus)
        self.services = ServiceRegistry(self.bus)
        self.supervisor = Supervisor()
        self.db: Database | None = None
        self.storage: StorageBackend | None = None
        self.recording: Recording | None = None
        self.holds: Holds | None = None
        self.playback: Playback | None = None
        self.retention: RetentionManager | None = None
        self.audit: AuditWriter | None = None
        self.ptz: PtzService | None = None
        self.wall: WallService | None = None
        self.cameras: dict[str, CameraRuntime] = {}
        self.users: Users | None = None
        self.logbook: Logbook | None = None
        self.bookmarks: Bookmarks | None = None
        self.sessions: Sessions | None = None
        self.first_admin_password: str | None = None
        self.discovery = Discovery.from_plugins(plugins, config.cameras)
        self.started_at: float | None = None
        self.http_url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stops: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._event_queue: asyncio.Queue[Event] | None = None

    @classmethod
    def from_config_dir(cls, config_dir: Path, plugins: Plugins | None = None) -> Hub:
        """Load plugins and the configuration; raises ``ConfigError`` listing every problem."""
        plugins = plugins or Plugins.load()
        config = load_config(
            config_dir,
            camera_drivers=plugins.camera_drivers,
            storage_backends=plugins.storage_backends,
            notifiers=plugins.notifiers,
        )
        return cls(config, plugins)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the hub runs in (set by ``async_start``)."""
        if self._loop is None:
            raise RuntimeError("the hub is not started")
        return self._loop

    @property
    def data_dir(self) -> Path:
        """The folder holding the database, caches and (by default) recordings."""
        return self.config.hub.data_dir

    async def async_start(self) -> None:
        """Run the start-up stages in order; on failure, undo what started and raise."""
        self._loop = asyncio.get_running_loop()
        self.bus.bind(self._loop)
        stages: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("database", self._start_database),
            ("storage", self._start_storage),
            ("event log", self._start_event_log),
            ("audit", self._start_audit),
            ("accounts", self._start_accounts),
            ("services", self._start_services),
            ("recording", self._start_recording),
            ("retention", self._start_retention),
            ("recording services", self._start_recording_services),
            ("cameras", self._start_cameras),
            ("ptz", self._start_ptz),
            ("wall", self._start_wall),
            ("http", self._start_http),
        ]
        for name, start in stages:
            try:
                await start()
            except Exception as err:
                _LOGGER.error("Start-up stage %s failed: %s", name, err)
                await self.async_stop()
                raise HubStartError(f"start-up stage {name} failed: {err}") from err
        self.started_at = time.monotonic()
        self.bus.async_fire(EVENT_HUB_STARTED, {"version": __version__})
        _LOGGER.info(
            "Hub %r started: %d camera(s), cityhub %s",
            self.config.hub.name,
            len(self.cameras),
            __version__,
        )

    async def async_stop(self) -> None:
        """Undo the started stages in reverse order, each within ``STAGE_TIMEOUT_S``."""
        if self._stops:
            self.bus.async_fire(EVENT_HUB_STOPPING, {})
        while self._stops:
            name, stop = self._stops.pop()
            try:
                await asyncio.wait_for(stop(), timeout=STAGE_TIMEOUT_S)
            except TimeoutError:
                _LOGGER.warning("Shutdown stage %s took longer than %.0f s", name, STAGE_TIMEOUT_S)
            except Exception:
                _LOGGER.exception("Shutdown stage %s failed", name)
        _LOGGER.info("Hub stopped")

    # --- stages ---------------------------------------------------------------------------

    async def _start_database(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db = await Database.open(self.data_dir / DATABASE_FILE)
        self.db = db
        self._stops.append(("database", db.close))
        now = datetime.now(UTC)
        for camera in self.config.cameras:
            await db.upsert_camera(camera.id, camera.name, now)

    async def _start_accounts(self) -> None:
        assert self.db is not None
        self.users = Users(self.db, self.bus)
        self.sessions = Sessions(self.db)
        # Printed once by whoever started the hub (the ``run`` command), never logged.
        self.first_admin_password = await self.users.ensure_first_admin()
        if self.first_admin_password is not None:
            _LOGGER.warning("No account existed: created %r with a one-time password", FIRST_ADMIN)

    async def _start_storage(self) -> None:
        backend_type = self.plugins.storage_backends[self.config.storage.backend]
        self.storage = backend_type(self.config.storage.options, self.data_dir)
        usage = await asyncio.to_thread(self.storage.usage)
        _LOGGER.info(
            "Storage %s ready: %.1f GB free of %.1f GB",
            self.config.storage.backend,
            usage.free / 1e9,
            usage.total / 1e9,
        )

    async def async_event_log_written(self) -> None:
        """Wait until every event fired so far is in the event log (and the logbook)."""
        await asyncio.sleep(0)  # let events fired just now reach the writer's queue
        if self._event_queue is not None:
            await self._event_queue.join()

    async def _start_event_log(self) -> None:
        assert self.db is not None
        zones = {c.id: c.zone for c in self.config.cameras}
        self.logbook = Logbook(self.db, self.bus, zones)
        self.bookmarks = Bookmarks(self.db, self.bus, zones)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._event_queue = queue
        unsubscribe = self.bus.subscribe(MATCH_ALL, queue.put_nowait)
        writer = asyncio.create_task(self._write_events(queue), name="cityhub:event-log")

        async def stop() -> None:
            unsubscribe()
            await queue.join()
            writer.cancel()

        self._stops.append(("event log", stop))

    async def _write_events(self, queue: asyncio.Queue[Event]) -> None:
        assert self.db is not None
        while True:
            event = await queue.get()
            try:
                if _not_logged(event):
                    continue
                data = _jsonable(event.data)
                camera_id = data.get("camera_id") if isinstance(data, dict) else None
                row_id = await self.db.record_event(
                    event.time_fired, event.event_type, camera_id, data, event.context
                )
                if self.logbook is not None and isinstance(data, dict):
                    self.logbook.written(
                        row_id, event.time_fired, event.event_type, camera_id, data
                    )
            except Exception:
                _LOGGER.exception("Could not record event %s", event.event_type)
            finally:
                queue.task_done()

    async def _start_audit(self) -> None:
        assert self.db is not None
        writer = AuditWriter(AuditLog(self.db), self.bus)
        writer.start()
        self.audit = writer
        self._stops.append(("audit", writer.async_stop))

    async def _start_services(self) -> None:
        unregister = [
            self.services.register(
                "camera",
                "restart",
                self._service_camera_restart,
                vol.Schema({vol.Required("camera_id"): vol.In(self.cameras_configured())}),
                "Stop and start a camera's driver and streams.",
            ),
            register_discovery_services(self.services, self.discovery),
        ]
        for notifier_config in self.config.notifiers:
            notifier_type = self.plugins.notifiers[notifier_config.type]
            notifier = notifier_type(
                notifier_config.options, logging.getLogger(f"cityhub.notify.{notifier_config.id}")
            )

            async def send(call: ServiceCall, notifier: Any = notifier) -> None:
                await notifier.async_send(Notification(**call.data))

            unregister.append(
                self.services.register(
                    "notify",
                    notifier_config.id,
                    send,
                    NOTIFY_SCHEMA,
                    f"Send via {notifier_config.type}.",
                )
            )

        async def stop() -> None:
            for remove in unregister:
                remove()

        self._stops.append(("services", stop))

    def cameras_configured(self) -> list[str]:
        """Ids of the enabled cameras in the configuration."""
        return [c.id for c in self.config.cameras if c.enabled]

    async def _service_camera_restart(self, call: ServiceCall) -> None:
        runtime = self.cameras[call.data["camera_id"]]
        _LOGGER.info("Restarting camera %s (asked by %s)", runtime.id, call.context.origin)
        await runtime.async_stop(STAGE_TIMEOUT_S)
        runtime.async_start()

    async def _start_recording(self) -> None:
        assert self.db is not None
        assert self.storage is not None
        recording = Recording(self, self.db, self.storage)
        await recording.async_start()
        self.recording = recording
        self._stops.append(("recording", recording.async_stop))

    async def _start_retention(self) -> None:
        assert self.db is not None
        assert self.storage is not None
        self.holds = Holds(self.db, self.bus)
        unregister = register_hold_services(self.services, self.holds)
        storage = self.config.storage
        settings = RetentionSettings(
            interval_s=storage.purge_interval_s,
            min_free_percent=storage.min_free_percent,
            min_free_gb=storage.min_free_gb,
            critical_free_percent=storage.critical_free_percent,
            min_retention_days=storage.min_retention_days,
        )
        retention = RetentionManager(self.db, self.storage, self.bus, self.config.cameras, settings)
        await retention.async_start()
        self.retention = retention

        async def stop() -> None:
            await retention.async_stop()
            unregister()

        self._stops.append(("retention", stop))

    async def _start_recording_services(self) -> None:
        assert self.db is not None
        assert self.storage is not None
        assert self.holds is not None
        db, storage, place_hold = self.db, self.storage, hold_placer(self.holds)
        signing_key = await asyncio.to_thread(SigningKey.load_or_create, self.data_dir)
        self.playback = Playback(db, storage)
        unregister = register_recording_services(
            self.services,
            self.config,
            self.playback,
            lambda: Exporter(self.config, db, storage, signing_key, place_hold),
        )

        async def stop() -> None:
            unregister()

        self._stops.append(("recording services", stop))

    async def _start_cameras(self) -> None:
        for camera in self.config.cameras:
            if not camera.enabled:
                _LOGGER.info("Camera %s is disabled in the configuration", camera.id)
                continue
            runtime = CameraRuntime(self, camera, self.plugins.camera_drivers[camera.driver])
            self.cameras[camera.id] = runtime
            runtime.async_start()

        async def stop() -> None:
            await asyncio.gather(
                *(c.async_stop(STAGE_TIMEOUT_S - 0.5) for c in self.cameras.values())
            )

        self._stops.append(("cameras", stop))

    async def _start_ptz(self) -> None:
        def driver_of(camera_id: str) -> CameraDriver | None:
            runtime = self.cameras.get(camera_id)
            return runtime.driver if runtime is not None else None

        ptz = PtzService(
            self.config.cameras,
            self.plugins.camera_drivers,
            driver_of,
            self.bus,
            self.states,
            self.supervisor,
        )
        unregister = register_ptz_services(self.services, ptz)
        ptz.start()
        self.ptz = ptz

        async def stop() -> None:
            unregister()
            await ptz.async_stop(STAGE_TIMEOUT_S - 0.5)

        self._stops.append(("ptz", stop))

    async def _start_wall(self) -> None:
        wall = WallService(self.config.cameras, self.config.wall.monitors, self.users, self.db)
        unregister = register_wall_services(
            self.services, wall, [c.id for c in self.config.cameras]
        )
        self.wall = wall

        async def stop() -> None:
            unregister()

        self._stops.append(("wall", stop))

    async def _start_http(self) -> None:
        from cityhub.web.server import HttpServer  # the web edge imports the core, not back

        server = HttpServer(self)
        self.http_url = await server.async_start(self.config.http.host, self.config.http.port)
        self._stops.append(("http", server.async_stop))
        _LOGGER.info("HTTP server listening on %s", self.http_url)

    # --- queries --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Every camera's state and stream counters, for the health endpoint."""
        cameras = []
        for camera in self.config.cameras:
            status = self.states.get(camera.id)
            runtime = self.cameras.get(camera.id)
            streams = {}
            recorders = {}
            if runtime is not None:
                streams = {name: s.stats().as_dict() for name, s in runtime.sources.items()}
                recorders = {name: r.stats().as_dict() for name, r in runtime.recorders.items()}
            cameras.append(
                {
                    "id": camera.id,
                    "name": camera.name,
                    "zone": camera.zone,
                    "emplacement": camera.emplacement,
                    "kind": camera.kind.value,
                    "driver": camera.driver,
                    "enabled": camera.enabled,
                    "state": status.state.value if status else "disabled",
                    "reason": status.reason if status else None,
                    "recording": status.recording if status else False,
                    "since": status.last_changed.isoformat(timespec="seconds") if status else None,
                    "streams": streams,
                    "recorders": recorders,
                }
            )
        uptime = time.monotonic() - self.started_at if self.started_at is not None else 0.0
        return {
            "hub": self.config.hub.name,
            "version": __version__,
            "uptime_s": round(uptime, 1),
            "cameras": cameras,
        }
