"""Live view over a real WebSocket from a real hub: what arrives plays, and who may watch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
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
from cityhub.testing.api import ApiClient, add_account
from cityhub.testing.hub import HubFactory, wait_for_state


def config() -> dict[str, Any]:
    options = {"mode": "loop", "width": 320, "height": 180, "fps": 25}
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "recording": False, "options": options},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "enabled": False},
        ],
    }  # fmt: skip


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    hub = await cityhub_hub(cityhub_config(config()))
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    await wait_for_state(hub, "mairie", CameraState.ONLINE, timeout=30)
    return hub


async def test_a_viewer_gets_init_cached_gop_and_live_frames_that_play(
    hub: Hub, tmp_path: Path
) -> None:
    assert hub.http_url is not None
    events: list[Event] = []
    hub.bus.subscribe("live.*", events.append)
    ws_url = hub.http_url.replace("http", "ws") + "/api/live/mairie?profile=main"
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        async with api.session.ws_connect(ws_url) as ws:
            hello = json.loads((await ws.receive(timeout=10)).data)
            assert hello["type"] == "init"
            assert hello["mime"].startswith('video/mp4; codecs="avc1.')
            chunks: list[bytes] = []
            loop = asyncio.get_running_loop()
            until = loop.time() + 3
            while loop.time() < until:
                message = await ws.receive(timeout=5)
                assert message.type is aiohttp.WSMsgType.BINARY
                chunks.append(message.data)
    data = b"".join(chunks)
    found = scan(data)
    # the cached GOP (from its keyframe) and then about 3 s of live frames, one per fragment
    assert found.fragments == found.samples == len(chunks) - 1
    assert found.samples >= hello["cached"] + 50
    path = tmp_path / "live.mp4"
    path.write_bytes(data)
    probe = ffprobe(path)
    assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
    assert probe.frames == found.samples
    assert probe.errors == ""
    with av.open(str(path)) as container:
        first = next(container.decode(video=0))
    assert first.key_frame
    await asyncio.sleep(0.2)
    assert [e.event_type for e in events] == ["live.view_started", "live.view_stopped"]
    assert {e.context.user for e in events} == {"j.martin"}
    assert events[1].data["camera_id"] == "mairie"
    assert events[1].data["seconds"] >= 3


async def test_who_may_not_watch_is_refused_before_any_video(hub: Hub) -> None:
    assert hub.http_url is not None
    base = hub.http_url.replace("http", "ws") + "/api/live/"
    await add_account(hub, "sans.habilitation", Role.OPERATOR, habilitated=False)
    cases = [
        (None, "mairie", 401),  # no session
        ("j.martin", "quai-1", 403),  # out of the user's zones
        ("sans.habilitation", "mairie", 403),  # no habilitation in force
        ("j.martin", "nowhere", 404),
    ]
    for user, camera, status in cases:
        async with ApiClient(hub.http_url) as api:
            if user is not None:
                await api.login(user)
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await api.session.ws_connect(base + camera)
            assert refused.value.status == status, (user, camera)
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        with pytest.raises(aiohttp.WSServerHandshakeError) as cross:
            await api.session.ws_connect(base + "mairie", origin="http://evil.example")
        assert cross.value.status == 403
