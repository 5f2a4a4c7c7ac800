"""The PTZ pane in real Chromium on the ONVIF simulator: the joystick moves the head and stops
it on release, a second operator sees the lock and is refused, the keyboard and presets; and
a gamepad drives the same camera."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory
from cityhub.testing.onvif import OnvifSimulator

PTZ_PATH = "/api/cameras/dome/ptz"


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
        # A long dead-man, so a head that stops at once was stopped by the page's own stop.
        "ptz": {"deadman_timeout": 5.0, "lock_timeout": 30},
        "cameras": [
            {"id": "dome", "name": "Dôme de la mairie", "driver": "onvif", "kind": "ptz",
             "zone": "centre", "recording": False,
             "options": {"host": sim.host, "port": sim.port, "username": "admin",
                         "password": "onvif-secret", "timeout": 5}},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    for name in ("j.martin", "p.leroy"):
        await add_account(hub, name, Role.OPERATOR)
    await until(lambda: hub.cameras["dome"].driver is not None, 20, "the ONVIF camera set up")
    return hub, sim


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for ``condition`` (checked every 50 ms) at most ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.05)


async def steady(sim: OnvifSimulator, seconds: float = 0.6) -> None:
    """Assert the simulated head does not move for ``seconds``."""
    before = sim.position.rounded(3)
    await asyncio.sleep(seconds)
    assert sim.position.rounded(3) == before, "the head kept moving"


async def open_dome(tab: Any, log: Any, hub: Hub, user: str) -> None:
    """Log ``user`` in, show the dome alone on the wall and wait for its PTZ pane."""
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    await tab.fill("input[name=user]", user)
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.click(".layout-button[data-layout='1']")
    await tab.dblclick(".tree-camera[data-camera='dome']")
    await tab.wait_for_selector("ch-ptz:not([hidden]) .ptz-title:text('Dôme de la mairie')")


async def drag_stick(tab: Any, dx: float, dy: float) -> None:
    """Press the on-screen joystick at its centre and drag it by (dx, dy) pixels, held."""
    box = await tab.locator(".ptz-stick").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await tab.mouse.move(x, y)
    await tab.mouse.down()
    await tab.mouse.move(x + dx, y + dy, steps=4)


async def test_joystick_moves_the_head_and_a_second_operator_sees_the_lock(
    setup: tuple[Hub, OnvifSimulator],
    page: tuple[Any, Any],
    second_page: tuple[Any, Any],
) -> None:
    hub, sim = setup
    julie, julie_log = page
    paul, paul_log = second_page
    await open_dome(julie, julie_log, hub, "j.martin")
    assert await julie.text_content(".ptz-lock") == "Free"

    # The joystick held right of centre pans the simulated head right, and takes the lock.
    start = sim.position.pan
    await drag_stick(julie, 60, 0)
    await until(lambda: sim.position.pan > start + 0.05, 10, "the head panning right")
    await julie.wait_for_selector(".ptz-lock[data-state=mine]:text('You control')")
    # Released: the page's stop halts the head at once (the dead-man is 5 s here).
    await julie.mouse.up()
    await asyncio.sleep(0.4)
    await steady(sim)

    # The second operator sees the lock, red, with the holder's name...
    await open_dome(paul, paul_log, hub, "p.leroy")
    await paul.wait_for_selector(".ptz-lock[data-state=other]:text('Held by j.martin')")
    assert await paul.text_content(".ptz-lock-button") == "Take control"
    # ...and the stick is refused, with a message that names the holder; the head stays put.
    paul_log.allow_refusal(PTZ_PATH, 409)
    before = sim.position.rounded(3)
    await drag_stick(paul, -60, 0)
    await paul.wait_for_selector(".ptz-message[data-kind=locked]:has-text('j.martin')")
    await paul.mouse.up()
    assert sim.position.rounded(3) == before

    # Julie's keyboard: Left held pans left, released stops.
    await julie.click("ch-tile >> nth=0")
    start = sim.position.pan
    await julie.keyboard.down("ArrowLeft")
    await until(lambda: sim.position.pan < start - 0.05, 10, "the head panning left")
    await julie.keyboard.up("ArrowLeft")
    await asyncio.sleep(0.4)
    await steady(sim)

    # A preset saved from the pane, then reached with its number key from elsewhere.
    await julie.fill(".ptz-preset-name", "parvis")
    await julie.click(".ptz-save button[type=submit]")
    await julie.wait_for_selector(".ptz-presets li[data-preset='parvis']")
    saved = sim.position.rounded(3)
    await drag_stick(julie, 0, -60)  # up: tilt up
    await until(lambda: sim.position.tilt > saved.tilt + 0.05, 10, "the head tilting up")
    await julie.mouse.up()
    await julie.click("ch-tile >> nth=0")
    index = await julie.locator(".ptz-presets li").evaluate_all(
        "(items) => items.findIndex((li) => li.dataset.preset === 'parvis')"
    )
    await julie.keyboard.press(str(index + 1))
    await until(
        lambda: abs(sim.position.tilt - saved.tilt) < 0.01, 10, "the head back at the preset"
    )

    # Zoom + held zooms in, released stops; H sends the head home (the simulator's 0, 0, 0).
    zoom = sim.position.zoom
    box = await julie.locator(".ptz-zoom[data-zoom=in]").bounding_box()
    await julie.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await julie.mouse.down()
    await until(lambda: sim.position.zoom > zoom + 0.05, 10, "the head zooming in")
    await julie.mouse.up()
    await asyncio.sleep(0.4)
    await steady(sim)
    # "-" held zooms out, released stops.
    zoom = sim.position.zoom
    await julie.click("ch-tile >> nth=0")
    await julie.keyboard.down("-")
    await until(lambda: sim.position.zoom < zoom - 0.03, 10, "the head zooming out")
    await julie.keyboard.up("-")
    await asyncio.sleep(0.4)
    await steady(sim)
    home = sim.home.rounded(2)
    assert sim.position.rounded(2) != home
    await julie.click("ch-tile >> nth=0")
    await julie.keyboard.press("h")
    await until(lambda: sim.position.rounded(2) == home, 15, "the head back home")

    # Paul asks for control: same rank as Julie, refused, and told who holds the camera.
    await paul.click(".ptz-lock-button[data-action=take]")
    await paul.wait_for_selector(".ptz-message[data-kind=locked]:has-text('j.martin')")

    # Julie lets the camera go: Paul's badge turns free and his stick now moves the head.
    await julie.click(".ptz-lock-button[data-action=release]")
    await paul.wait_for_selector(".ptz-lock[data-state=free]")
    start = sim.position.pan
    await drag_stick(paul, -60, 0)
    await until(lambda: sim.position.pan < start - 0.05, 10, "Paul panning left")
    await paul.wait_for_selector(".ptz-lock[data-state=mine]")
    await julie.wait_for_selector(".ptz-lock[data-state=other]:text('Held by p.leroy')")
    # The window losing focus mid-move is a release too...
    await paul.evaluate("window.dispatchEvent(new Event('blur'))")
    await asyncio.sleep(0.4)
    await steady(sim)
    await paul.mouse.up()
    # ...and so is the page being hidden (headless Chromium never is: the page is told so).
    start = sim.position.pan
    await drag_stick(paul, 60, 0)
    await until(lambda: sim.position.pan > start + 0.05, 10, "Paul panning right")
    await paul.evaluate(
        "Object.defineProperty(document, 'visibilityState', { configurable: true, get: () =>"
        " 'hidden' }); document.dispatchEvent(new Event('visibilitychange'));"
    )
    await asyncio.sleep(0.4)
    await steady(sim)
    await paul.mouse.up()
    assert julie_log.errors == []
    assert paul_log.errors == []


# The browser has no gamepad here (no USB device): a fake navigator.getGamepads stands at that
# boundary; the test sets its axes and buttons as a hand on a stick would.
FAKE_GAMEPAD_JS = """
window.__pad = {
  index: 0, id: 'Test PTZ joystick', connected: true, mapping: '', timestamp: 0,
  axes: [0, 0, 0, 0],
  buttons: Array.from({ length: 12 }, () => ({ pressed: false, touched: false, value: 0 })),
};
navigator.getGamepads = () => [window.__pad, null, null, null];
"""

SET_AXES_JS = "(axes) => { window.__pad.axes = axes; window.__pad.timestamp += 1; }"
SET_BUTTON_JS = """([index, down]) => {
  window.__pad.buttons[index] = { pressed: down, touched: down, value: down ? 1 : 0 };
}"""


async def test_a_gamepad_steers_the_head_with_a_dead_zone_and_presets(
    setup: tuple[Hub, OnvifSimulator], page: tuple[Any, Any]
) -> None:
    hub, sim = setup
    tab, log = page
    await tab.add_init_script(FAKE_GAMEPAD_JS)
    await open_dome(tab, log, hub, "j.martin")
    # One axis through its dead zone: engaged only beyond 0.15, released only under 0.08, a
    # gentle start (the exponential curve) and full speed at the end of its travel.
    values = await tab.evaluate(
        """async (inputs) => {
          const { Axis } = await import('/static/js/gamepad.js');
          const axis = new Axis();
          return inputs.map((x) => axis.value(x));
        }""",
        [0.12, 0.5, 0.12, 0.05, 0.12, -1.0, 1.0],
    )
    assert values[0] == 0  # resting near centre: nothing
    assert 0 < values[1] < 0.3  # half way: well under half speed
    assert values[2] > 0  # still engaged (hysteresis)
    assert values[3:5] == [0, 0]  # released, and not engaged again at 0.12
    assert values[5:] == [-1, 1]
    # A stick resting slightly off centre (inside the dead zone) never moves the motors.
    before = sim.position.rounded(3)
    await tab.evaluate(SET_AXES_JS, [0.1, -0.1, 0, 0.05])
    await asyncio.sleep(0.8)
    assert sim.position.rounded(3) == before
    assert hub.ptz is not None
    assert hub.ptz.controller("dome").status()["last_command"] is None
    # Pushed right: the head pans right; back near centre (still above the release point of
    # the hysteresis, then below it): it stops.
    await tab.evaluate(SET_AXES_JS, [0.9, 0, 0, 0])
    await until(lambda: sim.position.pan > before.pan + 0.05, 10, "the gamepad panning right")
    await tab.wait_for_selector(".ptz-lock[data-state=mine]")
    await tab.evaluate(SET_AXES_JS, [0.03, 0, 0, 0])
    await asyncio.sleep(0.4)
    await steady(sim)
    # The second stick's Y zooms in (up is -1 on the Gamepad API).
    zoom = sim.position.zoom
    await tab.evaluate(SET_AXES_JS, [0, 0, 0, -1])
    await until(lambda: sim.position.zoom > zoom + 0.05, 10, "the gamepad zooming in")
    await tab.evaluate(SET_AXES_JS, [0, 0, 0, 0])
    await asyncio.sleep(0.4)
    await steady(sim)
    # Button 0 is preset 1: save the position, move away, press it, and the head comes back.
    await tab.fill(".ptz-preset-name", "carrefour")
    await tab.click(".ptz-save button[type=submit]")
    await tab.wait_for_selector(".ptz-presets li[data-preset='carrefour']")
    assert await tab.locator(".ptz-presets li").count() == 1
    saved = sim.position.rounded(3)
    await tab.evaluate(SET_AXES_JS, [0, 0.9, 0, 0])  # stick down: tilt down
    await until(lambda: sim.position.tilt < saved.tilt - 0.05, 10, "the gamepad tilting down")
    await tab.evaluate(SET_AXES_JS, [0, 0, 0, 0])
    await asyncio.sleep(0.3)
    await tab.evaluate(SET_BUTTON_JS, [0, True])
    await until(lambda: abs(sim.position.tilt - saved.tilt) < 0.01, 10, "back at preset 1")
    await tab.evaluate(SET_BUTTON_JS, [0, False])
    assert log.errors == []


async def test_a_running_tour_shows_and_is_stopped_from_the_pane(
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
    onvif_simulator_factory: Callable[..., Awaitable[OnvifSimulator]],
    page: tuple[Any, Any],
) -> None:
    sim = await onvif_simulator_factory(video=False)
    steps = [{"preset": "nord", "dwell": 1}, {"preset": "sud", "dwell": 1}]
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [
            {"id": "dome", "name": "Dôme de la mairie", "driver": "onvif", "kind": "ptz",
             "zone": "centre", "recording": False,
             "ptz": {"tours": [{"name": "ronde", "steps": steps}]},
             "options": {"host": sim.host, "port": sim.port, "username": "admin",
                         "password": "onvif-secret", "timeout": 5}},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR)
    await until(lambda: hub.cameras["dome"].driver is not None, 20, "the ONVIF camera set up")
    tab, log = page
    await open_dome(tab, log, hub, "j.martin")
    # The tour's two presets, saved from the pane at two positions.
    for name, dx in (("nord", 0), ("sud", 60)):
        if dx:
            start = sim.position.pan
            await drag_stick(tab, dx, 0)
            await until(lambda: sim.position.pan > start + 0.1, 10, "the head panning")  # noqa: B023
            await tab.mouse.up()
        await tab.fill(".ptz-preset-name", name)
        await tab.click(".ptz-save button[type=submit]")
        await tab.wait_for_selector(f".ptz-presets li[data-preset='{name}']")
    await tab.click(".ptz-lock-button[data-action=release]")
    # The click returns before the release reaches the hub: wait for the hub to let go.
    assert hub.ptz is not None
    controller = hub.ptz.controller("dome")
    await until(lambda: controller.status()["holder"] is None, 10, "the release reaching the hub")
    # An automation starts the tour: the pane shows it holding the camera, with a stop.
    await hub.services.async_call(
        "ptz", "tour_start", {"camera_id": "dome", "tour": "ronde"}, Context(user="p.leroy")
    )
    await tab.wait_for_selector(".ptz-lock[data-state=other]:text('Held by tour ronde')")
    await tab.click(".ptz-tour-stop:text('Stop tour ronde')")
    await tab.wait_for_selector(".ptz-tour-stop", state="detached")
    assert hub.ptz is not None
    assert hub.ptz.controller("dome").status()["tour"] is None
    assert log.errors == []
