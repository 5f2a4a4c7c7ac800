"""One camera at run time: its driver, its streams, its events, supervised and restartable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityhub.api import (
    AuthenticationError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraState,
    Clock,
    Context,
    Events,
    NotReadyError,
    PacketReader,
    StreamProfile,
    Streams,
)
from cityhub.const import (
    ATTR_CLOCK_DRIFT_S,
    AUTH_RETRY_S,
    CLOCK_CHECK_INTERVAL_S,
    CLOCK_DRIFT_THRESHOLD_S,
    EVENT_CAMERA_CLOCK_DRIFT,
    EVENT_CAMERA_OFFLINE,
    EVENT_CAMERA_ONLINE,
    EVENT_STREAM_ERROR,
    STREAM_JOIN_TIMEOUT_S,
    SUB_STREAM_LINGER_S,
)
from cityhub.media.live import LiveChannel
from cityhub.media.recorder import Recorder
from cityhub.media.rtsp_client import open_url_reader
from cityhub.media.source import StreamSource
from cityhub.model import CameraConfig
from cityhub.redact import redact

if TYPE_CHECKING:
    from cityhub.hub import Hub

_LOGGER = logging.getLogger(__name__)

AUTH_FAILED = "authentication failed"
"""The start of a camera's ``reason`` while its device refuses the configured credentials."""


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
        self.live: dict[str, LiveChannel] = {}
        self._lingers: dict[str, asyncio.TimerHandle] = {}
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
        """Set the driver up; refused credentials wait AUTH_RETRY_S, not the fast backoff."""
        while True:
            try:
                await self._async_setup_once()
            except AuthenticationError as err:
                detail = f": {redact(str(err))}" if str(err) else ""
                reason = f"{AUTH_FAILED}{detail} (retry in {AUTH_RETRY_S:.0f} s)"
                _LOGGER.warning(
                    "Camera %s refused the credentials%s; check username and password in its "
                    "options, retrying in %.0f s",
                    self.id,
                    detail,
                    AUTH_RETRY_S,
                )
                self.hub.states.async_set(self.id, CameraState.ERROR, reason=reason)
                await asyncio.sleep(AUTH_RETRY_S)
            else:
                return

    async def _async_setup_once(self) -> None:
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
        if isinstance(driver, Clock):
            clock = driver
            self.hub.supervisor.start(
                f"{self._task_prefix}clock", lambda: self._async_watch_clock(clock)
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

    async def _async_watch_clock(self, clock: Clock) -> None:
        """Measure the camera's clock drift now and every CLOCK_CHECK_INTERVAL_S, until stopped."""
        drifting = False
        while True:
            drift = await self._async_measure_drift(clock)
            if drift is not None:
                self.hub.states.async_set(self.id, attributes={ATTR_CLOCK_DRIFT_S: drift})
                exceeded = abs(drift) > CLOCK_DRIFT_THRESHOLD_S
                if exceeded and not drifting:
                    _LOGGER.warning(
                        "Camera %s clock is %+.1f s off the hub's (threshold %.0f s); "
                        "set up NTP on the camera",
                        self.id,
                        drift,
                        CLOCK_DRIFT_THRESHOLD_S,
                    )
                    self.hub.bus.async_fire(
                        EVENT_CAMERA_CLOCK_DRIFT,
                        {
                            "camera_id": self.id,
                            "drift_s": drift,
                            "threshold_s": CLOCK_DRIFT_THRESHOLD_S,
                        },
                    )
                drifting = exceeded
            await asyncio.sleep(CLOCK_CHECK_INTERVAL_S)

    async def _async_measure_drift(self, clock: Clock) -> float | None:
        """The camera's time minus the hub's (seconds), or None when it could not be read."""
        before = datetime.now(UTC)
        try:
            camera_time = await clock.async_camera_time()
        except Exception as err:
            _LOGGER.warning(
                "Camera %s clock could not be read (%s: %s); next try in %.0f s",
                self.id,
                type(err).__name__,
                redact(str(err)),
                CLOCK_CHECK_INTERVAL_S,
            )
            return None
        after = datetime.now(UTC)
        if camera_time.tzinfo is None:
            _LOGGER.warning("Camera %s driver gave a time without a time zone: ignored", self.id)
            return None
        hub_time = before + (after - before) / 2
        return round((camera_time - hub_time).total_seconds(), 1)

    def _start_source(
        self, driver: Streams, profile: StreamProfile, *, primary: bool = True
    ) -> LiveChannel:
        """Start ingesting ``profile``: live channel always, recorder and camera state if primary.

        The primary stream (the first profile) is recorded and decides the camera's state;
        others (sub-streams) only feed live view, started on demand (:meth:`async_live_channel`).
        """

        def open_reader() -> PacketReader:
            try:
                return driver.open_stream(profile.name)
            except NotImplementedError:
                if profile.url is None:
                    raise
                return open_url_reader(profile.url)

        loop = self.hub.loop

        def status(state: CameraState, reason: str | None) -> None:
            if primary:
                self._post_status(loop, state, reason)

        source = StreamSource(f"{self.id}/{profile.name}", open_reader, status)
        self.sources[profile.name] = source

        def watched(on: bool) -> None:
            # While someone watches, the reader wakes for every packet (latency) rather than
            # in batches (CPU): see RtspReader.set_low_latency.
            source.set_low_latency(on)
            if not primary:
                self._idle_secondary(profile.name, on)

        channel = LiveChannel(f"{self.id}/{profile.name}", loop, watched)
        self.live[profile.name] = channel
        source.add_consumer(channel.consume)
        recording = self.hub.recording
        if primary and self.config.recording.enabled and recording is not None:
            recorder = recording.create_recorder(self.config, profile.name)
            self.recorders[profile.name] = recorder
            source.add_consumer(recorder.consume)
        source.start()
        return channel

    def live_channel(self, name: str | None) -> LiveChannel:
        """The live channel of stream ``name`` (the primary one if None), started on demand.

        A sub-stream is ingested only while someone watches it (plus ``SUB_STREAM_LINGER_S``):
        raises ``KeyError`` for a stream the camera does not offer or before it is set up.
        """
        if name is None:
            if not self.profiles:
                raise KeyError("the camera has no stream (yet)")
            name = self.profiles[0].name
        channel = self.live.get(name)
        if channel is not None:
            return channel
        profile = next((p for p in self.profiles if p.name == name), None)
        if profile is None or not isinstance(self.driver, Streams):
            raise KeyError(f"the camera has no stream {name!r}")
        return self._start_source(self.driver, profile, primary=False)

    def _idle_secondary(self, name: str, watched: bool) -> None:
        """Stop a sub-stream nobody has watched for ``SUB_STREAM_LINGER_S`` (loop thread)."""
        timer = self._lingers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if not watched:
            self._lingers[name] = self.hub.loop.call_later(
                SUB_STREAM_LINGER_S, lambda: self.hub.loop.create_task(self._stop_secondary(name))
            )

    async def _stop_secondary(self, name: str) -> None:
        self._lingers.pop(name, None)
        channel = self.live.get(name)
        if channel is None or channel.viewers or (self.profiles and name == self.profiles[0].name):
            return
        source = self.sources.pop(name, None)
        self.live.pop(name, None)
        channel.close()
        if source is not None:
            await asyncio.to_thread(source.stop, STREAM_JOIN_TIMEOUT_S)
        _LOGGER.debug("Sub-stream %s/%s stopped: nobody watches it", self.id, name)

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
        for timer in self._lingers.values():
            timer.cancel()
        self._lingers.clear()
        channels, self.live = list(self.live.values()), {}
        for channel in channels:
            channel.close()
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
