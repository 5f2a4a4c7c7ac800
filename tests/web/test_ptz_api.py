"""PTZ from the panel's API on the ONVIF simulator: the joystick moves the head; a second
operator sees the lock; a supervisor takes over; the dead-man stops a forgotten move."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest

from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory
from cityhub.testing.onvif import OnvifSimulator


@pytest.fixture
async def setup(
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
    onvif_simulator_factory: Callable[..., Awaitable[OnvifSimulator]],
) -> tuple[Hub, OnvifSimulator]:
    sim = await onvif_simulator_factory(video=False)
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "ptz": {"deadman_timeout": 1.0, "lock_timeout": 30},
        "cameras": [
            {"id": "dome", "name": "Dôme de la mairie", "driver": "onvif", "kind": "ptz",
             "zone": "centre", "recording": False,
             "options": {"host": sim.host, "port": sim.port, "username": "admin",
                         "password": "onvif-secret", "timeout": 5}},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    for name, role in (("j.martin", Role.OPERATOR), ("p.leroy", Role.OPERATOR),
                       ("chef.dupont", Role.SUPERVISOR)):  # fmt: skip
        await add_account(hub, name, role)
    deadline = asyncio.get_running_loop().time() + 20
    while hub.cameras["dome"].driver is None:
        assert asyncio.get_running_loop().time() < deadline, "the ONVIF camera never set up"
        await asyncio.sleep(0.1)
    return hub, sim


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)


async def test_joystick_lock_takeover_and_dead_man(setup: tuple[Hub, OnvifSimulator]) -> None:
    hub, sim = setup
    assert hub.http_url is not None
    ptz = "/api/cameras/dome/ptz"
    async with (
        ApiClient(hub.http_url) as julie,
        ApiClient(hub.http_url) as paul,
        ApiClient(hub.http_url) as chef,
    ):
        await julie.login("j.martin")
        await paul.login("p.leroy")
        await chef.login("chef.dupont")
        start = sim.position.pan
        # The joystick: a move repeated every 150 ms pans the simulated head right.
        for _ in range(6):
            await julie.post_json(ptz, {"command": "move", "pan": 0.8, "tilt": 0, "zoom": 0})
            await asyncio.sleep(0.15)
        await until(lambda: sim.position.pan > start + 0.05)
        status = (await paul.get_json(ptz))["status"]
        assert status["holder"] == "user:j.martin"
        assert status["tours"] == []
        assert status["position"]["pan"] == pytest.approx(sim.position.pan, abs=0.2)
        # A second operator sees the lock and is refused, told who holds it.
        with pytest.raises(ApiResponseError) as locked:
            await paul.post_json(ptz, {"command": "move", "pan": -0.8, "tilt": 0, "zoom": 0})
        assert (locked.value.status, locked.value.code) == (409, "locked")
        assert "j.martin" in locked.value.message
        # Julie lets go of the stick without a stop: the dead-man stops the head by itself.
        await asyncio.sleep(1.5)
        still = sim.position.pan
        await asyncio.sleep(0.5)
        assert sim.position.pan == pytest.approx(still, abs=1e-3)
        # A supervisor outranks the operator and takes the camera over.
        await chef.post_json(ptz, {"command": "take"})
        assert (await julie.get_json(ptz))["status"]["holder"] == "user:chef.dupont"
        with pytest.raises(ApiResponseError):
            await julie.post_json(ptz, {"command": "home"})
        await chef.post_json(ptz, {"command": "release"})
        await julie.post_json(ptz, {"command": "set_preset", "name": "parvis"})
        presets = (await julie.get_json(ptz))["presets"]
        assert "parvis" in [p["name"] for p in presets]
        with pytest.raises(ApiResponseError) as bad:
            await julie.post_json(ptz, {"command": "dance"})
        assert bad.value.status == 400
    assert hub.audit is not None
    await hub.audit.async_flush()
    actions = [(e.actor, e.action) for e in await hub.audit.log.entries(camera_id="dome")]
    assert ("user:j.martin", "ptz.move") in actions
    assert ("user:chef.dupont", "ptz.take") in actions


async def test_joystick_repeats_stay_out_of_the_event_log(
    setup: tuple[Hub, OnvifSimulator],
) -> None:
    hub, _sim = setup
    assert hub.http_url is not None
    assert hub.db is not None
    async with ApiClient(hub.http_url) as julie:
        await julie.login("j.martin")
        for _ in range(5):
            await julie.post_json(
                "/api/cameras/dome/ptz", {"command": "move", "pan": 0.2, "tilt": 0, "zoom": 0}
            )
        await julie.post_json("/api/cameras/dome/ptz", {"command": "stop"})
    await hub.async_event_log_written()
    rows = await hub.db.fetchall(
        "SELECT json_extract(data, '$.service') AS service FROM event_log"
        " WHERE event_type = 'service.called' AND json_extract(data, '$.domain') = 'ptz'"
    )
    assert [r["service"] for r in rows] == ["stop"]


async def test_a_camera_without_video_still_gives_its_own_snapshot(
    setup: tuple[Hub, OnvifSimulator], tmp_path: Path
) -> None:
    # The simulator serves no RTSP here: the hub has no keyframe to decode, so the snapshot
    # route asks the camera for its own still (ONVIF GetSnapshotUri, HTTP digest).
    hub, sim = setup
    assert hub.http_url is not None
    events: list[Any] = []
    hub.bus.subscribe("live.snapshot", events.append)
    before = sim.snapshots
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        async with api.session.get(f"{hub.http_url}/api/cameras/dome/snapshot") as response:
            assert response.status == 200, await response.text()
            assert response.headers["Content-Type"] == "image/jpeg"
            (tmp_path / "still.jpg").write_bytes(await response.read())
        with pytest.raises(ApiResponseError) as unknown:
            await api.get_json("/api/cameras/dome/snapshot?profile=nope")
        assert unknown.value.code == "unknown_profile"
        # The camera gone, the refusal says both what is missing and what failed.
        await sim.stop()
        with pytest.raises(ApiResponseError) as refused:
            await api.get_json("/api/cameras/dome/snapshot")
        assert refused.value.status == 409
        assert "own snapshot failed" in refused.value.message
    assert sim.snapshots == before + 1
    with av.open(str(tmp_path / "still.jpg")) as image:
        picture = next(image.decode(video=0))
    assert picture.width > 0
    assert [(e.data["camera_id"], e.data["profile"], e.context.user) for e in events] == [
        ("dome", "camera", "j.martin")
    ]
