"""One camera at run time: its driver, its streams, its events, supervised and restartable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityhub.api import (
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraState,
    Context,
    Events,
    NotReadyError,
    PacketReader,
    StreamProfile,
    Streams,
)
from cityhub.const import EVENT_CAMERA_OFFLINE, EVENT_CAMERA_ONLINE, EVENT_STREAM_ERROR
from cityhub.media.recorder import Recorder
from cityhub.media.rtsp_client import open_url_reader
from cityhub.media.source import StreamSource
from cityhub.model import CameraConfig
from cityhub.redact import redact

if TYPE_CHECKING:
    from cityhub.hub import Hub

_LOGGER = logging.getLogger(__name__)


class CameraHost:
    """The :class:`cityhub.api.DriverHost` the core gives one camera's driver."""

    def __init__(self, hub: Hub, config: CameraConfig, driver_name: str) -> None:
        self._hub = hub
        self._camera = config.info()
        self._cache_dir = hub.data_dir / "cache" / driver_name
        self._logger = logging.getLogger(f"cityhub.camera.{config.id}")

    @property
    def camera(self) -> CameraInfo:
        """The camera this driver drives."""
        return self._camera

    @property
    def cache_dir(self) -> Path:
        """A folder the driver may keep files in (shared by the driver's cameras)."""
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        return self._cache_dir

    @property
    def logger(self) -> logging.Logger:
        """A logger named after the camera."""
        return self._logger

    def set_attribute(self, key: str, value: Any) -> None:
        """Publish an attribute in the camera's state; callable from any thread."""
        self._hub.loop.call_soon_threadsafe(
            lambda: self._hub.states.async_set(self._camera.id, attributes={key: value})
        )


class CameraRuntime:
    """Sets up a camera's driver (retrying while not ready), then runs its streams and events."""

    def __init__(self, hub: Hub, config: CameraConfig, driver_type: type[CameraDriver]) -> None:
        self.hub = hub
        self.config = config
        self.driver_type = driver_type
        self.driver: CameraDriver | None = None
        self.sources: dict[str, StreamSource] = {}
        self.recorders: dict[str, Recorder] = {}
        self.profiles: list[StreamProfile] = []
        self._task_prefix = f"camera:{config.id}:"

    @property
    def id(self) -> str:
        """The camera's id."""
        return self.config.id

    def async_start(self) -> None:
        """Begin setting the camera up in a supervised task (retried with backoff)."""
        self.hub.states.async_set(self.id, CameraState.CONNECTING)
        self.hub.supervisor.start(
            f"{self._task_prefix}setup", self._async_setup, on_failure=self._setup_failed
        )

    async def _async_setup(self) -> None:
        host = CameraHost(self.hub, self.config, self.driver_type.NAME)
        driver = self.driver_type(host, self.config.options)
        try:
            await driver.async_setup()
        except BaseException:
            await self._teardown(driver)
            raise
        self.driver = driver
        if isinstance(driver, Streams):
            self.profiles = list(driver.stream_profiles())
            if self.profiles:
                self._start_source(driver, self.profiles[0])
        if isinstance(driver, Events):
            events = driver
            self.hub.supervisor.start(
                f"{self._task_prefix}events", lambda: events.run_events(self._emit)
            )
        _LOGGER.info(
            "Camera %s (%s) set up with driver %s", self.id, self.config.name, self.driver_type.NAME
        )

    def _setup_failed(self, err: BaseException, delay: float) -> None:
        if isinstance(err, NotReadyError):
            state, reason = CameraState.OFFLINE, f"not ready: {redact(str(err))}"
        else:
            state, reason = CameraState.ERROR, redact(f"{type(err).__name__}: {err}")
        self.hub.states.async_set(self.id, state, reason=f"{reason} (retry in {delay:.0f} s)")

    def _start_source(self, driver: Streams, profile: StreamProfile) -> None:
        def open_reader() -> PacketReader:
            try:
                return driver.open_stream(profile.name)
            except NotImplementedError:
                if profile.url is None:
                    raise
                return open_url_reader(profile.url)

        loop = self.hub.loop
        source = StreamSource(
            f"{self.id}/{profile.name}",
            open_reader,
            lambda status, reason: self._post_status(loop, status, reason),
        )
        self.sources[profile.name] = source
        recording = self.hub.recording
        if self.config.recording.enabled and recording is not None:
            recorder = recording.create_recorder(self.config, profile.name)
            self.recorders[profile.name] = recorder
            source.add_consumer(recorder.consume)
        source.start()

    def _post_status(
        self, loop: asyncio.AbstractEventLoop, status: CameraState, reason: str | None
    ) -> None:
        loop.call_soon_threadsafe(self._source_status, status, reason)

    def _source_status(self, status: CameraState, reason: str | None) -> None:
        old = self.hub.states.get(self.id)
        new = self.hub.states.async_set(self.id, status, reason=reason)
        if old is not None and old.state is new.state:
            return
        if new.state is CameraState.ONLINE:
            _LOGGER.info("Camera %s online", self.id)
            self.hub.bus.async_fire(EVENT_CAMERA_ONLINE, {"camera_id": self.id})
        elif new.state in (CameraState.OFFLINE, CameraState.ERROR):
            _LOGGER.warning("Camera %s %s: %s", self.id, new.state.value, reason)
            self.hub.bus.async_fire(EVENT_CAMERA_OFFLINE, {"camera_id": self.id, "reason": reason})
            self.hub.bus.async_fire(EVENT_STREAM_ERROR, {"camera_id": self.id, "error": reason})

    def _emit(self, event: CameraEvent) -> None:
        data: Mapping[str, Any] = {"camera_id": self.id, **event.data, "raw": event.raw}
        self.hub.loop.call_soon_threadsafe(
            self.hub.bus.async_fire, event.event_type, data, Context()
        )

    async def async_stop(self, timeout: float) -> None:
        """Stop streams, events and the setup task; tear the driver down."""
        await self.hub.supervisor.async_cancel(self._task_prefix, timeout=timeout)
        sources, self.sources = list(self.sources.values()), {}
        results = await asyncio.gather(
            *(asyncio.to_thread(s.stop, timeout) for s in sources), return_exceptions=True
        )
        for source, ended in zip(sources, results, strict=True):
            if ended is not True:
                _LOGGER.warning("Ingest thread %s did not stop in time", source.name)
        recorders, self.recorders = list(self.recorders.values()), {}
        results = await asyncio.gather(
            *(asyncio.to_thread(r.stop, timeout) for r in recorders), return_exceptions=True
        )
        for recorder, ended in zip(recorders, results, strict=True):
            if ended is not True:
                _LOGGER.warning("Recorder of %s did not stop in time", recorder.camera_id)
            if self.hub.recording is not None:
                self.hub.recording.remove_recorder(recorder)
        driver, self.driver = self.driver, None
        if driver is not None:
            await self._teardown(driver)
        self.hub.states.async_set(self.id, CameraState.OFFLINE, reason="stopped")

    async def _teardown(self, driver: CameraDriver) -> None:
        try:
            await driver.async_teardown()
        except Exception:
            _LOGGER.exception("Driver of camera %s failed to tear down", self.id)
