"""Live view over a real WebSocket from a real hub: what arrives plays, and who may watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from cityhub.api import CameraState
from cityhub.auth.roles import Role
from cityhub.bus import Event
from cityhub.hub import Hub
from cityhub.media.fmp4 import scan
from cityhub.testing import ffprobe
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory, wait_for_state


def config() -> dict[str, Any]:
    options = {"mode": "loop", "width": 320, "height": 180, "fps": 25}
    cameras: list[dict[str, Any]] = [
        {"id": cid, "name": cid, "driver": "virtual", "zone": zone, "recording": False,
         "options": options}
        for cid, zone in (("mairie", "centre"), ("parvis", "centre"), ("quai-1", "gare"))
    ]  # fmt: skip
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras,
    }


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    hub = await cityhub_hub(cityhub_config(config()))
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    for camera in ("mairie", "parvis"):
        await wait_for_state(hub, camera, CameraState.ONLINE, timeout=30)
    return hub


def ws_url(hub: Hub) -> str:
    assert hub.http_url is not None
    return hub.http_url.replace("http", "ws") + "/api/live"


async def test_two_streams_on_one_socket_each_play_frame_for_frame(
    hub: Hub, tmp_path: Path
) -> None:
    assert hub.http_url is not None
    events: list[Event] = []
    hub.bus.subscribe("live.*", events.append)
    received: dict[int, list[bytes]] = {1: [], 7: []}
    hello: dict[int, dict[str, Any]] = {}
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        async with api.session.ws_connect(ws_url(hub)) as ws:
            await ws.send_json({"op": "watch", "channel": 1, "camera": "mairie"})
            await ws.send_json({"op": "watch", "channel": 7, "camera": "parvis", "profile": "main"})
            loop = asyncio.get_running_loop()
            until = loop.time() + 3
            while loop.time() < until:
                message = await ws.receive(timeout=5)
                if message.type is aiohttp.WSMsgType.TEXT:
                    data = json.loads(message.data)
                    assert data["type"] == "init", data
                    hello[data["channel"]] = data
                    continue
                assert message.type is aiohttp.WSMsgType.BINARY
                channel = int.from_bytes(message.data[:2], "big")
                received[channel].append(message.data[2:])
            await ws.send_json({"op": "unwatch", "channel": 7})
            await asyncio.sleep(0.3)
    assert hello[1]["camera"] == "mairie"
    assert hello[7]["mime"].startswith('video/mp4; codecs="avc1.')
    for channel, chunks in received.items():
        data = b"".join(chunks)
        found = scan(data)
        # the cached GOP (from its keyframe), then about 3 s of live frames, one per fragment
        assert found.fragments == found.samples == len(chunks) - 1
        assert found.samples >= hello[channel]["cached"] + 50
        path = tmp_path / f"live-{channel}.mp4"
        path.write_bytes(data)
        probe = ffprobe(path)
        assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
        assert probe.frames == found.samples
        assert probe.errors == ""
        with av.open(str(path)) as container:
            assert next(container.decode(video=0)).key_frame
    await asyncio.sleep(0.2)
    started = [e.data["camera_id"] for e in events if e.event_type == "live.view_started"]
    stopped = {e.data["camera_id"]: e.data for e in events if e.event_type == "live.view_stopped"}
    assert sorted(started) == ["mairie", "parvis"]
    assert stopped["parvis"]["reason"] == "unwatched"
    assert stopped["mairie"]["reason"] == "closed"
    assert stopped["mairie"]["seconds"] >= 3
    assert {e.context.user for e in events} == {"j.martin"}


async def test_who_may_not_watch_is_refused_before_any_video(hub: Hub) -> None:
    assert hub.http_url is not None
    await add_account(hub, "sans.habilitation", Role.OPERATOR, habilitated=False)
    for user, status in ((None, 401), ("sans.habilitation", 403)):
        async with ApiClient(hub.http_url) as api:
            if user is not None:
                await api.login(user)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await api.session.ws_connect(ws_url(hub))
            assert refused.value.status == status
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        with pytest.raises(aiohttp.WSServerHandshakeError) as cross:
            await api.session.ws_connect(ws_url(hub), origin="http://evil.example")
        assert cross.value.status == 403
        async with api.session.ws_connect(ws_url(hub)) as ws:
            for request, code in (
                ({"op": "watch", "channel": 2, "camera": "quai-1"}, "forbidden"),  # out of zone
                ({"op": "watch", "channel": 2, "camera": "nowhere"}, "unknown_camera"),
                ({"op": "watch", "channel": 2, "camera": "mairie", "profile": "x"},
                 "unknown_profile"),
                ({"op": "watch", "channel": 999, "camera": "mairie"}, "bad_message"),
                ({"op": "dance", "channel": 2}, "bad_message"),
            ):  # fmt: skip
                await ws.send_json(request)
                answer = json.loads((await ws.receive(timeout=5)).data)
                assert (answer["type"], answer["error"]) == ("error", code), request
            await ws.send_str("not json")
            assert json.loads((await ws.receive(timeout=5)).data)["error"] == "bad_message"


async def test_snapshot_is_a_jpeg_of_the_last_keyframe_and_outlives_the_camera(
    hub: Hub, tmp_path: Path
) -> None:
    assert hub.http_url is not None
    events: list[Event] = []
    hub.bus.subscribe("live.snapshot", events.append)
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        url = f"{hub.http_url}/api/cameras/mairie/snapshot"
        async with api.session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            captured = datetime.fromisoformat(response.headers["X-Captured-At"])
            (tmp_path / "snap.jpg").write_bytes(await response.read())
        assert abs((datetime.now(UTC) - captured).total_seconds()) < 10
        with av.open(str(tmp_path / "snap.jpg")) as image:
            picture = next(image.decode(video=0))
        assert (picture.width, picture.height) == (320, 180)
        # the camera stops: its tile keeps showing the last picture it sent
        runtime = hub.cameras["mairie"]
        for source in runtime.sources.values():
            await asyncio.to_thread(source.stop, 5)
        async with api.session.get(url) as response:
            assert response.status == 200
            assert datetime.fromisoformat(response.headers["X-Captured-At"]) >= captured
        with pytest.raises(ApiResponseError) as refused:
            await api.get_json("/api/cameras/quai-1/snapshot")
        assert refused.value.status == 403
    assert [e.data["camera_id"] for e in events] == ["mairie", "mairie"]
    assert {e.context.user for e in events} == {"j.martin"}


async def test_a_sub_stream_starts_when_a_tile_asks_and_stops_when_nobody_watches(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cityhub.cameras

    monkeypatch.setattr(cityhub.cameras, "SUB_STREAM_LINGER_S", 0.5)
    assert hub.http_url is not None
    runtime = hub.cameras["mairie"]
    assert "sub" not in runtime.sources  # nobody asked for it yet: not ingested
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        cameras = {c["id"]: c for c in (await api.get_json("/api/cameras"))["cameras"]}
        streams = {s["name"]: s for s in cameras["mairie"]["streams"]}
        assert streams["sub"]["live"] is True
        assert streams["sub"]["running"] is False
        async with api.session.ws_connect(ws_url(hub)) as ws:
            await ws.send_json({"op": "watch", "channel": 4, "camera": "mairie", "profile": "sub"})
            hello = json.loads((await ws.receive(timeout=15)).data)
            assert (hello["type"], hello["profile"]) == ("init", "sub"), hello
            binary = 0
            while binary < 10:
                message = await ws.receive(timeout=5)
                binary += message.type is aiohttp.WSMsgType.BINARY
            assert "sub" in runtime.sources
            assert hub.states.get("mairie").state is CameraState.ONLINE  # type: ignore[union-attr]
            await ws.send_json({"op": "unwatch", "channel": 4})
            deadline = asyncio.get_running_loop().time() + 10
            while "sub" in runtime.sources:
                assert asyncio.get_running_loop().time() < deadline, "the sub-stream kept running"
                await asyncio.sleep(0.1)
    assert "main" in runtime.sources  # the recorded stream is never stopped
