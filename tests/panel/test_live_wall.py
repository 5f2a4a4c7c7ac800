"""The panel in real Chromium against a real hub: login, the live wall, offline and back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import CameraState, Context
from cityhub.auth.roles import Role
from cityhub.auth.totp import totp
from cityhub.auth.users import LOCKOUT_AFTER
from cityhub.hub import Hub
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory, wait_for_state

CAMERAS = (
    ("mairie", "Mairie", "centre", "place"),
    ("parvis", "Parvis", "centre", "place"),
    ("halles", "Halles", "centre", None),
    ("quai-1", "Quai 1", "gare", "gare"),
)


def config() -> dict[str, Any]:
    options = {"mode": "loop", "width": 320, "height": 180, "fps": 25, "sub_stream": False}
    cameras: list[dict[str, Any]] = []
    for cid, name, zone, emplacement in CAMERAS:
        camera: dict[str, Any] = {"id": cid, "name": name, "driver": "virtual", "zone": zone,
                                  "recording": False, "options": options}  # fmt: skip
        if emplacement:
            camera["emplacement"] = emplacement
        cameras.append(camera)
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "emplacements": [
            {"id": "place", "name": "Place de la mairie", "zone": "centre"},
            {"id": "gare", "name": "Parvis de la gare", "zone": "gare"},
        ],
        "cameras": cameras,
    }


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    hub = await cityhub_hub(cityhub_config(config()))
    await add_account(hub, "j.martin", Role.OPERATOR)
    for camera, *_ in CAMERAS:
        await wait_for_state(hub, camera, CameraState.ONLINE, timeout=30)
    return hub


async def log_in(page: Any, log: Any, hub: Hub, user: str, password: str) -> None:
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")  # the panel asks who is logged in: nobody yet
    await page.goto(hub.http_url + "/")
    await page.fill("input[name=user]", user)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


PLAYING_JS = """([selector, seconds]) => new Promise((resolve) => {
  const videos = [...document.querySelectorAll(selector)];
  const start = videos.map((v) => v.currentTime);
  setTimeout(() => resolve(videos.map((v, i) => v.currentTime - start[i])), seconds * 1000);
})"""


async def advance(page: Any, selector: str, seconds: float = 0.5) -> list[float]:
    """How far each matching <video> played in ``seconds``."""
    result: list[float] = await page.evaluate(PLAYING_JS, [selector, seconds])
    return result


async def wait_playing(page: Any, count: int, timeout: float) -> float:
    """Wait until ``count`` tiles play (their videos advance); the page's clock then, in s.

    The page's clock (``performance.now()``) starts when its navigation started.
    """
    handle = await page.wait_for_function(
        """(count) => {
          const videos = [...document.querySelectorAll('ch-tile:not([hidden]) video')]
            .filter((v) => v.closest('ch-tile').dataset.status === 'playing');
          const ok = videos.length >= count && videos.every((v) => v.currentTime > 0.1);
          return ok ? performance.now() : false;
        }""",
        arg=count,
        timeout=timeout * 1000,
        polling=20,
    )
    return float(await handle.json_value()) / 1000


# Headless Chromium is never hidden: the page is told so, as a minimised window would be.
SET_VISIBILITY_JS = """(state) => {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}"""


async def wait_viewers(hub: Hub, count: int, timeout: float = 10) -> None:
    """Wait until the hub's live channels have ``count`` viewers in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        viewers = sum(c.viewers for r in hub.cameras.values() for c in r.live.values())
        if viewers == count:
            return
        assert loop.time() < deadline, f"{viewers} viewers, expected {count}"
        await asyncio.sleep(0.05)


@pytest.mark.realtime
async def test_log_in_open_four_tiles_all_play_and_the_wall_survives_a_reload(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await log_in(tab, log, hub, "j.martin", "not-the-password")
    log.allow_refusal("/api/auth/login")  # the refused attempt, on purpose
    await tab.wait_for_selector("text=Wrong account name, password or code.")
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".topbar .user-name:text('j.martin')")
    assert await tab.text_content(".user-role") == "operator"
    # Later modes are labelled as such, not dead buttons.
    assert await tab.locator(".modes button").count() == 4  # live, playback, logbook, health
    assert await tab.locator(".mode.later").count() == 1  # alarms; no admin at all
    assert await tab.locator(".mode[data-mode=admin]").count() == 0
    # The tree: zone -> emplacement -> camera.
    tree = await tab.inner_text(".tree")
    for text in ("Centre-ville", "Place de la mairie", "Mairie", "Gare", "Quai 1"):
        assert text in tree
    await tab.click(".layout-button[data-layout='4']")
    assert await tab.locator("ch-tile:not([hidden])").count() == 4
    # Double-click fills the selected tile, then the first free ones; drag fills tile 4.
    for cid in ("mairie", "parvis", "halles"):
        await tab.dblclick(f".tree-camera[data-camera='{cid}']")
    await tab.drag_and_drop(".tree-camera[data-camera='quai-1']", "ch-tile >> nth=3")
    await wait_playing(tab, 4, timeout=10)
    tiles = tab.locator("ch-tile:not([hidden])")
    assert [await tiles.nth(i).get_attribute("data-camera") for i in range(4)] == [
        "mairie", "parvis", "halles", "quai-1"
    ]  # fmt: skip
    assert min(await advance(tab, "ch-tile:not([hidden]) video")) > 0.2
    assert await tab.locator(".tree-camera.on-screen").count() == 4
    assert "Mairie" in await tiles.nth(0).inner_text()
    assert "Centre-ville" in await tiles.nth(0).inner_text()
    # Near the live edge: the playback-rate controller keeps the lag small.
    lag = await tab.evaluate(
        "[...document.querySelectorAll('ch-tile:not([hidden]) video')]"
        ".map((v) => v.buffered.end(v.buffered.length - 1) - v.currentTime)"
    )
    assert max(lag) < 1.0, lag
    # Maximise tile 2 (double-click), Esc back to the grid.
    await tiles.nth(1).dblclick()
    assert await tab.locator("ch-tile:not([hidden])").count() == 1
    await tab.keyboard.press("Escape")
    assert await tab.locator("ch-tile:not([hidden])").count() == 4
    # The search box filters the tree.
    await tab.fill(".tree-search", "quai")
    assert await tab.locator(".tree-camera").count() == 1
    await tab.fill(".tree-search", "")
    # A reload keeps the layout and what each tile shows, and plays again.
    await tab.reload()
    # From the reload (navigation start) to four tiles playing: page, session, cameras,
    # WebSocket, four MediaSources, the cached GOPs and the seek to the live edge.
    took = await wait_playing(tab, 4, timeout=10)
    print(f"four tiles playing {took:.2f} s after the reload")
    assert took < 2.0, f"four tiles took {took:.2f} s to play after a reload"
    assert await tab.get_attribute(".layout-button.active", "data-layout") == "4"
    tiles = tab.locator("ch-tile:not([hidden])")
    assert [await tiles.nth(i).get_attribute("data-camera") for i in range(4)] == [
        "mairie", "parvis", "halles", "quai-1"
    ]  # fmt: skip
    # A hidden page stops receiving video, and resumes when shown again.
    await tab.evaluate(SET_VISIBILITY_JS, "hidden")
    await wait_viewers(hub, 0)
    await tab.evaluate(SET_VISIBILITY_JS, "visible")
    await wait_playing(tab, 4, timeout=10)
    await wait_viewers(hub, 4)
    await tab.click("button.logout")
    await tab.wait_for_selector("text=You are logged out.")
    assert log.errors == []


async def test_one_time_password_must_be_changed_first(hub: Hub, page: tuple[Any, Any]) -> None:
    tab, log = page
    assert hub.users is not None
    await add_account(hub, "nouveau", Role.OPERATOR)
    one_time = await hub.users.set_password("nouveau", Context())
    assert one_time is not None
    await log_in(tab, log, hub, "nouveau", one_time)
    await tab.wait_for_selector("text=Choose your password")
    assert await tab.locator("ch-wall").count() == 0
    await tab.fill("input[name=current]", one_time)
    log.allow_refusal("/api/auth/password", 400)  # the weak password, on purpose
    await tab.fill("input[name=new]", "short")
    await tab.fill("input[name=again]", "short")
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".form-message[data-error=weak_password]")
    new_password = "Une-phrase-de-passe-2026"
    await tab.fill("input[name=new]", new_password)
    await tab.fill("input[name=again]", new_password)
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".topbar .user-name:text('nouveau')")
    assert not (await hub.users.get("nouveau")).must_change_password
    assert log.errors == []


async def test_an_offline_camera_shows_its_placeholder_and_comes_back_by_itself(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await log_in(tab, log, hub, "j.martin", TEST_PASSWORD)
    await tab.click(".layout-button[data-layout='1']")
    await tab.dblclick(".tree-camera[data-camera='quai-1']")
    await wait_playing(tab, 1, timeout=10)
    runtime = hub.cameras["quai-1"]
    await runtime.async_stop(10)
    tile = tab.locator("ch-tile >> nth=0")
    placeholder = tile.locator(".tile-placeholder")
    await placeholder.filter(has_text=re.compile(r"Offline since \d\d:\d\d")).wait_for(
        timeout=15_000
    )
    assert await tile.get_attribute("data-status") != "playing"
    # The last picture stays, dimmed, behind the message (a copy: the stream is gone).
    assert await placeholder.locator("canvas.tile-still").count() == 1
    runtime.async_start()
    await wait_for_state(hub, "quai-1", CameraState.ONLINE, timeout=30)
    await wait_playing(tab, 1, timeout=20)
    assert await placeholder.is_hidden()
    assert min(await advance(tab, "ch-tile:not([hidden]) video")) > 0.2
    # The WebSocket drops (as on a network cut): the page reconnects and the tile plays again.
    await tab.evaluate("document.querySelector('ch-wall').socket.ws.close()")
    await tab.wait_for_selector("ch-tile[data-status=reconnecting]")
    await wait_playing(tab, 1, timeout=20)
    # The session ends on the server: the next call gets a 401 and the login form returns.
    assert hub.sessions is not None
    log.allow_refusal("/api/cameras")
    log.allow_refusal("/api/auth/me")
    log.allow_refusal("/api/logbook/waiting")  # the alarm badge's
    await hub.sessions.end_all("j.martin", "test")
    await tab.wait_for_selector("text=Your session has ended; log in again.", timeout=15_000)
    assert [e for e in log.errors if "WebSocket" not in e] == []


async def test_a_user_scoped_to_one_zone_sees_only_its_cameras(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await add_account(hub, "agent.gare", Role.OPERATOR, zones=["gare"])
    await log_in(tab, log, hub, "agent.gare", TEST_PASSWORD)
    await tab.wait_for_selector(".tree-camera")
    cameras = tab.locator(".tree-camera")
    assert [
        await cameras.nth(i).get_attribute("data-camera") for i in range(await cameras.count())
    ] == ["quai-1"]
    assert "Centre-ville" not in await tab.inner_text(".tree")
    # A wall saved on the hub under a name comes back from the list (an operator's own:
    # sharing is for supervisors and admins).
    assert await tab.locator("input[name=layout-shared]").count() == 0
    await tab.click(".layout-button[data-layout='4']")
    await tab.dblclick(".tree-camera[data-camera='quai-1']")
    await tab.fill("input[name=layout-name]", "Nuit gare")
    await tab.click(".save-layout button[type=submit]")
    await tab.wait_for_selector(".saved-layout[data-name='Nuit gare']")
    await tab.click(".layout-button[data-layout='1']")
    await tab.click("ch-tile >> nth=0 >> .tile-close")
    await tab.reload()
    await tab.click(".saved-layout[data-name='Nuit gare'] >> text=Nuit gare")
    assert await tab.get_attribute(".layout-button.active", "data-layout") == "4"
    assert await tab.get_attribute("ch-tile >> nth=0", "data-camera") == "quai-1"
    await tab.click(".saved-layout[data-name='Nuit gare'] .saved-delete")
    await tab.wait_for_selector(".saved-layouts >> text=None yet")
    # Without a habilitation in force: told so, and the page does not even try for video.
    sockets: list[str] = []
    tab.on("websocket", lambda ws: sockets.append(ws.url))
    await tab.click("button.logout")
    await add_account(hub, "sans.habilitation", Role.OPERATOR, habilitated=False)
    await tab.fill("input[name=user]", "sans.habilitation")
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".topbar .warning:text('No habilitation in force')")
    await tab.dblclick(".tree-camera[data-camera='mairie']")
    await tab.wait_for_selector("ch-tile >> text=Live video needs a habilitation in force")
    await asyncio.sleep(0.5)
    assert sockets == []
    assert await tab.locator(".saved-layouts").count() == 0
    assert log.errors == []


CHOOSE_JS = """async () => {
  const { chooseProfile } = await import('/static/js/tile.js');
  const stream = (name, width, height, live) => ({ name, width, height, live });
  const both = { streams: [stream('main', 1920, 1080, true), stream('sub', 640, 360, true)] };
  const mainOnly = { streams: [stream('main', 1920, 1080, true), stream('sub', 640, 360, false)] };
  const none = { streams: [stream('main', 1920, 1080, false)] };
  return [chooseProfile(both, true), chooseProfile(both, false), chooseProfile(mainOnly, true),
          chooseProfile(none, true)];
}"""


async def test_small_tiles_take_the_sub_stream_when_the_hub_streams_one(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    # The hub streams only a camera's first profile for now, so the choice is checked on
    # camera descriptions shaped like /api/cameras answers, in the page's own module.
    await log_in(tab, log, hub, "j.martin", TEST_PASSWORD)
    await tab.wait_for_selector(".tree-camera")
    assert await tab.evaluate(CHOOSE_JS) == ["sub", "main", "main", None]
    # A 9-tile layout asks the hub for the smallest live stream: here the only one.
    await tab.click(".layout-button[data-layout='9']")
    await tab.dblclick(".tree-camera[data-camera='mairie']")
    await wait_playing(tab, 1, timeout=10)
    assert await tab.get_attribute("ch-tile >> nth=0", "data-profile") == "main"
    # Memory stays flat: after 10 s of play, what lies more than 4 s behind the playhead has
    # been removed from the buffer once 8 s had piled up.
    await tab.wait_for_function(
        """() => {
          const v = document.querySelector('ch-tile video');
          window.firstTime ??= v.currentTime;
          return v.currentTime - window.firstTime > 10;
        }""",
        timeout=30_000,
        polling=200,
    )
    behind = await tab.evaluate(
        "(() => { const v = document.querySelector('ch-tile video');"
        " return [v.currentTime - v.buffered.start(0), v.buffered.length]; })()"
    )
    assert behind[0] < 8.5, behind
    assert log.errors == []


async def test_second_factor_is_asked_and_a_locked_account_is_told_until_when(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    assert hub.users is not None
    secret = await hub.users.enable_second_factor("j.martin", Context())
    log.allow_refusal("/api/auth/login")  # the code asked for, the wrong passwords below
    await log_in(tab, log, hub, "j.martin", TEST_PASSWORD)
    await tab.wait_for_selector("text=Enter the code from your authenticator app.")
    await tab.fill("input[name=code]", totp(secret))
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".topbar .user-name:text('j.martin')")
    await tab.click("button.logout")
    await tab.wait_for_selector("text=You are logged out.")
    await add_account(hub, "distrait", Role.OPERATOR)
    await tab.fill("input[name=user]", "distrait")
    for _ in range(LOCKOUT_AFTER):
        await tab.fill("input[name=password]", "not-the-password")
        await tab.click("button[type=submit]")
        await tab.wait_for_selector(".form-message[data-error]")
        await tab.wait_for_selector("button[type=submit]:not([disabled])")
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    message = tab.locator(".form-message[data-error=locked]")
    await message.wait_for()
    assert re.search(r"locked until \d{4}-\d\d-\d\d \d\d:\d\d UTC", await message.inner_text())
    assert log.errors == []
