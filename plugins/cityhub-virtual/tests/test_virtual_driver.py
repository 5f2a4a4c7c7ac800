"""Drop-outs, motion events, snapshots and the camera clock."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime

import pytest
from PIL import Image

from cityhub.api import CameraEvent, Clock, Events, PacketReader, Snapshot, StreamError
from cityhub_virtual.clock import decode_clock
from cityhub_virtual.scene import drawable_text


def _read_until_error(reader: PacketReader) -> tuple[int, StreamError]:
    """Read until the reader raises; the number of packets read and the error."""
    read = 0
    while True:
        try:
            reader.read()
        except StreamError as err:
            return read, err
        read += 1


@pytest.mark.realtime
def test_dropout_breaks_the_stream_then_refuses_to_open(make_camera) -> None:
    # The loop clip is encoded once beforehand, into the cache both cameras share: encoding it
    # inside the timed window could outlast the first drop-out on a busy machine.
    make_camera({"mode": "loop", "fps": 10, "gop": 10}).open_stream("main").close()
    created = time.monotonic()
    camera = make_camera(
        {"mode": "loop", "fps": 10, "gop": 10, "dropout": {"every": 0.6, "duration": 0.3}}
    )
    reader = camera.open_stream("main")
    read, error = _read_until_error(reader)
    assert str(error) == "simulated drop-out"
    # The schedule runs from the camera's creation: the first drop-out comes 0.6 s later.
    assert 0.55 < time.monotonic() - created < 0.7
    assert read > 0
    reader.close()

    with pytest.raises(StreamError, match="unreachable"):
        camera.open_stream("main")
    with pytest.raises(StreamError, match="unreachable"):
        camera.open_stream("sub")
    time.sleep(0.35)
    reader = camera.open_stream("main")
    assert reader.read().keyframe
    reader.close()


@pytest.mark.realtime
async def test_motion_events(make_camera) -> None:
    camera = make_camera({"motion": {"every": 0.2, "duration": 0.1}})
    assert isinstance(camera, Events)
    events: list[tuple[float, CameraEvent]] = []
    started = time.monotonic()
    task = asyncio.create_task(camera.run_events(lambda e: events.append((time.monotonic(), e))))
    await asyncio.sleep(0.55)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.event_type for _, e in events] == ["camera.motion"] * 4
    assert [e.data["active"] for _, e in events] == [True, False, True, False]
    expected = [0.2, 0.3, 0.4, 0.5]
    for (at, _), due in zip(events, expected, strict=True):
        assert at - started == pytest.approx(due, abs=0.04)


async def test_no_motion_configured_waits_until_cancelled(make_camera) -> None:
    camera = make_camera()
    events: list[CameraEvent] = []
    task = asyncio.create_task(camera.run_events(events.append))
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == []


@pytest.mark.parametrize("mode", ["live", "loop"])
async def test_snapshot_is_a_jpeg_of_the_main_stream(make_camera, mode: str) -> None:
    camera = make_camera({"mode": mode, "width": 800, "height": 450})
    assert isinstance(camera, Snapshot)
    data = await camera.async_snapshot()
    assert data.startswith(b"\xff\xd8")
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("JPEG", (800, 450))
    if mode == "live":
        now = time.time_ns() // 1_000_000
        captured = decode_clock(image, reference_ms=now)
        assert captured is not None
        assert 0 <= now - captured < 1000


async def test_camera_time_is_utc_now(make_camera) -> None:
    camera = make_camera()
    assert isinstance(camera, Clock)
    told = await camera.async_camera_time()
    assert told.tzinfo is not None
    assert abs((told - datetime.now(UTC)).total_seconds()) < 1


async def test_setup_publishes_the_mode(make_camera) -> None:
    camera = make_camera({"mode": "live"})
    await camera.async_setup()
    assert camera.host.attributes["virtual_mode"] == "live"
    await camera.async_teardown()


def test_accented_camera_names_are_drawn_without_missing_glyphs() -> None:
    assert drawable_text("Hôtel de ville — Mandarous") == "Hotel de ville ? Mandarous"
