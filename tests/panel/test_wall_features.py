"""The wall's console features in real Chromium against a real, recording hub: instant replay,
the tile menu and history, snapshots, the keyboard help, camera sequences, alarm tiles and
wall monitors (a second window of the same browser context)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import CameraState, Context
from cityhub.auth.roles import Role
from cityhub.bus import Event
from cityhub.hub import Hub
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory, wait_for_state

CAMERAS = (("mairie", "Mairie", "centre"), ("parvis", "Parvis", "centre"),
           ("halles", "Halles", "centre"), ("quai-1", "Quai 1", "gare"))  # fmt: skip


def config() -> dict[str, Any]:
    options = {"mode": "loop", "width": 320, "height": 180, "fps": 25, "gop": 12,
               "sub_stream": False}  # fmt: skip
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": cid, "name": name, "driver": "virtual", "zone": zone, "options": options,
             "recording": cid == "mairie"}  # only the replay needs footage
            for cid, name, zone in CAMERAS
        ],
    }  # fmt: skip


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    hub = await cityhub_hub(cityhub_config(config()))
    await add_account(hub, "j.martin", Role.OPERATOR)
    for camera, *_ in CAMERAS:
        await wait_for_state(hub, camera, CameraState.ONLINE, timeout=30)
    return hub


TILE_PLAYS_JS = """([index, camera, kind]) => {
  const tile = document.querySelectorAll('ch-tile')[index];
  if (!tile || tile.dataset.camera !== camera) return false;
  const replay = kind === 'replay';
  const video = tile.querySelector(replay ? 'video.replay-video' : 'video:not(.replay-video)');
  if (replay ? tile.dataset.mode !== 'replay' : tile.dataset.status !== 'playing') return false;
  window.__plays ??= new Map();
  const key = `${index}:${camera}:${kind}`;
  const first = window.__plays.get(key);
  if (first === undefined || video.currentTime < first) {
    window.__plays.set(key, video.currentTime);
    return false;
  }
  return video.currentTime - first > 0.3;
}"""


async def tile_plays(page: Any, index: int, camera: str, kind: str = "live") -> None:
    """Wait until tile ``index`` shows ``camera`` and its live (or replay) video advances."""
    await page.evaluate("window.__plays = new Map()")
    await page.wait_for_function(TILE_PLAYS_JS, arg=[index, camera, kind], timeout=20_000,
                                 polling=100)  # fmt: skip


async def log_in(page: Any, log: Any, hub: Hub, user: str) -> None:
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")  # the panel asks who is logged in: nobody yet
    await page.goto(hub.http_url + "/")
    await page.fill("input[name=user]", user)
    await page.fill("input[name=password]", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector(f".topbar .user-name:text('{user}')")


def tile(page: Any, index: int) -> Any:
    return page.locator("ch-tile").nth(index)


async def menu(page: Any, index: int, action: str, **data: str) -> None:
    """Open tile ``index``'s menu by right-click and choose ``action``."""
    await tile(page, index).click(button="right")
    selector = f".tile-menu[data-tile='{index}'] .menu-item[data-action='{action}']"
    for key, value in data.items():
        selector += f"[data-{key}='{value}']"
    await page.click(selector)


async def test_instant_replay_the_tile_menu_history_and_a_named_snapshot(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    events: list[Event] = []
    hub.bus.subscribe("playback.*", events.append)
    hub.bus.subscribe("live.snapshot", events.append)
    await log_in(tab, log, hub, "j.martin")
    await tab.click(".layout-button[data-layout='4']")
    await tab.dblclick(".tree-camera[data-camera='mairie']")
    await tile_plays(tab, 0, "mairie")
    await asyncio.sleep(4)  # some footage to go back to
    # R: the selected tile replays from 15 s back (from the first footage: the hub is young).
    await tile(tab, 0).click()
    await tab.keyboard.press("r")
    await tile_plays(tab, 0, "mairie", "replay")
    badge = tile(tab, 0).locator(".replay-badge")
    await badge.filter(has_text=re.compile(r"instant replay \d\d:\d\d:\d\d")).wait_for()
    shown = datetime.strptime(
        (await badge.inner_text()).rsplit(" ", 1)[1], "%H:%M:%S"
    ).time()  # fmt: skip
    now = datetime.now().astimezone().time()  # the browser runs in the test's time zone
    behind = (now.hour * 3600 + now.minute * 60 + now.second) - (
        shown.hour * 3600 + shown.minute * 60 + shown.second
    )
    assert 2 <= behind <= 16, (shown, now)
    assert await tile(tab, 0).locator(".replay-range").count() >= 1
    assert [e.data["camera_id"] for e in events if e.event_type == "playback.started"] == ["mairie"]
    assert events[0].context.user == "j.martin"  # audited as the operator's playback
    # A click on the mini timeline, near its right end, moves the replay there.
    bar = tile(tab, 0).locator(".replay-bar")
    box = await bar.bounding_box()
    await tab.mouse.click(box["x"] + box["width"] * 0.995, box["y"] + box["height"] / 2)
    await tab.wait_for_function(
        "() => document.querySelectorAll('ch-tile')[0].replay.base > Date.now() - 3000"
    )
    await tile_plays(tab, 0, "mairie", "replay")
    # L: back to live; the replay's stream is released.
    await tab.keyboard.press("l")
    await tile_plays(tab, 0, "mairie")
    assert await tile(tab, 0).locator(".tile-replay").is_hidden()
    # The menu (right-click) offers 30 s; its Live button comes back too.
    await menu(tab, 0, "replay", seconds="30")
    await tile_plays(tab, 0, "mairie", "replay")
    await tile(tab, 0).locator(".replay-live").click()
    await tile_plays(tab, 0, "mairie")
    started = [e for e in events if e.event_type == "playback.started"]
    assert len(started) >= 3
    # The tile's history: another camera dropped on it, back with the arrow, forward with Alt+→.
    await tab.drag_and_drop(".tree-camera[data-camera='parvis']", "ch-tile >> nth=0")
    await tile_plays(tab, 0, "parvis")
    assert await tile(tab, 0).locator(".tile-forward").is_hidden()
    await tile(tab, 0).locator(".tile-back").click()
    await tile_plays(tab, 0, "mairie")
    await tab.keyboard.press("Alt+ArrowRight")
    await tile_plays(tab, 0, "parvis")
    await tab.keyboard.press("Alt+ArrowLeft")
    await tile_plays(tab, 0, "mairie")
    # The stream entries list the camera's live streams; the touch button opens the same menu.
    await tile(tab, 0).locator(".tile-menu-button").click()
    items = tab.locator(".tile-menu .menu-item")
    texts = [await items.nth(i).get_attribute("data-action") for i in range(await items.count())]
    assert texts == [
        "stream", "snapshot", "bookmark", "replay", "replay", "sequence", "alarm-tile", "close"
    ]  # fmt: skip
    await tab.keyboard.press("Escape")
    assert await tab.locator(".tile-menu").count() == 0
    # Bookmark: the instant on screen, named in the dialog, kept by the hub.
    asked = datetime.now(UTC)
    await menu(tab, 0, "bookmark")
    await tab.fill("dialog.bookmark-dialog input[name=name]", "Colis abandonné")
    await tab.fill("dialog.bookmark-dialog input[name=tags]", "colis")
    await tab.click("dialog.bookmark-dialog button[type=submit]")
    await tab.wait_for_selector("dialog.bookmark-dialog", state="detached")
    assert hub.bookmarks is not None
    [marked] = await hub.bookmarks.list(cameras=["mairie"])
    assert (marked.name, marked.tags, marked.author) == (
        "Colis abandonné",
        ("colis",),
        "user:j.martin",
    )
    assert abs((marked.start - asked).total_seconds()) < 10
    await menu(tab, 0, "stream", stream="main")
    await tile_plays(tab, 0, "mairie")
    assert await tile(tab, 0).get_attribute("data-profile") == "main"
    # Snapshot: a JPEG named after the camera, the local time and the user; audited.
    async with tab.expect_download() as download_info:
        await menu(tab, 0, "snapshot")
    download = await download_info.value
    name = download.suggested_filename
    assert re.fullmatch(r"mairie_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_j\.martin\.jpg", name), name
    stamp = datetime.strptime(name.split("_", 1)[1].rsplit("_", 1)[0], "%Y-%m-%d_%H-%M-%S")
    assert abs((datetime.now() - stamp).total_seconds()) < 30
    jpeg = Path(await download.path()).read_bytes()
    assert jpeg[:2] == b"\xff\xd8"
    assert len(jpeg) > 1000
    snapshots = [e for e in events if e.event_type == "live.snapshot"]
    assert [(e.data["camera_id"], e.context.user) for e in snapshots] == [("mairie", "j.martin")]
    # Both are in the audit log under the operator's name.
    assert hub.audit is not None
    await hub.audit.async_flush()
    for action, least in (("live.snapshot", 1), ("playback.started", 3)):
        entries = await hub.audit.log.entries(action=action, camera_id="mairie")
        assert len(entries) >= least, action
        assert {e.actor for e in entries} == {"user:j.martin"}, action
    # Close from the menu empties the tile.
    await menu(tab, 0, "close")
    await tab.wait_for_selector("ch-tile >> nth=0 >> text=Drag a camera here")
    assert log.errors == []


KEY_TABLES_JS = """async () => {
  const { keyTables } = await import('/static/js/keys.js');
  return keyTables();
}"""


async def test_the_help_lists_the_registered_keys_and_a_sequence_cycles_and_is_saved(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await log_in(tab, log, hub, "j.martin")
    await tab.click(".layout-button[data-layout='4']")
    await tab.wait_for_selector(".tree-camera")
    # ?: the overlay shows exactly what the modules registered next to their key handlers.
    await tab.keyboard.press("?")
    help_overlay = tab.locator("ch-help")
    await help_overlay.wait_for()
    tables = await tab.evaluate(KEY_TABLES_JS)
    groups = [t["group"] for t in tables]
    assert {"Panel", "Live", "PTZ (selected tile)"} <= set(groups)
    shown = help_overlay.locator(".help-group")
    assert [await shown.nth(i).get_attribute("data-group") for i in range(await shown.count())] == (
        groups
    )
    for table in tables:
        section = help_overlay.locator(f".help-group[data-group='{table['group']}']")
        assert [await k.inner_text() for k in await section.locator("kbd").all()] == [
            e["label"] for e in table["entries"]
        ]
    labels = {e["label"] for t in tables for e in t["entries"]}
    assert {"?", "R", "L", "F", "Esc", "Alt+←", "Alt+→", "1-9", "H", "+ -"} <= labels
    await tab.keyboard.press("Escape")
    await help_overlay.wait_for(state="detached")
    # A sequence on tile 1: three cameras, 2 s each.
    await menu(tab, 0, "sequence")
    form = tab.locator(".sequence-form")
    for camera in ("mairie", "parvis", "halles"):
        await form.locator(f"input[value='{camera}']").check()
    await form.locator("input[name=dwell]").fill("2")
    await form.locator("button[type=submit]").click()
    text = tile(tab, 0).locator(".sequence-text")
    await text.filter(has_text="sequence 1/3").wait_for()
    await tile_plays(tab, 0, "mairie")
    await text.filter(has_text="sequence 2/3").wait_for(timeout=10_000)
    await tile_plays(tab, 0, "parvis")
    await text.filter(has_text="sequence 3/3").wait_for(timeout=10_000)
    # P pauses it: the camera stays beyond the dwell time.
    await tile(tab, 0).click()
    await tab.keyboard.press("p")
    await text.filter(has_text="(paused)").wait_for()
    paused_on = await tile(tab, 0).get_attribute("data-camera")
    await asyncio.sleep(3)
    assert await tile(tab, 0).get_attribute("data-camera") == paused_on
    await tile(tab, 0).locator(".sequence-pause").click()
    await text.filter(has_text=re.compile(r"sequence \d/3$")).wait_for()
    # Saved with the layout, and back from it after a reload.
    await tab.fill("input[name=layout-name]", "Ronde")
    await tab.click(".save-layout button[type=submit]")
    await tab.wait_for_selector(".saved-layout[data-name='Ronde']")
    assert hub.db is not None
    row = await hub.db.fetchone("SELECT data FROM layouts WHERE name = 'Ronde'")
    assert row is not None
    assert '"sequence":{"cameras":["mairie","parvis","halles"],"dwell":2}' in row["data"]
    await menu(tab, 0, "sequence-stop")
    assert await tile(tab, 0).locator(".sequence-badge").count() == 0
    await tab.reload()
    await tab.click(".saved-layout[data-name='Ronde'] >> text=Ronde")
    await text.filter(has_text=re.compile(r"sequence \d/3")).wait_for()
    await tile_plays(tab, 0, await tile(tab, 0).get_attribute("data-camera"))
    assert log.errors == []


async def test_an_alarm_takes_the_alarm_tile_by_priority_unless_the_tile_is_locked(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    automation = Context(automation="motion-to-wall")

    async def alarm(camera: str, priority: int, reason: str) -> int:
        raised = await hub.services.async_call(
            "wall", "alarm", {"camera_id": camera, "priority": priority, "reason": reason},
            automation,
        )  # fmt: skip
        alarm_id: int = raised["id"]
        await tab.wait_for_function(
            "(id) => document.querySelector('ch-wall').alarms.some((a) => a.id === id)",
            arg=alarm_id,
        )
        return alarm_id

    await log_in(tab, log, hub, "j.martin")
    await tab.click(".layout-button[data-layout='4']")
    await tab.dblclick(".tree-camera[data-camera='mairie']")
    await tile_plays(tab, 0, "mairie")
    await menu(tab, 1, "alarm-tile")
    await tab.wait_for_selector("ch-tile[data-alarm-tile=true] >> text=alarm tile")
    # An automation's alarm: its camera plays on the alarm tile with its reason.
    await alarm("parvis", 3, "intrusion parvis")
    await tile_plays(tab, 1, "parvis")
    assert "intrusion parvis" in await tile(tab, 1).locator(".alarm-badge").inner_text()
    assert await tile(tab, 0).get_attribute("data-camera") == "mairie"  # other tiles stay
    # A higher priority wins.
    await alarm("halles", 8, "porte forcée")
    await tile_plays(tab, 1, "halles")
    assert "P8: porte forcée" in await tile(tab, 1).locator(".alarm-badge").inner_text()
    # The operator locks the tile: a still higher alarm does not take it mid-incident.
    await tile(tab, 1).locator(".tile-lock").click()
    await tab.wait_for_selector("ch-tile[data-locked=true]")
    top = await alarm("quai-1", 9, "rixe")
    await asyncio.sleep(1)
    assert await tile(tab, 1).get_attribute("data-camera") == "halles"
    assert "alarm waiting" not in await tile(tab, 1).inner_text()
    # Dismissing the shown alarm keeps the locked tile's camera; unlocking lets the top one in.
    await tile(tab, 1).locator(".alarm-dismiss").click()
    await tab.wait_for_function("() => document.querySelector('ch-wall').alarms.length === 2")
    assert await tile(tab, 1).locator(".alarm-badge").count() == 0
    assert await tile(tab, 1).get_attribute("data-camera") == "halles"
    await tile(tab, 1).locator(".tile-lock").click()
    await tile_plays(tab, 1, "quai-1")
    assert "rixe" in await tile(tab, 1).locator(".alarm-badge").inner_text()
    await hub.services.async_call("wall", "dismiss", {"alarm_id": top}, automation)
    await tile_plays(tab, 1, "parvis")
    await tile(tab, 1).locator(".alarm-dismiss").click()
    # No alarm left: the tile goes back to what it showed before the last alarms took it (the
    # camera it kept while locked).
    await tile_plays(tab, 1, "halles")
    assert await tile(tab, 1).locator(".alarm-badge").count() == 0
    assert await tile(tab, 0).get_attribute("data-camera") == "mairie"
    assert log.errors == []


async def test_a_camera_sent_from_one_window_plays_on_the_monitor_window(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await log_in(tab, log, hub, "j.martin")
    await tab.click(".layout-button[data-layout='4']")
    await tab.dblclick(".tree-camera[data-camera='halles']")
    await tile_plays(tab, 0, "halles")
    # "Open wall monitor" opens a second window of the same browser (same session), watched
    # for CSP violations like the first.
    await tab.context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    await tab.fill("input[name=monitor-name]", "mur-1")
    async with tab.context.expect_page() as opened:
        await tab.click(".open-monitor button[type=submit]")
    monitor = await opened.value
    monitor.set_default_timeout(15_000)
    monitor.on("console", lambda message: log.on_console(message))
    monitor.on("pageerror", lambda error: log.errors.append(f"uncaught (monitor): {error}"))
    await monitor.wait_for_selector("ch-wall.monitor[data-monitor='mur-1']")
    assert await monitor.locator(".side").is_hidden()  # the grid alone, no camera tree
    assert await monitor.locator(".topbar").is_hidden()
    await tab.wait_for_selector(".monitor-entry[data-monitor='mur-1'][data-open=true]")
    # From the console's tile menu to the monitor, which plays it.
    await menu(tab, 0, "send", monitor="mur-1")
    await tab.wait_for_selector(".wall-message >> text=Sent to mur-1.")
    await tile_plays(monitor, 0, "halles")
    # A whole saved layout of the user's, pushed to the monitor.
    await tab.dblclick(".tree-camera[data-camera='parvis']")
    await tile_plays(tab, 1, "parvis")
    await tab.fill("input[name=layout-name]", "Marché")
    await tab.click(".save-layout button[type=submit]")
    await tab.wait_for_selector(".saved-layout[data-name='Marché']")
    await tab.click(".saved-layout[data-name='Marché'] .saved-send[data-monitor='mur-1']")
    await tab.wait_for_selector(".wall-message >> text=Marché shown on mur-1.")
    await tile_plays(monitor, 1, "parvis")
    assert await monitor.get_attribute("ch-tile >> nth=0", "data-camera") == "halles"
    await monitor.close()
    await tab.wait_for_selector(".monitor-entry[data-monitor='mur-1']", state="detached")
    assert log.errors == []
