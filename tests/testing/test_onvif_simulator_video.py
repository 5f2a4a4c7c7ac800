"""The simulator's live video: read over RTSP by FFmpeg (PyAV) at the URL the real ONVIF
client was given, and the picture following the PTZ head."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
import pytest_asyncio
from onvif import ONVIFCamera
from PIL import Image

from cityhub.testing.onvif import OnvifSimulator, PtzPosition
from cityhub.testing.onvif.scene import read_marker

USER, PASSWORD = "admin", "onvif-secret"
OPTIONS = {"rtsp_transport": "tcp", "timeout": "10000000"}


@pytest_asyncio.fixture
async def camera(onvif_simulator: OnvifSimulator) -> AsyncIterator[ONVIFCamera]:
    """The real ONVIF client on the default simulator (live video on)."""
    client = ONVIFCamera(onvif_simulator.host, onvif_simulator.port, USER, PASSWORD)
    await client.update_xaddrs()
    yield client
    await client.close()


async def stream_uri(camera: ONVIFCamera, profile: str) -> str:
    """GetStreamUri of ``profile`` with the client's credentials added, as a recorder does."""
    media = await camera.create_media_service()
    reply = await media.GetStreamUri(
        {
            "ProfileToken": profile,
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
        }
    )
    uri: str = reply.Uri
    return uri.replace("rtsp://", f"rtsp://{USER}:{PASSWORD}@", 1)


def read_frames(url: str, count: int = 1) -> tuple[str, list[Image.Image]]:
    """Open ``url`` with FFmpeg and decode ``count`` frames: the codec name and the pictures."""
    container: Any = av.open(url, options=OPTIONS)
    try:
        codec = str(container.streams.video[0].codec_context.name)
        pictures = []
        for frame in container.decode(video=0):
            pictures.append(frame.to_image())
            if len(pictures) >= count:
                break
        return codec, pictures
    finally:
        container.close()


def horizontal_shift(before: Image.Image, after: Image.Image, limit: int = 60) -> int:
    """How many pixels the content of ``before`` moved left in ``after`` (negative: right),
    found by the best match of a band of rows, on pictures scaled to 160 pixels wide."""
    width = 160
    height = round(before.height * width / before.width)
    a = before.convert("L").resize((width, height))
    b = after.convert("L").resize((width, height))
    rows = range(height // 5, height * 3 // 5)  # below the marker, across the buildings
    pa = [[a.getpixel((x, y)) for x in range(width)] for y in rows]
    pb = [[b.getpixel((x, y)) for x in range(width)] for y in rows]
    best, best_cost = 0, float("inf")
    for shift in range(-limit, limit + 1):
        cost = 0.0
        overlap = 0
        for row_a, row_b in zip(pa, pb, strict=True):
            for x in range(max(0, -shift), min(width, width - shift)):
                cost += abs(float(row_a[x + shift]) - float(row_b[x]))  # type: ignore[arg-type]
                overlap += 1
        if overlap and cost / overlap < best_cost:
            best, best_cost = shift, cost / overlap
    return best


async def test_stream_uris_serve_h264_at_each_profile_size(
    onvif_simulator: OnvifSimulator, camera: ONVIFCamera
) -> None:
    sim = onvif_simulator
    assert sim.frames_encoded == {"main": 0, "sub": 0}  # nobody watches: nothing encoded

    main = await asyncio.to_thread(read_frames, await stream_uri(camera, "main"))
    sub = await asyncio.to_thread(read_frames, await stream_uri(camera, "sub"))
    anonymous = sim.rtsp_url("main")
    with pytest.raises(av.error.HTTPUnauthorizedError):
        await asyncio.to_thread(read_frames, anonymous)

    assert main[0] == sub[0] == "h264"
    assert main[1][0].size == (640, 360)
    assert sub[1][0].size == (320, 180)
    assert read_marker(main[1][0]) is not None
    assert sim.frames_encoded["main"] > 0
    assert sim.frames_encoded["sub"] > 0
    # Nobody watches any more: the encoders stop within seconds.
    deadline = time.monotonic() + 15
    while True:
        before = sim.frames_encoded
        await asyncio.sleep(1.0)
        if sim.frames_encoded == before:
            break
        assert time.monotonic() < deadline, "the encoders kept running without viewers"


async def test_the_picture_follows_a_pan(
    onvif_simulator: OnvifSimulator, camera: ONVIFCamera
) -> None:
    sim = onvif_simulator
    url = await stream_uri(camera, "main")
    ptz = await camera.create_ptz_service()

    _, (before,) = await asyncio.to_thread(read_frames, url)
    await ptz.AbsoluteMove(
        {"ProfileToken": "main", "Position": {"PanTilt": {"x": 0.4, "y": 0.0}, "Zoom": {"x": 0}}}
    )
    deadline = time.monotonic() + 10
    while (await ptz.GetStatus({"ProfileToken": "main"})).MoveStatus.PanTilt != "IDLE":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    _, pictures = await asyncio.to_thread(read_frames, url, 3)
    after = pictures[-1]

    seen_before, seen_after = read_marker(before), read_marker(after)
    assert seen_before is not None
    assert seen_after is not None
    assert seen_before.pan == pytest.approx(0.0, abs=0.01)
    assert seen_after.pan == pytest.approx(0.4, abs=0.01)
    assert seen_after.tilt == pytest.approx(0.0, abs=0.01)
    # Panning right moves the street left in the picture: 0.4 of the half travel of a crop
    # half the scene wide is 128 of 640 pixels, 32 at the 160 pixels compared.
    assert horizontal_shift(before, after) == pytest.approx(32, abs=3)
    assert sim.position.rounded() == PtzPosition(0.4, 0.0, 0.0)


async def test_viewers_share_one_pipeline_and_a_restart_drops_them(
    onvif_simulator: OnvifSimulator, camera: ONVIFCamera
) -> None:
    sim = onvif_simulator
    url = await stream_uri(camera, "sub")
    container: Any = await asyncio.to_thread(av.open, url, options=OPTIONS)
    ended = asyncio.Event()

    def watch() -> None:
        try:
            for _ in container.decode(video=0):
                pass
        except av.error.FFmpegError:
            pass
        finally:
            container.close()

    watcher = asyncio.create_task(asyncio.to_thread(watch))
    watcher.add_done_callback(lambda _: ended.set())
    _, (second,) = await asyncio.to_thread(read_frames, url)  # a second viewer meanwhile
    assert sim.rtsp_server is not None
    path = sim.rtsp_path("sub")
    shared = (await asyncio.to_thread(sim.rtsp_server.status))[path]

    await sim.restart()
    await asyncio.wait_for(ended.wait(), 15.0)
    _, (picture,) = await asyncio.to_thread(read_frames, url)

    assert second.size == picture.size == (320, 180)
    assert shared.created == 1  # both viewers were served by the one pipeline
    assert shared.clients >= 1  # the watcher, still there
    assert sim.reboots == 1
