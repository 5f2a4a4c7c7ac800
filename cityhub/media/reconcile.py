"""Start-up reconciliation of the recording index with the files on storage.

Run before any camera starts, so nothing is being written:

- a row still ``open`` (the hub stopped without closing it) whose file exists is repaired:
  the file is cut after its last complete fragment, and its size, end and SHA-256 are
  recomputed from what remains; the row becomes ``repaired``;
- a row whose file is gone is moved to the register of destruction (``missing_file``);
- a segment file no row names is indexed as ``repaired`` (start from its name, duration from
  its fragments, codec by probing it), or moved under ``orphans/`` when it cannot be read.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
from collections.abc import Collection
from datetime import UTC, datetime

import attrs
import av

from cityhub.api import Context, StorageBackend
from cityhub.media.fmp4 import NotFragmentedMp4Error, scan
from cityhub.media.index import NewSegment, Segment, SegmentIndex, SegmentState

__all__ = ["ORPHANS_PREFIX", "ReconcileReport", "Reconciler", "parse_segment_key"]

_LOGGER = logging.getLogger(__name__)

ORPHANS_PREFIX = "orphans/"
"""Where unreadable segment files are moved: kept for an administrator, never indexed."""

_SEGMENT_KEY = re.compile(
    r"^(?P<camera>[^/]+)/(?P<stream>[^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/"
    r"(?P<stamp>\d{8}T\d{6}\.\d{3})Z\.mp4$"
)


@attrs.frozen
class SegmentKey:
    """What a segment's storage key says: camera, stream and start (UTC ms)."""

    camera_id: str
    stream: str
    start_ms: int


def parse_segment_key(key: str) -> SegmentKey | None:
    """The camera, stream and start a segment key names, or ``None`` for any other key."""
    match = _SEGMENT_KEY.match(key)
    if match is None:
        return None
    moment = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    return SegmentKey(match["camera"], match["stream"], round(moment.timestamp() * 1000))


@attrs.define
class ReconcileReport:
    """What one reconciliation did."""

    checked: int = 0
    repaired: list[str] = attrs.field(factory=list)
    missing: list[Segment] = attrs.field(factory=list)
    indexed: list[str] = attrs.field(factory=list)
    moved_aside: list[str] = attrs.field(factory=list)

    def summary(self) -> str:
        """One line for the log."""
        return (
            f"{self.checked} segment(s) checked: {len(self.repaired)} repaired, "
            f"{len(self.missing)} missing file(s) unindexed, {len(self.indexed)} orphan file(s) "
            f"indexed, {len(self.moved_aside)} unreadable file(s) moved to {ORPHANS_PREFIX}"
        )


@attrs.frozen
class _Probe:
    codec: str
    width: int
    height: int
    fps: float


def _probe(data: bytes) -> _Probe:
    """Codec parameters of an MP4 held in memory; raises when PyAV cannot read it."""
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        return _Probe(
            codec=str(stream.codec_context.name),
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            fps=float(rate) if rate else 0.0,
        )


class Reconciler:
    """Brings the index and storage back in agreement; every storage call runs in a thread."""

    def __init__(
        self, index: SegmentIndex, storage: StorageBackend, cameras: Collection[str]
    ) -> None:
        self.index = index
        self.storage = storage
        self.cameras = cameras

    async def run(self) -> ReconcileReport:
        """Reconcile every row and every segment file; log one summary line."""
        report = ReconcileReport()
        rows = await self.index.all_segments()
        keys = set(await asyncio.to_thread(self.storage.list, ""))
        report.checked = len(rows)
        indexed = set()
        missing = []
        for row in rows:
            indexed.add(row.storage_key)
            if row.storage_key not in keys:
                missing.append(row)
            elif row.state is SegmentState.OPEN:
                await self._repair(row, report)
        for row in missing:
            _LOGGER.warning(
                "Segment file %s is missing (camera %s, %d..%d ms): registered as destroyed",
                row.storage_key,
                row.camera_id,
                row.start_ms,
                row.end_ms,
            )
            await self.index.register_missing(
                row,
                "file not found in storage when the index was reconciled at start-up",
                Context(),
            )
        report.missing = missing
        for key in sorted(keys - indexed):
            if not key.startswith(ORPHANS_PREFIX) and parse_segment_key(key) is not None:
                await self._adopt(key, report)
        _LOGGER.info("Recording index reconciled: %s", report.summary())
        return report

    async def _repair(self, row: Segment, report: ReconcileReport) -> None:
        data = await asyncio.to_thread(self._read, row.storage_key)
        try:
            found = scan(data)
        except NotFragmentedMp4Error:
            found = None
        if found is None or found.fragments == 0:
            await self._move_aside(row.storage_key, report)
            await self.index.delete(row.storage_key)
            return
        kept = data[: found.valid_bytes]
        if not found.complete:
            await asyncio.to_thread(self._write, row.storage_key, kept)
        end_ms = row.start_ms + round(found.duration_s * 1000)
        await self.index.finish(
            row.storage_key,
            end_ms,
            len(kept),
            hashlib.sha256(kept).hexdigest(),
            SegmentState.REPAIRED,
        )
        report.repaired.append(row.storage_key)

    async def _adopt(self, key: str, report: ReconcileReport) -> None:
        named = parse_segment_key(key)
        assert named is not None
        data = await asyncio.to_thread(self._read, key)
        try:
            found = scan(data)
            if found.fragments == 0 or named.camera_id not in self.cameras:
                raise NotFragmentedMp4Error("no complete fragment, or an unknown camera")
            kept = data[: found.valid_bytes]
            probe = await asyncio.to_thread(_probe, kept)
        except (NotFragmentedMp4Error, av.FFmpegError, IndexError):
            await self._move_aside(key, report)
            return
        if not found.complete:
            await asyncio.to_thread(self._write, key, kept)
        await self.index.insert(
            NewSegment(
                camera_id=named.camera_id,
                stream=named.stream,
                start_ms=named.start_ms,
                storage_key=key,
                codec=probe.codec,
                width=probe.width,
                height=probe.height,
                fps=probe.fps,
            ),
            end_ms=named.start_ms + round(found.duration_s * 1000),
            size=len(kept),
            sha256=hashlib.sha256(kept).hexdigest(),
            state=SegmentState.REPAIRED,
        )
        report.indexed.append(key)

    async def _move_aside(self, key: str, report: ReconcileReport) -> None:
        target = ORPHANS_PREFIX + key
        data = await asyncio.to_thread(self._read, key)
        await asyncio.to_thread(self._write, target, data)
        await asyncio.to_thread(self.storage.delete, key)
        _LOGGER.warning("Segment file %s cannot be read: moved to %s", key, target)
        report.moved_aside.append(key)

    def _read(self, key: str) -> bytes:
        with self.storage.open_read(key) as source:
            return source.read()

    def _write(self, key: str, data: bytes) -> None:
        with self.storage.open_write(key) as target:
            target.write(data)
