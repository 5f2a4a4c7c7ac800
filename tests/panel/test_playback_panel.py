"""The playback mode in real Chromium against a hub that really records virtual cameras.

The cameras run in live mode: each frame carries its capture time (UTC ms) burnt in as a band
of black and white cells (``cityhub_virtual.clock``), which the page reads back from the
<video> with ``/static/js/clock.js``. So the tests check the frame on screen against the
instant the panel displays, not only the panel against itself.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import pytest

from cityhub.api import CameraState, Context
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing.api import TEST_PASSWORD, ApiClient, add_account
from cityhub.testing.hub import HubFactory, wait_for_state
from cityhub_virtual.clock import decode_clock

LIVE = {"mode": "live", "width": 320, "height": 180, "fps": 25, "gop": 25, "sub_stream": False}
FRAME_MS = 40
CAPTURE_SLACK_MS = 250
"""Between the clock burnt into a frame and the instant the hub files it under: the camera's
encoding and the recorder's time stamping of a run (anchored on its first keyframe)."""

READ_CLOCK_JS = """async (selector) => {
  const { bandRect, readClock, unwrapClock } = await import('/static/js/clock.js');
  const video = document.querySelector(selector);
  const w = video.videoWidth, h = video.videoHeight;
  if (!w || !h) return null;
  const [x, y, bw, bh] = bandRect(w, h);
  const canvas = document.createElement('canvas');
  canvas.width = bw;
  canvas.height = bh;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(video, x, y, bw, bh, 0, 0, bw, bh);
  const value = readClock(context.getImageData(0, 0, bw, bh), w, h);
  return value === null ? null : unwrapClock(value, Date.now());
}"""

SHOWN_MS_JS = "() => Number(document.querySelector('.pb-clock').dataset.ms)"


def iso(ms: float) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


async def wait_segments(closed: list[dict[str, Any]], count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(closed) < count:
        assert time.monotonic() < deadline, f"not {count} segments recorded in {timeout} s"
        await asyncio.sleep(0.1)


async def log_in(tab: Any, log: Any, hub: Hub, user: str) -> None:
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    await tab.fill("input[name=user]", user)
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.wait_for_selector("header.topbar")


async def lane_box(tab: Any) -> dict[str, float]:
    """Where the first camera's bar is on the page (the bars are drawn again as data comes)."""
    box = await tab.locator("ch-timeline .tl-lanes").bounding_box()
    assert box is not None
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": 22}


def watch_refusals(tab: Any) -> list[str]:
    """The hub's answers of 4xx to the page, with their message (for a failure's message)."""
    refusals: list[str] = []

    async def note(response: Any) -> None:
        if 400 <= response.status < 500:
            clock = await tab.evaluate(
                "() => { const c = document.querySelector('.pb-clock'); return c && c.dataset.ms; }"
            )
            refusals.append(f"{response.url}: {await response.text()} (clock at {clock})")

    tab.on("response", note)
    return refusals


async def open_playback(tab: Any, hub: Hub, cameras: str, instant_ms: float) -> None:
    """Follow a playback link as a bookmark or the logbook would."""
    await tab.evaluate(
        "(hash) => { location.hash = hash; }", f"#playback?cameras={cameras}&t={iso(instant_ms)}"
    )
    await tab.wait_for_selector("button.mode[data-mode=playback][aria-current=page]")


async def shown_ms(tab: Any) -> float:
    return float(await tab.evaluate(SHOWN_MS_JS))


async def frame_ms(tab: Any, selector: str) -> float:
    value = await tab.evaluate(READ_CLOCK_JS, selector)
    assert value is not None, "the clock burnt into the frame could not be read"
    return float(value)


STATE_JS = """() => [...document.querySelectorAll('.pb-tile')].map((t) => {
  const v = t.querySelector('video');
  const b = [];
  for (let i = 0; i < v.buffered.length; i++) b.push([v.buffered.start(i), v.buffered.end(i)]);
  return { camera: t.dataset.camera, state: t.dataset.state, message: t.innerText,
    clock: document.querySelector('.pb-clock').dataset.ms, readyState: v.readyState,
    currentTime: v.currentTime, paused: v.paused, seeking: v.seeking, buffered: b,
    error: v.error && v.error.message,
    line: document.querySelector('.pb-message-line').textContent };
})"""


async def describe(tab: Any) -> str:
    """What the playback view is doing, for a failure's message."""
    return repr(await tab.evaluate(STATE_JS))


async def settle(tab: Any, near_ms: float, within_ms: float = FRAME_MS) -> float:
    """Wait until the paused view shows a frame within ``within_ms`` of ``near_ms``."""
    try:
        await wait_settled(tab, near_ms, within_ms)
    except Exception as err:
        raise AssertionError(f"not settled near {near_ms}: {await describe(tab)}") from err
    return await shown_ms(tab)


async def wait_settled(tab: Any, near_ms: float, within_ms: float) -> None:
    await tab.wait_for_function(
        f"() => {{ const c = document.querySelector('.pb-clock');"
        f" return c && Math.abs(Number(c.dataset.ms) - {near_ms}) <= {within_ms}"
        f" && document.querySelector('.pb-tile[data-state=playing] video')"
        f" && document.querySelector('.pb-tile video').readyState >= 2"
        f" && !document.querySelector('.pb-tile video').seeking; }}"
    )


async def still(tab: Any) -> float:
    """Wait until playback is paused and the clock stays put; the instant it shows."""
    await tab.wait_for_function(
        "() => [...document.querySelectorAll('.pb-tile video')]"
        ".every((v) => v.paused && !v.seeking)"
    )
    shown = await shown_ms(tab)
    for _ in range(50):
        await asyncio.sleep(0.2)
        now = await shown_ms(tab)
        if now == shown:
            return shown
        shown = now
    raise AssertionError(f"the clock does not settle: {await describe(tab)}")


async def recorded_frames(
    hub: Hub, camera: str, start_ms: float, end_ms: float
) -> dict[int, float]:
    """The hub's own truth, decoded here: burnt-in capture time -> instant the hub filed it at.

    The playback stream is fetched as the panel does; each frame's instant is the stream's
    X-First-Frame-Ms plus the frame's media time.
    """
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        url = f"{hub.http_url}/api/cameras/{camera}/recording?from={iso(start_ms)}&to={iso(end_ms)}"
        async with api.session.get(url) as response:
            assert response.status == 200
            origin = float(response.headers["X-First-Frame-Ms"])
            data = await response.read()

    def decode() -> dict[int, float]:
        frames: dict[int, float] = {}
        with av.open(io.BytesIO(data), "r", format="mp4") as container:
            for frame in container.decode(video=0):
                assert frame.time is not None
                burnt = decode_clock(frame.to_image(), int(start_ms))
                if burnt is not None:
                    frames[burnt] = origin + frame.time * 1000
        return frames

    return await asyncio.to_thread(decode)


async def assert_frame_is_the_instant_shown(
    tab: Any, truth: dict[int, float], selector: str = ".pb-tile video"
) -> None:
    """The frame on screen is the one the hub filed at the instant the clock displays.

    The capture time burnt into the frame names the frame; the hub's own remux (``truth``)
    says which instant it is filed at. The burnt time itself is also within a few frames of
    it (what separates them is the camera's encoding and the recorder's time stamping).
    """
    for _ in range(20):  # the frame after a seek may take a moment to be presented
        shown = await shown_ms(tab)
        burnt = int(await frame_ms(tab, selector))
        if burnt in truth and abs(truth[burnt] - shown) <= 1:
            break
        await asyncio.sleep(0.1)
    assert burnt in truth, f"the frame shown ({burnt}) is not in the recording"
    assert truth[burnt] == pytest.approx(shown, abs=1), (burnt, truth[burnt], shown)
    assert abs(burnt - shown) <= CAPTURE_SLACK_MS, (burnt, shown, burnt - shown)


@pytest.fixture
async def gap_hub(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> tuple[Hub, list[dict[str, Any]]]:
    """A hub that recorded 'mairie', lost it for a few seconds, then recorded it again."""
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre-ville"}],
        "cameras": [{"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
                     "options": LIVE}],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    await add_account(hub, "j.martin", Role.OPERATOR)
    await wait_for_state(hub, "mairie", CameraState.ONLINE, timeout=30)
    await wait_segments(closed, 3)
    await hub.cameras["mairie"].async_stop(10)
    await asyncio.sleep(3)
    before = len(closed)
    hub.cameras["mairie"].async_start()
    await wait_for_state(hub, "mairie", CameraState.ONLINE, timeout=30)
    await wait_segments(closed, before + 2)
    return hub, closed


async def test_one_camera_plays_at_the_instant_shown_with_its_gap_speed_and_frame_step(
    gap_hub: tuple[Hub, list[dict[str, Any]]], page: tuple[Any, Any]
) -> None:
    hub, closed = gap_hub
    tab, log = page
    first_ms = closed[0]["start_ms"]
    refusals = watch_refusals(tab)
    await log_in(tab, log, hub, "j.martin")
    start = first_ms + 1020
    truth = await recorded_frames(hub, "mairie", first_ms, closed[-1]["end_ms"])
    await open_playback(tab, hub, "mairie", start)

    # (a) Opened at a known instant: paused on the frame at or just before it.
    shown = await settle(tab, start)
    assert start - FRAME_MS < shown <= start
    await assert_frame_is_the_instant_shown(tab, truth)
    clock = tab.locator(".pb-clock")
    assert (await clock.get_attribute("title") or "").startswith("UTC 20")
    assert "UTC+0" in (await clock.inner_text())  # Europe/Paris, with its offset

    # Play: the video advances and the clock follows the frames; pause: they agree.
    video = tab.locator(".pb-tile video")
    before = float(await video.evaluate("(v) => v.currentTime"))
    await tab.keyboard.press("Space")
    await tab.wait_for_function(
        f"() => document.querySelector('.pb-tile video').currentTime > {before + 1.0}"
    )
    await tab.keyboard.press("Space")
    await tab.wait_for_function("() => document.querySelector('.pb-tile video').paused")
    await asyncio.sleep(0.2)
    assert await shown_ms(tab) > start + 900
    await assert_frame_is_the_instant_shown(tab, truth)

    # (c) Frame step while paused: exactly one frame each way.
    here = await shown_ms(tab)
    await tab.keyboard.press(".")
    after = await settle(tab, here + FRAME_MS, 1)
    assert after == pytest.approx(here + FRAME_MS, abs=1)
    await assert_frame_is_the_instant_shown(tab, truth)
    await tab.keyboard.press(",")
    assert await settle(tab, here, 1) == pytest.approx(here, abs=1)

    # (b) The gap where the camera was stopped is on the timeline; a click after it seeks there.
    for _ in range(14):  # zoom in around the cursor: a day down to a few minutes
        await tab.keyboard.press("+")
    gaps = tab.locator(".tl-lane[data-camera=mairie] .tl-gap")
    await gaps.first.wait_for()
    spans = [
        (
            float(await g.get_attribute("data-start") or 0),
            float(await g.get_attribute("data-end") or 0),
        )
        for g in await gaps.all()
    ]
    # Before the hub started there was nothing either: the gap is the one after the first footage.
    later = [g for g in spans if g[0] > first_ms]
    assert later, (
        spans,
        first_ms,
        await describe(tab),
        await tab.evaluate("() => document.querySelector('ch-timeline').view"),
    )
    gap_start, gap_end = later[0]
    stopped = next(c for c, n in itertools.pairwise(closed) if n["start_ms"] - c["end_ms"] > 1500)
    assert gap_start == pytest.approx(stopped["end_ms"], abs=50)
    assert 2500 < gap_end - gap_start < 15000
    target = gap_end + 1500
    x = await tab.evaluate("(ms) => document.querySelector('ch-timeline').clientXOf(ms)", target)
    box = await lane_box(tab)
    await tab.mouse.click(x, box["y"] + box["height"] / 2)
    precision = await tab.evaluate(
        "() => { const t = document.querySelector('ch-timeline');"
        " return (t.view.end - t.view.start) / t.area.getBoundingClientRect().width; }"
    )
    shown = await settle(tab, target, precision + FRAME_MS)
    await assert_frame_is_the_instant_shown(tab, truth)
    # Inside the gap: "No recording".
    x = await tab.evaluate(
        "(ms) => document.querySelector('ch-timeline').clientXOf(ms)", (gap_start + gap_end) / 2
    )
    await tab.mouse.click(x, box["y"] + box["height"] / 2)
    await tab.wait_for_selector(".pb-tile[data-state=gap] .pb-message:text('No recording')")

    # (c) 4x: the clock and the frames advance four times as fast as the wall clock.
    await tab.mouse.click(
        await tab.evaluate(
            "(ms) => document.querySelector('ch-timeline').clientXOf(ms)", first_ms + 500
        ),
        box["y"] + box["height"] / 2,
    )
    await settle(tab, first_ms + 500, precision + FRAME_MS)
    await tab.select_option("select[name=speed]", "4")
    begin = await shown_ms(tab)
    began = time.monotonic()
    await tab.keyboard.press("Space")
    await asyncio.sleep(1.5)
    advanced = await shown_ms(tab) - begin
    elapsed = time.monotonic() - began
    await tab.keyboard.press("Space")
    rate = advanced / 1000 / elapsed
    assert 3.0 < rate < 4.5, (advanced, elapsed)
    assert log.errors == [], (refusals, closed)


@pytest.fixture
async def two_cameras(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> tuple[Hub, dict[str, list[dict[str, Any]]]]:
    """A hub that has recorded two cameras for a few seconds; an operator and a viewer."""
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "options": LIVE},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "options": LIVE},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    closed: dict[str, list[dict[str, Any]]] = {"mairie": [], "quai-1": []}
    hub.bus.subscribe(
        EVENT_SEGMENT_CLOSED, lambda e: closed[e.data["camera_id"]].append(dict(e.data))
    )
    await add_account(hub, "j.martin", Role.OPERATOR)
    await add_account(hub, "v.durand", Role.VIEWER)
    for camera in closed:
        await wait_for_state(hub, camera, CameraState.ONLINE, timeout=30)
    for segments in closed.values():
        await wait_segments(segments, 3)
    return hub, closed


TILES_JS = """async () => {
  const { bandRect, readClock, unwrapClock } = await import('/static/js/clock.js');
  return [...document.querySelectorAll('.pb-tile')].map((tile) => {
    const video = tile.querySelector('video');
    const w = video.videoWidth, h = video.videoHeight;
    const [x, y, bw, bh] = bandRect(w, h);
    const canvas = document.createElement('canvas');
    canvas.width = bw;
    canvas.height = bh;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, x, y, bw, bh, 0, 0, bw, bh);
    const value = readClock(context.getImageData(0, 0, bw, bh), w, h);
    const shown = Number(tile.querySelector('.pb-tile-clock').dataset.ms);
    return { camera: tile.dataset.camera, shown,
      burnt: value === null ? null : unwrapClock(value, Date.now()) };
  });
}"""


async def test_an_event_s_footage_link_opens_two_cameras_that_play_in_sync_and_a_viewer_is_refused(
    two_cameras: tuple[Hub, dict[str, list[dict[str, Any]]]],
    page: tuple[Any, Any],
    second_page: tuple[Any, Any],
) -> None:
    hub, closed = two_cameras
    tab, log = page
    hub.bus.async_fire("camera.motion", {"camera_id": "mairie", "active": True}, Context())
    await asyncio.sleep(0)
    assert hub.logbook is not None
    deadline = time.monotonic() + 10
    while not (entries := await hub.logbook.entries(event_types=["camera.motion"])):
        assert time.monotonic() < deadline, "the motion event did not reach the logbook"
        await asyncio.sleep(0.1)
    event_ms = entries[0].time.timestamp() * 1000

    first_mairie = closed["mairie"][0]
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        hold = {
            "cameras": ["mairie"],
            "start": iso(first_mairie["start_ms"]),
            "end": iso(first_mairie["end_ms"]),
            "reference": "MC 2026-311",
            "reason": "rixe",
        }
        await api.post_json("/api/holds", hold)

    refusals = watch_refusals(tab)
    # (e) The logbook's "Footage" link opens playback of the camera 10 s before the event.
    await log_in(tab, log, hub, "j.martin")
    await tab.click("button.mode[data-mode=logbook]")
    link = tab.locator(".log-event[data-type='camera.motion'] a.log-footage")
    await link.click()
    await tab.wait_for_selector("button.mode[data-mode=playback][aria-current=page]")
    await tab.wait_for_selector(".pb-tile[data-camera=mairie]")
    await tab.wait_for_function(
        f"() => Math.abs(Number(document.querySelector('.pb-clock').dataset.ms)"
        f" - {event_ms - 10_000}) < 1"
    )
    assert "cameras=mairie" in await tab.evaluate("location.hash")
    # The event is a red mark on the camera's bar, the hold a ribbon.
    lane = tab.locator(".tl-lane[data-camera=mairie]")
    await lane.locator(".tl-event[data-kind=alarm][data-type='camera.motion']").wait_for()
    await lane.locator(".tl-hold[title*='MC 2026-311']").wait_for()

    # (d) A second camera joins; played, both catch up with their footage and stay in sync.
    await tab.check("input[name=camera][value='quai-1']")
    await tab.wait_for_selector(".pb-tile[data-camera='quai-1']")
    assert "cameras=mairie,quai-1" in await tab.evaluate("location.hash")
    # "Go to time" (local time) a little before either camera recorded: "No recording" on both.
    first = min(segments[0]["start_ms"] for segments in closed.values())
    before = datetime.fromtimestamp(first / 1000 - 2.5, ZoneInfo("Europe/Paris"))
    await tab.fill("input[name=go-to-time]", before.strftime("%d/%m/%Y %H:%M:%S"))
    await tab.press("input[name=go-to-time]", "Enter")
    await tab.wait_for_function(
        f"() => Number(document.querySelector('.pb-clock').dataset.ms)"
        f" === {before.replace(microsecond=0).timestamp() * 1000}"
    )
    await tab.wait_for_function(
        "() => document.querySelectorAll('.pb-tile[data-state=gap]').length === 2"
    )
    await tab.locator("body").click(position={"x": 5, "y": 5})  # the keys go to the page again
    await tab.select_option("select[name=speed]", "2")
    await tab.keyboard.press("Space")
    try:
        await tab.wait_for_function(
            "() => document.querySelectorAll('.pb-tile[data-state=playing]').length === 2"
            " && [...document.querySelectorAll('.pb-tile video')].every((v) => !v.paused)",
            timeout=30_000,
        )
    except Exception as err:
        raise AssertionError(f"not both playing: {await describe(tab)}") from err
    await tab.select_option("select[name=speed]", "1")
    await asyncio.sleep(1.5)
    for _ in range(3):
        tiles = await tab.evaluate(TILES_JS)
        assert [t["camera"] for t in tiles] == ["mairie", "quai-1"]
        assert all(t["burnt"] is not None for t in tiles), tiles
        assert abs(tiles[0]["shown"] - tiles[1]["shown"]) <= 250, tiles
        assert abs(tiles[0]["burnt"] - tiles[1]["burnt"]) <= 250, tiles
        await asyncio.sleep(0.5)

    # Out of sync, a camera keeps its own time: 3 s back for the others leaves it ahead,
    # with its own cursor on its bar; back in sync, it joins them.
    quai_sync = tab.locator(".pb-tile[data-camera='quai-1'] input[name=sync]")
    await quai_sync.uncheck()
    for _ in range(3):
        await tab.keyboard.press("ArrowDown")
    try:
        await tab.wait_for_function(
            "() => { const c = [...document.querySelectorAll('.pb-tile-clock')]"
            ".map((e) => Number(e.dataset.ms)); return c[1] - c[0] > 2500; }"
        )
    except Exception as err:
        raise AssertionError(f"no 3 s apart: {await describe(tab)}") from err
    await tab.locator(".tl-lane[data-camera='quai-1'] .tl-own-cursor:not([hidden])").wait_for()
    await quai_sync.check()
    await tab.wait_for_function(
        "() => { const c = [...document.querySelectorAll('.pb-tile-clock')]"
        ".map((e) => Number(e.dataset.ms)); return Math.abs(c[0] - c[1]) <= 250; }"
    )
    await tab.locator(".pb-play").click()  # Space on the focused button must not click it too
    here = await still(tab)
    await tab.keyboard.press("Space")
    await tab.wait_for_function("() => !document.querySelector('.pb-tile video').paused")
    await tab.keyboard.press("Space")
    here = await still(tab)

    # Range: [ and ] mark its ends at the cursor; the timeline shows it with its length.
    await tab.keyboard.press("[")
    await tab.keyboard.press("ArrowUp")
    await tab.keyboard.press("ArrowUp")
    await tab.keyboard.press("]")
    info = tab.locator(".tl-range-info")
    await tab.wait_for_function("() => document.querySelector('.tl-range-info').dataset.end")
    assert float(await info.get_attribute("data-start") or 0) == pytest.approx(here, abs=1)
    end = float(await info.get_attribute("data-end") or 0)
    assert end - here == pytest.approx(2000, abs=FRAME_MS + 1)
    assert "(2.0 s)" in await info.inner_text() or "(1.9 s)" in await info.inner_text()
    await tab.wait_for_selector(".tl-selection:not([hidden])")
    # The range becomes a bookmark of the first camera.
    await tab.click(".pb-bookmark")
    await tab.fill("dialog.bookmark-dialog input[name=name]", "Passage du suspect")
    await tab.click("dialog.bookmark-dialog button[type=submit]")
    await tab.wait_for_selector("dialog.bookmark-dialog", state="detached")
    assert hub.bookmarks is not None
    [marked] = await hub.bookmarks.list(cameras=["mairie"])
    assert marked.start.timestamp() * 1000 == pytest.approx(here, abs=1)
    assert marked.end.timestamp() * 1000 == pytest.approx(end, abs=1)

    # On the bar: shift-drag selects, a drag pans, the wheel zooms.
    for _ in range(14):
        await tab.keyboard.press("+")
    box = await lane_box(tab)
    y = box["y"] + box["height"] / 2
    left, right = box["x"] + box["width"] * 0.3, box["x"] + box["width"] * 0.6
    at = "(x) => document.querySelector('ch-timeline').instantAt(x)"
    expected = (await tab.evaluate(at, left), await tab.evaluate(at, right))
    await tab.keyboard.down("Shift")
    await tab.mouse.move(left, y)
    await tab.mouse.down()
    await tab.mouse.move((left + right) / 2, y, steps=4)
    await tab.mouse.move(right, y, steps=4)
    await tab.mouse.up()
    await tab.keyboard.up("Shift")
    assert float(await info.get_attribute("data-start") or 0) == expected[0]
    assert float(await info.get_attribute("data-end") or 0) == expected[1]
    view = (
        "() => { const v = document.querySelector('ch-timeline').view; return [v.start, v.end]; }"
    )
    before = await tab.evaluate(view)
    await tab.mouse.move(right, y)
    await tab.mouse.down()
    await tab.mouse.move(left, y, steps=5)
    await tab.mouse.up()
    after = await tab.evaluate(view)
    span = before[1] - before[0]
    assert after[1] - after[0] == span
    assert after[0] - before[0] == pytest.approx(span * 0.3, rel=0.02)  # dragged left: later
    await tab.mouse.move(left, y)
    await tab.mouse.wheel(0, 120)
    await tab.wait_for_function(
        f"() => {{ const v = document.querySelector('ch-timeline').view;"
        f" return Math.abs(v.end - v.start - {span * 1.5}) <= 2; }}"
    )
    # ? shows the panel's keys, playback's among them.
    await tab.keyboard.press("?")
    group = tab.locator("ch-help .help-group[data-group=Playback]")
    await group.locator("kbd:text-is('Space')").wait_for()
    assert "frame" in await group.inner_text()
    await tab.keyboard.press("Escape")
    await tab.locator("ch-help").wait_for(state="detached")
    # L goes back to live.
    await tab.keyboard.press("l")
    await tab.wait_for_selector("button.mode[data-mode=live][aria-current=page]")
    assert log.errors == [], (refusals, closed)

    # (f) A viewer has no playback: no mode button, a link falls back to live, the API refuses.
    viewer, viewer_log = second_page
    start, end = iso(closed["mairie"][0]["start_ms"]), iso(closed["mairie"][1]["end_ms"])
    timeline = f"/api/cameras/mairie/timeline?from={start}&to={end}"
    recording = f"/api/cameras/mairie/recording?from={start}&to={end}"
    viewer_log.allow_refusal(timeline, 403)
    viewer_log.allow_refusal(recording, 403)
    await log_in(viewer, viewer_log, hub, "v.durand")
    assert await viewer.locator("button.mode[data-mode=playback]").count() == 0
    assert await viewer.locator(".mode.later[data-mode=playback]").count() == 1
    await viewer.evaluate("() => { location.hash = '#playback?cameras=mairie'; }")
    await viewer.wait_for_selector("button.mode[data-mode=live][aria-current=page]")
    assert await viewer.locator("ch-playback").count() == 0
    statuses = await viewer.evaluate(
        "(paths) => Promise.all(paths.map((p) => fetch(p).then((r) => r.status)))",
        [timeline, recording],
    )
    assert statuses == [403, 403]
    assert viewer_log.errors == []


LOGIC_JS = """async () => {
  const tl = await import('/static/js/timeline.js');
  const pb = await import('/static/js/playback.js');
  const at = (iso) => Date.parse(iso);
  const strip = (ticks) => ticks.map((t) => ({ iso: new Date(t.ms).toISOString(), x: t.x,
    label: t.label, offsetChanged: t.offsetChanged }));
  const box = (type, body) => {
    const bytes = new Uint8Array(8 + body.length);
    new DataView(bytes.buffer).setUint32(0, bytes.length);
    for (let i = 0; i < 4; i++) bytes[4 + i] = type.charCodeAt(i);
    bytes.set(body, 8);
    return bytes;
  };
  const join = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const avcC = box('avcC', new Uint8Array([1, 0x64, 0x00, 0x1f, 0xff]));
  const init = join(box('ftyp', new Uint8Array(8)), box('moov', box('trak', avcC)));
  return {
    autumn: strip(tl.ticks(at('2026-10-24T23:00:00Z'), at('2026-10-25T04:00:00Z'), 1000)),
    spring: strip(tl.ticks(at('2026-03-29T00:00:00Z'), at('2026-03-29T02:00:00Z'), 1000)),
    week: strip(tl.ticks(at('2026-10-22T00:00:00Z'), at('2026-10-29T00:00:00Z'), 400)),
    repeated: new Date(tl.parseLocalTime('25/10/2026 02:30', 'Europe/Paris')).toISOString(),
    afterChange: new Date(tl.parseLocalTime('2026-10-25 03:30:15', 'Europe/Paris')).toISOString(),
    iso: new Date(tl.parseLocalTime('2026-10-25T03:30:00+01:00')).toISOString(),
    unreadable: tl.parseLocalTime('tomorrow'),
    clock: tl.formatLocal(at('2026-10-25T01:30:00.040Z'), 'Europe/Paris', { millis: true }),
    offset: tl.offsetLabel(tl.zonedParts(at('2026-10-25T01:30:00Z'), 'Europe/Paris').offset),
    durations: [tl.formatDuration(12345), tl.formatDuration(63000), tl.formatDuration(7440000)],
    tooNarrow: tl.zoomView({ start: 0, end: 60000 }, 0.5, 30000),
    tooWide: tl.zoomView({ start: 0, end: 86400000 }, 100, 0),
    zoomed: tl.zoomView({ start: 0, end: 600000 }, 0.5, 150000),
    panned: tl.panView({ start: 0, end: 600000 }, -1000),
    range: tl.orderedRange(5000, 2000),
    empty: tl.orderedRange(5000, 5000),
    hash: pb.parseHash('#playback?cameras=mairie,quai-1,mairie&t=2026-10-25T01:30:00.000Z'),
    spaced: pb.parseHash('#playback?cameras=a&t=2026-10-25T02:30:00.000 01:00'),
    made: pb.playbackHash(['mairie', 'quai-1'], at('2026-10-25T01:30:00Z')),
    codec: pb.codecOf(init),
    partial: pb.codecOf(init.subarray(0, init.length - 3)),
    notMp4: pb.codecOf(new TextEncoder().encode('<!doctype html><html>')),
    media: [pb.instantOf(1000.5, 2.04), pb.mediaTimeOf(1000.5, 3040.5)],
  };
}"""


async def test_timeline_and_playback_logic(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory, page: tuple[Any, Any]
) -> None:
    hub = await cityhub_hub(cityhub_config({"http": {"host": "127.0.0.1", "port": 0}}))
    assert hub.http_url is not None
    tab, log = page
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    found = await tab.evaluate(LOGIC_JS)

    # The autumn change (03:00 CEST -> 02:00 CET at 01:00 UTC): every half hour of UTC gets a
    # tick, evenly spaced; local 02:00 and 02:30 come twice, the second time with the new offset.
    autumn = found["autumn"]
    assert [t["label"] for t in autumn] == [
        "01:00", "01:30", "02:00", "02:30", "02:00 UTC+01:00", "02:30", "03:00", "03:30",
        "04:00", "04:30", "05:00",
    ]  # fmt: skip
    assert [t["iso"][11:16] for t in autumn] == [
        f"{h:02d}:{m:02d}" for h in (23, 0, 1, 2, 3) for m in (0, 30)
    ] + ["04:00"]
    assert {round(b["x"] - a["x"], 6) for a, b in itertools.pairwise(autumn)} == {100.0}
    assert [t["offsetChanged"] for t in autumn].count(True) == 1
    # The spring change (02:00 CET -> 03:00 CEST at 01:00 UTC): no 02:xx, no hole in the bar.
    spring = found["spring"]
    assert [t["label"] for t in spring][:8] == [
        "01:00", "01:10", "01:20", "01:30", "01:40", "01:50", "03:00 UTC+02:00", "03:10",
    ]  # fmt: skip
    assert len(spring) == 13
    assert {round(b["x"] - a["x"], 6) for a, b in itertools.pairwise(spring)} == {83.333333}
    # A week: one tick per local midnight; the day with 25 hours is wider by an hour.
    week = found["week"]
    assert [t["label"] for t in week][:5] == ["23/10", "24/10", "25/10", "26/10 UTC+01:00", "27/10"]
    widths = [round(b["x"] - a["x"], 3) for a, b in itertools.pairwise(week)]
    assert widths[2] == pytest.approx(widths[1] * 25 / 24, abs=0.01)

    assert found["repeated"] == "2026-10-25T00:30:00.000Z"  # the first 02:30 of the night
    assert found["afterChange"] == "2026-10-25T02:30:15.000Z"
    assert found["iso"] == "2026-10-25T02:30:00.000Z"
    assert found["unreadable"] is None
    assert found["clock"] == "25/10/2026 02:30:00.040"
    assert found["offset"] == "UTC+01:00"
    assert found["durations"] == ["12.3 s", "1 min 03 s", "2 h 04 min"]
    assert found["tooNarrow"] == {"start": 0, "end": 60000}  # one minute at least
    assert found["tooWide"]["end"] - found["tooWide"]["start"] == 7 * 86400000  # a week at most
    assert found["zoomed"] == {"start": 75000, "end": 375000}  # the anchor stays put
    assert found["panned"] == {"start": -1000, "end": 599000}
    assert found["range"] == {"start": 2000, "end": 5000}
    assert found["empty"] is None
    assert found["hash"] == {"cameras": ["mairie", "quai-1"], "t": 1792891800000}
    assert found["spaced"]["t"] == 1792891800000
    assert found["made"] == "#playback?cameras=mairie,quai-1&t=2026-10-25T01:30:00.000Z"
    assert found["codec"] == {"ready": True, "mime": 'video/mp4; codecs="avc1.64001F"'}
    assert found["partial"] == {"ready": False}
    assert found["notMp4"] is None
    assert found["media"] == [3040.5, 2.04]
    assert log.errors == []
