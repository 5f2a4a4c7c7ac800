"""The logbook and health modes in real Chromium against a real hub: an event fired as a driver
would appears live, is acknowledged with a comment and the badge drops; notes are added and
corrected; the health screen shows an offline camera and the storage forecast."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import CameraState, Context
from cityhub.auth.roles import Role
from cityhub.bus import Event
from cityhub.hub import Hub
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory, wait_for_state
from cityhub.testing.onvif import OnvifSimulator

OPTIONS = {"mode": "loop", "width": 320, "height": 180, "fps": 25, "sub_stream": False}


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "options": OPTIONS},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "recording": False, "options": OPTIONS},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR)
    for camera in ("mairie", "quai-1"):
        await wait_for_state(hub, camera, CameraState.ONLINE, timeout=30)
    return hub


async def log_in(tab: Any, log: Any, hub: Hub, mode: str) -> None:
    """Log j.martin in and open ``mode`` from the top bar."""
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    await tab.fill("input[name=user]", "j.martin")
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.click(f"button.mode[data-mode={mode}]")
    await tab.wait_for_selector(f"button.mode[data-mode={mode}][aria-current=page]")


async def fire(hub: Hub, event_type: str, **data: Any) -> None:
    """Fire an event on the bus as a camera driver would."""
    hub.bus.async_fire(event_type, data, Context())
    await asyncio.sleep(0)


async def test_an_event_arrives_live_is_acknowledged_and_the_badge_drops(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await fire(hub, "camera.input", camera_id="quai-1", active=True)
    await log_in(tab, log, hub, "logbook")
    await tab.wait_for_selector(".log-event[data-type='camera.input'][data-state=pending]")
    await tab.wait_for_selector(".logbook-live[data-state=live]")
    badge = tab.locator("button.mode[data-mode=logbook] .mode-badge")
    await tab.wait_for_selector(".mode-badge[data-count='1']")

    # A motion alarm fired now appears at the top of the list, red, with the badge at 2.
    await fire(hub, "camera.motion", camera_id="mairie", active=True, raw="MotionAlarm")
    first = tab.locator(".log-event >> nth=0")
    await first.locator(".log-type:text('Motion')").wait_for()
    assert await first.get_attribute("data-kind") == "alarm"
    assert "Mairie" in await first.inner_text()
    await tab.wait_for_selector(".mode-badge[data-count='2']")
    assert await badge.text_content() == "2"

    # A comment is required; then the acknowledgement goes through and the badge drops to 1.
    await first.locator("button.log-ack-open").click()
    await first.locator("button[type=submit]").click()
    await tab.wait_for_selector(".logbook-message:text('Write a comment')")
    await first.locator("input[name=comment]").fill("Un passant, rien à signaler")
    await first.locator("input[name=false_alarm]").check()
    await first.locator("button[type=submit]").click()
    await first.locator(".log-ack-done:has-text('false alarm')").wait_for()
    assert await first.get_attribute("data-state") == "acked"
    await tab.wait_for_selector(".mode-badge[data-count='1']")
    assert hub.logbook is not None
    motion = (await hub.logbook.entries(event_types=["camera.motion"]))[0]
    assert (motion.acked_by, motion.comment, motion.false_alarm) == (
        "user:j.martin",
        "Un passant, rien à signaler",
        True,
    )

    # Filters: waiting only, then a zone; the CSV link follows them.
    await tab.check("input[name=unacknowledged]")
    await tab.wait_for_function(
        "() => document.querySelectorAll('.log-event').length === 1"
        " && document.querySelector('.log-event').dataset.type === 'camera.input'"
    )
    await tab.uncheck("input[name=unacknowledged]")
    await tab.select_option("select[name=zone]", "centre")
    await tab.wait_for_function(
        "() => [...document.querySelectorAll('.log-event')]"
        ".every((e) => e.querySelector('.log-camera').textContent === 'Mairie')"
    )
    assert await tab.locator(".log-event[data-type='camera.motion']").count() == 1
    assert await tab.get_attribute(".logbook-csv", "href") == "/api/logbook/export.csv?zone=centre"
    csv = await tab.evaluate(
        "fetch(document.querySelector('.logbook-csv').href).then((r) => r.text())"
    )
    assert "camera.motion" in csv
    assert "camera.input" not in csv
    # A live event outside the chosen zone does not enter the list, but counts in the badge.
    await fire(hub, "camera.tampering", camera_id="quai-1", active=True)
    shown = await tab.locator(".log-event").count()
    await tab.wait_for_selector(".mode-badge[data-count='2']")
    await asyncio.sleep(0.5)  # had the live list taken it in, it would show by now
    assert await tab.locator(".log-event").count() == shown

    # A note, then its correction: the original stays, marked as corrected.
    await tab.fill("textarea[name=note]", "Ronde de la police municipale à 22 h")
    await tab.select_option("select[name=note-camera]", "mairie")
    await tab.click(".note-form button[type=submit]")
    note = tab.locator(".note >> nth=0")
    await note.locator(".note-text:text('Ronde de la police municipale à 22 h')").wait_for()
    await note.locator("button.note-correct").click()
    await tab.fill("textarea[name=note]", "Ronde de la police municipale à 23 h")
    await tab.click(".note-form button[type=submit]")
    await tab.wait_for_selector(".note.corrected .note-text:text('à 22 h')")
    newest = tab.locator(".note >> nth=0")
    assert "à 23 h" in await newest.inner_text()
    assert "corrects note" in await newest.inner_text()
    assert log.errors == []


async def test_health_shows_an_offline_camera_and_the_storage_forecast(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    closed: list[Event] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, closed.append)
    deadline = time.monotonic() + 20
    while not closed:
        assert time.monotonic() < deadline, "no segment recorded in 20 s"
        await asyncio.sleep(0.1)
    await hub.cameras["quai-1"].async_stop(10)
    await log_in(tab, log, hub, "health")
    quai = tab.locator("tr.health-camera[data-camera='quai-1']")
    offline = quai.locator(".health-state", has_text=re.compile(r"^Offline since \d\d:\d\d$"))
    await offline.wait_for()
    assert "down" in (await quai.get_attribute("class") or "")
    mairie = tab.locator("tr.health-camera[data-camera='mairie']")
    await mairie.locator(".health-state:text('Online')").wait_for()
    assert "Yes" in await mairie.inner_text()  # recording
    forecast = tab.locator(".health-forecast[data-state=ok]")
    await forecast.wait_for()
    text = await forecast.inner_text()
    # A few seconds of footage on a big disk: years at this rate, against 14 days of retention.
    assert re.fullmatch(
        r"Retention forecast: (\d+(\.\d)? days|more than ten years) of footage at the current"
        r" rate \(longest retention 14 days\)\.",
        text,
    ), text
    await quai.locator("td:text('Gare')").wait_for()  # the zone's name, not its id
    assert "used of" in await tab.inner_text(".health-usage")
    await fire(hub, "camera.motion", camera_id="mairie", active=True)
    await tab.wait_for_selector(
        ".health-alarms[data-count='1']:text('1 logbook event waiting for acknowledgement')"
    )
    # The health screen refreshes by itself: the camera coming back shows without a reload.
    hub.cameras["quai-1"].async_start()
    await quai.locator(".health-state:text('Online')").wait_for(timeout=30_000)
    assert log.errors == []


async def test_health_highlights_a_camera_clock_off_by_more_than_5_s(
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
    onvif_simulator_factory: Callable[..., Awaitable[OnvifSimulator]],
    page: tuple[Any, Any],
) -> None:
    sim = await onvif_simulator_factory(video=False, clock_offset_s=30.0)
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre-ville"}],
        "cameras": [
            {"id": "dome", "name": "Dôme", "driver": "onvif", "zone": "centre",
             "recording": False,
             "options": {"host": sim.host, "port": sim.port, "username": "admin",
                         "password": "onvif-secret", "timeout": 5}},
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "recording": False, "options": OPTIONS},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR)
    tab, log = page
    await log_in(tab, log, hub, "health")
    drift = tab.locator("tr[data-camera='dome'] .health-drift.alert")
    await drift.wait_for(timeout=30_000)
    assert re.fullmatch(r"\+(29|30|31)\.\d s", await drift.inner_text())
    # The virtual camera has no clock to measure: nothing shown, nothing highlighted.
    await tab.wait_for_selector("tr[data-camera='mairie'] .health-drift:not(.alert)")
    assert log.errors == []
