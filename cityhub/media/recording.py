"""The recording stage of the hub: reconciliation, the index writer, recorders and triggers.

It starts before the cameras (reconciling the index with storage while nothing writes),
runs one task that applies the recorders' index operations in order, creates a
:class:`~cityhub.media.recorder.Recorder` for each recorded camera stream, turns motion
events and ``recording.trigger`` calls into event recordings, keeps each camera's
``recording`` flag and fires ``recording.segment_closed``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from cityhub.api import StorageBackend
from cityhub.bus import Event
from cityhub.db import Database
from cityhub.media.index import SegmentIndex
from cityhub.media.reconcile import Reconciler, ReconcileReport
from cityhub.media.recorder import ClosedSegment, IndexOp, Recorder
from cityhub.model import CameraConfig
from cityhub.services import ServiceCall, ServiceError

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = [
    "EVENT_CAMERA_MOTION",
    "EVENT_SEGMENT_CLOSED",
    "IndexWriter",
    "NotRecordingError",
    "Recording",
]

_LOGGER = logging.getLogger(__name__)

EVENT_SEGMENT_CLOSED = "recording.segment_closed"
"""A segment file was closed and indexed; data: camera_id, stream, key, start, end, trigger."""
EVENT_CAMERA_MOTION = "camera.motion"
"""Motion reported by a camera; ``active`` true starts an event recording, false ends it."""
DRAIN_TIMEOUT_S = 2.0
"""How long (seconds) stopping waits for queued index writes before abandoning them."""

TRIGGER_SCHEMA = vol.Schema(
    {
        vol.Required("camera_id"): str,
        vol.Optional("duration", default=0.0): vol.All(vol.Coerce(float), vol.Range(min=0)),
    }
)
"""Data of ``recording.trigger``: the camera, and how long the event lasts (seconds)."""


class NotRecordingError(ServiceError):
    """``recording.trigger`` named a camera that has no recorder running."""


class IndexWriter:
    """Applies index operations from any thread, one at a time and in order, in the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, index: SegmentIndex) -> None:
        self._loop = loop
        self._index = index
        self._queue: asyncio.Queue[IndexOp] = asyncio.Queue()
        self._task = loop.create_task(self._run(), name="cityhub:recording-index")

    def submit(self, op: IndexOp) -> None:
        """Queue ``op``; callable from any thread, never blocks."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, op)
        except RuntimeError:  # the loop is closed: the next start-up reconciles the row
            _LOGGER.warning("Index write dropped: the hub is stopped")

    async def _run(self) -> None:
        while True:
            op = await self._queue.get()
            try:
                await op(self._index)
            except Exception:
                _LOGGER.exception("A recording index write failed")
            finally:
                self._queue.task_done()

    async def async_stop(self) -> None:
        """Apply what is queued (within ``DRAIN_TIMEOUT_S``), then end the task."""
        try:
            await asyncio.wait_for(self._queue.join(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            _LOGGER.warning("%d recording index write(s) abandoned", self._queue.qsize())
        self._task.cancel()


class Recording:
    """Owns the recorders of every camera and their shared index writer."""

    def __init__(self, hub: Hub, db: Database, storage: StorageBackend) -> None:
        self.hub = hub
        self.index = SegmentIndex(db)
        self.storage = storage
        self.recorders: dict[str, Recorder] = {}
        self.last_reconcile: ReconcileReport | None = None
        self._writer: IndexWriter | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    async def async_start(self) -> None:
        """Reconcile the index with storage, then accept recorders and triggers."""
        known = {row["id"] for row in await self.index.db.fetchall("SELECT id FROM cameras")}
        self.last_reconcile = await Reconciler(self.index, self.storage, known).run()
        self._writer = IndexWriter(self.hub.loop, self.index)
        self._unsubscribe = [
            self.hub.bus.subscribe(EVENT_CAMERA_MOTION, self._motion),
            self.hub.services.register(
                "recording",
                "trigger",
                self._service_trigger,
                TRIGGER_SCHEMA,
                "Record a camera in event mode now, for duration s plus its post-roll.",
            ),
        ]

    async def async_stop(self) -> None:
        """Stop accepting triggers and write the queued index operations."""
        for remove in self._unsubscribe:
            remove()
        self._unsubscribe = []
        if self._writer is not None:
            await self._writer.async_stop()

    def create_recorder(self, camera: CameraConfig, stream: str) -> Recorder:
        """A started recorder for ``camera``'s ``stream``, registered for triggers."""
        if self._writer is None:
            raise RuntimeError("the recording stage is not started")
        loop = self.hub.loop
        camera_id = camera.id

        def on_recording(recording: bool) -> None:
            loop.call_soon_threadsafe(
                lambda: self.hub.states.async_set(camera_id, recording=recording)
            )

        recorder = Recorder(
            camera_id,
            stream,
            camera.recording,
            self.storage,
            self._writer.submit,
            on_recording,
            self._segment_closed,
        )
        self.recorders[camera_id] = recorder
        recorder.start()
        return recorder

    def remove_recorder(self, recorder: Recorder) -> None:
        """Forget a stopped recorder."""
        if self.recorders.get(recorder.camera_id) is recorder:
            del self.recorders[recorder.camera_id]

    def _segment_closed(self, closed: ClosedSegment) -> None:
        data: dict[str, Any] = {
            "camera_id": closed.camera_id,
            "stream": closed.stream,
            "key": closed.storage_key,
            "start_ms": closed.start_ms,
            "end_ms": closed.end_ms,
            "bytes": closed.bytes,
            "trigger": closed.trigger.value,
        }
        self.hub.bus.async_fire(EVENT_SEGMENT_CLOSED, data)

    def _motion(self, event: Event) -> None:
        recorder = self.recorders.get(str(event.data.get("camera_id")))
        if recorder is not None and recorder.event_mode:
            recorder.motion(bool(event.data.get("active")), time.time())

    async def _service_trigger(self, call: ServiceCall) -> None:
        camera_id = call.data["camera_id"]
        recorder = self.recorders.get(camera_id)
        if recorder is None:
            raise NotRecordingError(f"camera {camera_id!r} is not recording")
        recorder.trigger(time.time() + call.data["duration"] + recorder.settings.post_roll)
