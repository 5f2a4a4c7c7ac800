"""The PTZ service in a running hub: moves and the dead-man, arbitration, tours, return home.

The camera is ``ptz_kit.DomeDriver``, a test double of a PTZ dome (no PTZ device can run
here; an end-to-end test through the ONVIF plugin belongs with the ONVIF simulator).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from ptz_kit import dome, driver, hub_config, start_hub, wait_until

from cityhub.api import Context, PTZPosition
from cityhub.const import EVENT_PTZ_LOCK_CHANGED, EVENT_PTZ_MOVE_ENDED, EVENT_PTZ_REFUSED
from cityhub.ptz import (
    CameraOfflineError,
    DriverCommandError,
    LockedError,
    NoPtzError,
    PtzPriority,
    UnknownPresetError,
    UnknownTourError,
    priority_of,
)
from cityhub.services import ServiceValidationError
from cityhub.testing.hub import HubFactory

ALICE = Context(user="alice")
BOB = Context(user="bob")
NIGHT = Context(automation="night-alarm")
CHIEF = Context(user="chief", priority=PtzPriority.SUPERVISOR)

MakeConfig = Callable[..., Path]


def test_priority_follows_the_context() -> None:
    assert priority_of(Context(user="a")) == PtzPriority.OPERATOR
    assert priority_of(Context(automation="x")) == PtzPriority.AUTOMATION
    assert priority_of(Context()) == PtzPriority.SYSTEM
    assert priority_of(Context(user="a", priority=PtzPriority.ADMIN)) == PtzPriority.ADMIN
    assert PtzPriority.TOUR < PtzPriority.SYSTEM < PtzPriority.AUTOMATION < PtzPriority.OPERATOR


async def test_dead_man_stops_a_move_nobody_keeps_alive(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    config = hub_config(dome(deadman_timeout=0.3))
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    loop = asyncio.get_running_loop()

    started = loop.time()
    await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 0.5}, ALICE)
    assert driver().commands() == [("move", 0.5, 0.0, 0.0)]
    assert hub.services.has("ptz", "move")

    await wait_until(lambda: driver().commands("stop"), timeout=5, what="the dead-man stop")
    assert loop.time() - started >= 0.3
    assert driver().commands() == [("move", 0.5, 0.0, 0.0), ("stop",)]
    assert driver().velocity is None
    ended = [e for e in events if e.event_type == EVENT_PTZ_MOVE_ENDED]
    assert [e.data["cause"] for e in ended] == ["dead-man"]
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert status["moving"] is False
    assert status["holder"] == "user:alice"


async def test_joystick_repeats_keep_the_move_alive_cheaply(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    config = hub_config(dome(deadman_timeout=1.0))
    hub, _events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    loop = asyncio.get_running_loop()
    data = {"camera_id": "dome", "pan": -0.25, "tilt": 0.5}

    deadline = loop.time() + 2.5  # 2.5 dead-man timeouts of repeats every 100 ms
    repeats = 0
    while loop.time() < deadline:
        await hub.services.async_call("ptz", "move", data, ALICE)
        repeats += 1
        await asyncio.sleep(0.1)
    assert repeats >= 10
    # Same velocities: the driver is told again only every PTZ_MOVE_REFRESH_S, never stopped.
    calls = driver().commands()
    assert set(calls) == {("move", -0.25, 0.5, 0.0)}
    assert 2 <= len(calls) <= repeats // 2

    await hub.services.async_call("ptz", "move", {**data, "zoom": 0.2}, ALICE)
    assert driver().commands()[-1] == ("move", -0.25, 0.5, 0.2)
    await hub.services.async_call("ptz", "move", {"camera_id": "dome"}, ALICE)
    assert driver().commands()[-1] == ("stop",)


async def test_lower_or_equal_priority_is_refused_with_the_holder(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    hub, events = await start_hub(cityhub_hub, cityhub_config(hub_config(dome())), "dome")
    await hub.services.async_call(
        "ptz", "goto_preset", {"camera_id": "dome", "preset": "rue"}, ALICE
    )

    with pytest.raises(LockedError) as refused:
        await hub.services.async_call(
            "ptz", "goto_preset", {"camera_id": "dome", "preset": "gare"}, NIGHT
        )
    assert refused.value.holder == "user:alice"
    assert refused.value.priority == PtzPriority.OPERATOR
    assert "held by user:alice (priority operator) since" in str(refused.value)

    with pytest.raises(LockedError, match="held by user:alice"):
        await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 1}, BOB)
    with pytest.raises(LockedError):
        await hub.services.async_call("ptz", "release", {"camera_id": "dome"}, BOB)

    assert driver().commands() == [("goto", "2")]
    refusals = [e for e in events if e.event_type == EVENT_PTZ_REFUSED]
    assert [(e.context.origin, e.data["command"], e.data["holder"]) for e in refusals] == [
        ("automation:night-alarm", "goto_preset", "user:alice"),
        ("user:bob", "move", "user:alice"),
        ("user:bob", "release", "user:alice"),
    ]
    status = hub.states.get("dome")
    assert status is not None
    assert status.attributes["ptz_holder"] == "user:alice"
    assert status.attributes["ptz_priority"] == "operator"


async def test_higher_priority_takes_over_and_the_holder_is_told(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    hub, events = await start_hub(cityhub_hub, cityhub_config(hub_config(dome())), "dome")
    await hub.services.async_call("ptz", "move", {"camera_id": "dome", "tilt": 0.4}, ALICE)

    await hub.services.async_call("ptz", "goto_preset", {"camera_id": "dome", "preset": "1"}, CHIEF)

    # Alice's move was stopped before the supervisor's command ran.
    assert driver().commands() == [("move", 0.0, 0.4, 0.0), ("stop",), ("goto", "1")]
    changes = [e.data for e in events if e.event_type == EVENT_PTZ_LOCK_CHANGED]
    assert [(c["holder"], c["previous_holder"], c["cause"]) for c in changes] == [
        ("user:alice", None, "take"),
        ("user:chief", "user:alice", "takeover"),
    ]
    assert changes[-1]["priority"] == "supervisor"
    assert changes[-1]["previous_priority"] == "operator"
    with pytest.raises(LockedError, match="held by user:chief \\(priority supervisor\\)"):
        await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 1}, ALICE)

    await hub.services.async_call("ptz", "release", {"camera_id": "dome"}, CHIEF)
    await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 1}, ALICE)
    assert driver().commands()[-1] == ("move", 1.0, 0.0, 0.0)


async def test_an_idle_lock_is_released_after_the_timeout(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    config = hub_config(dome(), lock_timeout=1)
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    await hub.services.async_call("ptz", "take", {"camera_id": "dome"}, ALICE)
    with pytest.raises(LockedError):
        await hub.services.async_call("ptz", "home", {"camera_id": "dome"}, BOB)

    await wait_until(
        lambda: any(
            e.event_type == EVENT_PTZ_LOCK_CHANGED and e.data["cause"] == "idle" for e in events
        ),
        timeout=10,
        what="the idle release",
    )
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert status["holder"] is None
    await hub.services.async_call("ptz", "home", {"camera_id": "dome"}, BOB)
    assert driver().commands() == [("home",)]
    assert (await hub.services.async_call("ptz", "status", {}))[0]["holder"] == "user:bob"


async def test_tour_cycles_pauses_for_an_operator_and_resumes_where_it_was(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    tour = {
        "name": "patrol",
        "steps": [
            {"preset": "parvis", "dwell": 1},
            {"preset": "rue", "dwell": 1},
            {"preset": "3", "dwell": 1},
        ],
    }
    config = hub_config(dome(tours=[tour]))
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    dome_driver = driver()

    def gotos() -> list[str]:
        return [c[1] for c in dome_driver.commands("goto")]

    status = await hub.services.async_call(
        "ptz", "tour_start", {"camera_id": "dome", "tour": "patrol"}, ALICE
    )
    assert status["tour"] == "patrol"
    await wait_until(lambda: len(gotos()) >= 4, timeout=15, what="a full cycle")
    assert gotos()[:4] == ["1", "2", "3", "1"]
    assert (await hub.services.async_call("ptz", "status", {"camera_id": "dome"}))[
        "holder"
    ] == "tour:patrol"

    # Bob takes the camera during the tour: the tour pauses at the step it was in.
    await wait_until(lambda: len(gotos()) >= 5, timeout=10, what="the second cycle")
    await hub.services.async_call("ptz", "take", {"camera_id": "dome"}, BOB)
    interrupted = gotos()[-1]
    count = len(gotos())
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert status["holder"] == "user:bob"
    assert status["tour_state"] == "paused"
    attributes = hub.states.get("dome")
    assert attributes is not None
    assert attributes.attributes["ptz_tour_state"] == "paused"
    await hub.services.async_call(
        "ptz", "absolute_move", {"camera_id": "dome", "pan": 0.9, "tilt": -0.1}, BOB
    )
    await asyncio.sleep(1.5)  # longer than a dwell: a running tour would have moved on
    assert len(gotos()) == count
    assert dome_driver.position == PTZPosition(0.9, -0.1, 0.0)

    # Released: the tour goes back to the step it was interrupted in, then carries on.
    await hub.services.async_call("ptz", "release", {"camera_id": "dome"}, BOB)
    await wait_until(lambda: len(gotos()) >= count + 2, timeout=10, what="the tour resuming")
    order = ["1", "2", "3"]
    following = order[(order.index(interrupted) + 1) % 3]
    assert gotos()[count : count + 2] == [interrupted, following]
    states = [e.data["state"] for e in events if e.event_type == "ptz.tour_changed"]
    assert states[:3] == ["running", "paused", "running"]

    await hub.services.async_call("ptz", "tour_stop", {"camera_id": "dome"}, BOB)
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert status["tour"] is None
    assert status["holder"] == "user:bob"
    stopped_at = len(gotos())
    await asyncio.sleep(1.2)
    assert len(gotos()) == stopped_at

    with pytest.raises(UnknownTourError, match="no tour 'night' \\(tours: patrol\\)"):
        await hub.services.async_call(
            "ptz", "tour_start", {"camera_id": "dome", "tour": "night"}, BOB
        )


async def test_a_patrol_runs_from_the_start_and_again_once_nobody_steers(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    tour = {
        "name": "ronde",
        "steps": [{"preset": "parvis", "dwell": 1}, {"preset": "rue", "dwell": 1}],
    }
    config = hub_config(dome(tours=[tour], patrol="ronde", lock_timeout=1, home_preset="gare"))
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    dome_driver = driver()

    def gotos() -> list[str]:
        return [c[1] for c in dome_driver.commands("goto")]

    # Nobody asked: the patrol runs as soon as the camera is there.
    await wait_until(lambda: len(gotos()) >= 2, timeout=15, what="the patrol running")
    assert gotos()[:2] == ["1", "2"]
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert (status["tour"], status["holder"]) == ("ronde", "tour:ronde")

    # An operator stops it and steers: the patrol stays stopped while they are at it...
    loop = asyncio.get_running_loop()
    asked = loop.time()
    await hub.services.async_call("ptz", "tour_stop", {"camera_id": "dome"}, ALICE)
    stopped = loop.time()
    # The tour ends at once (it used to linger for the 5 s cancel timeout when the stop came
    # as it woke up, while the operator's click hung).
    assert stopped - asked < 2.5
    for _ in range(4):
        await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 0.3}, ALICE)
        await asyncio.sleep(0.3)
    await hub.services.async_call("ptz", "stop", {"camera_id": "dome"}, ALICE)
    count = len(gotos())
    assert (await hub.services.async_call("ptz", "status", {"camera_id": "dome"}))["tour"] is None
    # ...and is back once the camera has been left alone for the lock timeout (1 s here),
    # in place of going home (no goto to the home preset, token 3).
    await wait_until(lambda: len(gotos()) > count, timeout=15, what="the patrol resuming")
    assert loop.time() - stopped >= 1.0
    assert "3" not in gotos()
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert (status["tour"], status["holder"]) == ("ronde", "tour:ronde")
    assert not [e for e in events if e.event_type == "ptz.returned_home"]
    changes = [e for e in events if e.event_type == "ptz.tour_changed"]
    assert [(e.data["state"], e.context.user) for e in changes] == [
        ("paused", None),  # alice took the camera to stop the patrol
        ("stopped", "alice"),
        ("running", None),  # started again by the hub itself
    ]


async def test_return_home_after_inactivity(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    config = hub_config(
        dome("a", home_preset="parvis", return_home_after=1, lock_timeout=1),
        dome("b", return_home_after=1),
    )
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "a", "b")
    loop = asyncio.get_running_loop()
    await hub.services.async_call("ptz", "goto_preset", {"camera_id": "a", "preset": "gare"}, ALICE)
    moved = loop.time()

    await wait_until(
        lambda: driver("a").commands("goto")[1:], timeout=10, what="camera a going home"
    )
    # Home comes after the lock idled out (1 s) and 1 s without a command.
    assert loop.time() - moved >= 1.0
    assert driver("a").commands("goto") == [("goto", "3"), ("goto", "1")]
    assert driver("a").position == PTZPosition(0.1, 0.0, 0.0)
    # Camera b has no home preset: the driver's own home position; once per inactivity.
    await wait_until(lambda: driver("b").commands("home"), timeout=10, what="camera b home")
    returned = [e.data for e in events if e.event_type == "ptz.returned_home"]
    assert {(r["camera_id"], r["preset"]) for r in returned} == {("a", "1"), ("b", None)}
    await asyncio.sleep(1.5)
    assert driver("b").commands("home") == [("home",)]
    assert len(driver("a").commands("goto")) == 2


async def test_presets_positions_and_refusals_of_cameras_that_cannot(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    fixed = {"id": "fixed", "name": "Fixed", "kind": "ptz", "driver": "fixedcam", "zone": "centre"}
    wall = {"id": "wall", "name": "Wall", "driver": "dome", "zone": "centre"}
    config = hub_config(dome(), dome("away"), fixed, wall)
    config["cameras"][1]["options"] = {"offline": True}
    hub, _events = await start_hub(cityhub_hub, cityhub_config(config), "dome")

    presets = await hub.services.async_call("ptz", "presets", {"camera_id": "dome"}, ALICE)
    assert [p["name"] for p in presets] == ["parvis", "rue", "gare"]
    stored = await hub.services.async_call(
        "ptz", "set_preset", {"camera_id": "dome", "name": "fontaine"}, ALICE
    )
    assert stored == {"token": "4", "name": "fontaine"}
    assert await hub.services.async_call(
        "ptz", "goto_preset", {"camera_id": "dome", "preset": "fontaine"}, ALICE
    ) == {"token": "4", "name": "fontaine"}
    await hub.services.async_call(
        "ptz", "remove_preset", {"camera_id": "dome", "preset": "4"}, ALICE
    )
    with pytest.raises(UnknownPresetError, match="no preset with token or name 'fontaine'"):
        await hub.services.async_call(
            "ptz", "goto_preset", {"camera_id": "dome", "preset": "fontaine"}, ALICE
        )
    await hub.services.async_call(
        "ptz", "absolute_move", {"camera_id": "dome", "pan": 0.5, "tilt": 0.5, "zoom": 1}, ALICE
    )
    await hub.services.async_call(
        "ptz", "relative_move", {"camera_id": "dome", "pan": -0.25, "zoom": -0.5}, ALICE
    )
    assert driver().position == PTZPosition(0.25, 0.5, 0.5)

    assert [c["camera_id"] for c in await hub.services.async_call("ptz", "status", {})] == [
        "dome",
        "away",
    ]
    with pytest.raises(ServiceValidationError, match="pan"):
        await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 2}, ALICE)
    with pytest.raises(NoPtzError, match="camera fixed has no PTZ \\(its driver 'fixedcam'"):
        await hub.services.async_call("ptz", "move", {"camera_id": "fixed", "pan": 1}, ALICE)
    with pytest.raises(NoPtzError, match="camera wall has no PTZ \\(its kind is 'fixed'"):
        await hub.services.async_call("ptz", "take", {"camera_id": "wall"}, ALICE)
    with pytest.raises(CameraOfflineError, match="camera away is offline"):
        await hub.services.async_call("ptz", "home", {"camera_id": "away"}, ALICE)
    with pytest.raises(ServiceValidationError, match="unknown camera 'nowhere'"):
        await hub.services.async_call("ptz", "stop", {"camera_id": "nowhere"}, ALICE)


async def test_a_tour_waits_for_its_camera_to_come_back(
    cityhub_config: MakeConfig,
    cityhub_hub: HubFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("cityhub.ptz.PTZ_TOUR_OFFLINE_RETRY_S", 0.2)
    tour = {"name": "patrol", "steps": [{"preset": "1", "dwell": 1}, {"preset": "2", "dwell": 1}]}
    hub, _events = await start_hub(
        cityhub_hub, cityhub_config(hub_config(dome(tours=[tour]))), "dome"
    )
    first = driver()
    await hub.services.async_call("ptz", "tour_start", {"camera_id": "dome", "tour": "patrol"})
    await wait_until(lambda: first.commands("goto"), what="the first step")

    runtime = hub.cameras["dome"]
    await runtime.async_stop(3.0)
    await wait_until(
        lambda: "tour patrol waits: camera dome is offline" in caplog.text, what="the wait"
    )
    runtime.async_start()
    await wait_until(
        lambda: driver() is not first and driver().commands("goto"), what="the tour on"
    )
    assert caplog.text.count("tour patrol waits") == 1
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert (status["tour"], status["tour_state"], status["holder"]) == (
        "patrol",
        "running",
        "tour:patrol",
    )


async def test_storing_a_preset_mid_move_keeps_the_dead_man_armed(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    config = hub_config(dome(deadman_timeout=0.3))
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    await hub.services.async_call("ptz", "move", {"camera_id": "dome", "zoom": 0.3}, ALICE)
    await hub.services.async_call("ptz", "set_preset", {"camera_id": "dome", "name": "here"}, ALICE)
    await wait_until(lambda: driver().commands("stop"), timeout=5, what="the dead-man stop")
    assert driver().commands() == [("move", 0.0, 0.0, 0.3), ("set_preset", "here", "4"), ("stop",)]
    status = await hub.services.async_call("ptz", "status", {"camera_id": "dome"})
    assert (status["last_command"], status["last_actor"]) == ("set_preset", "user:alice")
    ended = [e.data["cause"] for e in events if e.event_type == EVENT_PTZ_MOVE_ENDED]
    assert ended == ["dead-man"]


async def test_a_failed_dead_man_stop_is_retried_and_a_silent_camera_times_out(
    cityhub_config: MakeConfig,
    cityhub_hub: HubFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cityhub.ptz")
    monkeypatch.setattr("cityhub.ptz.PTZ_STOP_RETRY_S", 0.2)
    monkeypatch.setattr("cityhub.ptz.PTZ_COMMAND_TIMEOUT_S", 0.3)
    config = hub_config(dome("a", deadman_timeout=0.3), dome("b"))
    config["cameras"][0]["options"] = {"fail_stops": 2}
    config["cameras"][1]["options"] = {"hang_goto": True}
    hub, events = await start_hub(cityhub_hub, cityhub_config(config), "a", "b")

    await hub.services.async_call("ptz", "move", {"camera_id": "a", "pan": 1}, ALICE)
    await wait_until(lambda: driver("a").velocity is None, timeout=10, what="a stop that holds")
    assert driver("a").commands() == [("move", 1.0, 0.0, 0.0), ("stop",), ("stop",), ("stop",)]
    assert [e.data["cause"] for e in events if e.event_type == EVENT_PTZ_MOVE_ENDED] == ["dead-man"]
    failed = [r for r in caplog.records if "the dead-man stop failed" in r.getMessage()]
    assert [r.levelname for r in failed] == ["ERROR", "DEBUG"]
    assert "connection reset by peer" in failed[0].getMessage()
    assert "stopped by the dead-man after 2 failed attempts" in caplog.text

    with pytest.raises(DriverCommandError, match="camera b did not answer within"):
        await hub.services.async_call("ptz", "goto_preset", {"camera_id": "b", "preset": "1"})
    # The camera's calls are not blocked behind the one that never answered.
    await hub.services.async_call("ptz", "home", {"camera_id": "b"})
    assert driver("b").commands() == [("goto", "1"), ("home",)]
