"""Bookmarks and the statistics per zone in the logbook mode, in real Chromium against a real
hub: a bookmark made with the dialog (as a tile or the timeline opens it) is listed with its
tags and a link to its footage, and removed by its author; the statistics count what happened
per zone over the chosen period."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory, fire_logged


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    cameras = [
        {"id": cid, "name": name, "driver": "virtual", "zone": zone, "enabled": False}
        for cid, name, zone in (("mairie", "Mairie", "centre"), ("quai-1", "Quai 1", "gare"))
    ]
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras,
    }
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR)
    return hub


async def open_logbook(tab: Any, log: Any, hub: Hub) -> None:
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    await tab.fill("input[name=user]", "j.martin")
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.click("button.mode[data-mode=logbook]")
    await tab.wait_for_selector(".logbook-live[data-state=live]")


async def test_a_bookmark_is_made_listed_with_its_footage_and_removed(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await open_logbook(tab, log, hub)
    await tab.click(".log-bookmarks summary")
    await tab.wait_for_selector(".bookmark-message:text('No bookmark in the last 7 days.')")

    # The dialog a live tile or the playback timeline opens.
    await tab.evaluate(
        "import('/static/js/bookmarks.js').then((m) => { window.made = m.openBookmarkDialog("
        "{camera: 'mairie', cameraName: 'Mairie', start: new Date(Date.now() - 60000)}); })"
    )
    dialog = tab.locator("dialog.bookmark-dialog")
    await dialog.locator("input[name=name]").wait_for()
    await dialog.locator("button[type=submit]").click()  # no name: the browser asks for one
    assert await dialog.is_visible()
    await dialog.locator("input[name=name]").fill("Scooter sans plaque")
    await dialog.locator("textarea[name=note]").fill("Direction rue Gambetta")
    await dialog.locator("input[name=tags]").fill("Scooter, véhicule, scooter")
    await dialog.locator("button[type=submit]").click()
    await dialog.wait_for(state="detached")
    saved = await tab.evaluate("window.made")
    assert saved["tags"] == ["scooter", "véhicule"]

    # The open list hears of it at once.
    item = tab.locator(f"li.bookmark[data-id='{saved['id']}']")
    await item.locator(".bookmark-name:text('Scooter sans plaque')").wait_for()
    assert await item.locator(".tag").all_inner_texts() == ["scooter", "véhicule"]
    href = await item.locator("a.bookmark-footage").get_attribute("href")
    assert href is not None
    assert href.startswith("#playback?cameras=mairie&t=")

    await tab.fill(".bookmark-bar input[name=tag]", "rixe")
    await tab.press(".bookmark-bar input[name=tag]", "Enter")
    await tab.wait_for_selector(".bookmark-message:text('No bookmark tagged “rixe”.')")
    await tab.fill(".bookmark-bar input[name=tag]", "")
    await tab.press(".bookmark-bar input[name=tag]", "Enter")
    await item.wait_for()

    tab.once("dialog", lambda confirm: asyncio.ensure_future(confirm.accept()))
    await item.locator("button.bookmark-remove").click()
    await item.wait_for(state="detached")
    assert hub.bookmarks is not None
    [removed] = await hub.bookmarks.list(removed=True)
    assert removed.removed_by == "user:j.martin"
    assert log.errors == []


async def test_the_statistics_count_per_zone_over_the_period(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await fire_logged(hub, "camera.motion", camera_id="mairie", active=True)
    await fire_logged(hub, "camera.motion", camera_id="mairie", active=True)
    await fire_logged(hub, "camera.offline", camera_id="quai-1")
    assert hub.logbook is not None
    first = (await hub.logbook.entries(cameras=["mairie"]))[0]
    await hub.logbook.acknowledge(first.id, "Chat", Context(user="j.martin"), false_alarm=True)
    await open_logbook(tab, log, hub)
    await tab.click(".log-stats summary")
    centre = tab.locator(".stats-table tr[data-zone=centre]")
    await centre.wait_for()
    cells = await centre.locator("th, td").all_inner_texts()
    assert cells[0] == "Centre-ville"
    assert cells[1:5] == ["2", "1", "1", "1"]  # events, acknowledged, false alarms, waiting
    assert cells[5].endswith(" s")
    gare = await tab.locator(".stats-table tr[data-zone=gare] td").all_inner_texts()
    assert gare[:4] == ["1", "0", "0", "1"]
    # The CSV link carries the same period.
    href = await tab.get_attribute(".stats-csv", "href")
    assert href is not None
    assert href.startswith("/api/logbook/statistics.csv?from=")

    # A range of dates long before: nothing counted, the zones still listed.
    await tab.select_option(".stats-bar select[name=period]", "range")
    await tab.fill(".stats-dates input[name=from]", "2026-01-01")
    await tab.fill(".stats-dates input[name=to]", "2026-01-31")
    await tab.dispatch_event(".stats-dates input[name=to]", "change")
    await tab.wait_for_selector(".stats-table tr[data-zone=centre] td.num >> nth=0 >> text='0'")
    assert log.errors == []
