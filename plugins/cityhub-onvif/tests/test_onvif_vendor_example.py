"""The plugin guide's worked example (examples/cityhub_acme.py) against the ONVIF simulator:
a vendor driver on top of the ONVIF one maps one more topic, in a real hub; the generic driver
drops that topic, or forwards it as camera.event when asked."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from onvif_support import PASSWORD, USERNAME, DriverFactory, SimFactory, wait_until

from cityhub.api import CameraEvent
from cityhub.bus import Event
from cityhub.plugins import Plugins
from cityhub.testing.hub import HubFactory

EXAMPLE = Path(__file__).parent.parent / "examples" / "cityhub_acme.py"
LINE = "tns1:RuleEngine/LineDetector/Crossed"
SOURCE = {"VideoSourceConfigurationToken": "video_source_config", "Rule": "Entrée école"}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cityhub_acme", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("cityhub_acme", module)
    spec.loader.exec_module(module)
    return module


async def test_the_vendor_plugin_maps_line_crossings_in_a_hub(
    make_sim: SimFactory, cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    example = load_example()
    plugins = Plugins.load(extra=[example])
    assert plugins.camera_drivers["acme"] is example.AcmeCamera
    sim = await make_sim(manufacturer="Acme")
    config = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [
            {
                "id": "ecole",
                "name": "École",
                "driver": "acme",
                "zone": "centre",
                "recording": False,
                "options": {
                    "host": sim.host,
                    "port": sim.port,
                    "username": USERNAME,
                    "password": PASSWORD,
                },
            }
        ],
    }
    hub = await cityhub_hub(cityhub_config(config), plugins)
    crossings: list[Event] = []
    motion: list[Event] = []
    hub.bus.subscribe("camera.line_crossing", crossings.append)
    hub.bus.subscribe("camera.motion", motion.append)
    await wait_until(lambda: sim.calls["Subscription.PullMessages"] >= 1)

    sim.fire_event(LINE, SOURCE, {"ObjectId": "17"})
    sim.fire_motion(active=True)
    await wait_until(lambda: bool(crossings and motion), timeout=5)
    data = crossings[0].data
    assert data["camera_id"] == "ecole"
    assert data["raw"] == LINE
    assert data["source"] == SOURCE
    assert data["items"] == {"ObjectId": "17"}
    assert "active" not in data
    assert motion[0].data["active"] is True  # the ONVIF topics still work


@pytest.mark.parametrize(("forward", "expected"), [(False, []), (True, ["camera.event"])])
async def test_the_generic_driver_drops_the_topic_or_forwards_it(
    make_sim: SimFactory, make_driver: DriverFactory, forward: bool, expected: list[str]
) -> None:
    sim = await make_sim()
    driver = await make_driver(sim, forward_unknown_events=forward)
    events: list[CameraEvent] = []
    task = asyncio.create_task(driver.run_events(events.append))
    try:
        await wait_until(lambda: sim.calls["Subscription.PullMessages"] >= 1)
        # The line crossing is fired first: once the input arrives, it was handled.
        sim.fire_event(LINE, SOURCE, {"ObjectId": "3"})
        sim.fire_input(active=True)
        await wait_until(lambda: any(e.event_type == "camera.input" for e in events))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    others = [e for e in events if e.event_type != "camera.input"]
    assert [e.event_type for e in others] == expected
    if forward:
        assert others[0].raw == LINE
        assert others[0].data["items"] == {"ObjectId": "3"}
    assert sim.calls["Subscription.Unsubscribe"] == 1
