"""Glass-to-glass latency of the live wall in headless Chromium, frame by frame.

Run from the repository root (Debian's Chromium must be installed: ``bash .ci/bootstrap``):

    .venv/bin/python benchmarks/live_latency.py [--seconds 60]

A hub runs as its own process (``cityhub run``) on a throw-away configuration with virtual
cameras in **live mode**: each frame is drawn with its capture time (ms since the epoch)
burnt into it as a band of black and white cells, then encoded. The panel is opened in
headless Chromium and logged in; on every frame the first tile of each camera presents,
``requestVideoFrameCallback`` copies the band to a canvas, the page reads the clock back
(``/static/js/clock.js``, the same layout as ``cityhub_virtual.clock``) and subtracts it from
the frame's expected display time (the frames of the other tiles are counted, not read:
copying pixels out of the decoder costs CPU the wall needs).
Hub and browser share the machine's clock, so the difference is the whole chain: render,
encode, ingest, fMP4 fragment, WebSocket, MSE buffer, decode, presentation.

Two walls are measured, each on a hub of its own:

- **1 tile**: one 640x360 camera at 25 fps, main stream; then the time to first frame of a
  newly opened tile (from assigning the camera to the tile to the first presented frame),
  repeated five times.
- **16 tiles**: four 320x180 cameras (the size of a sub-stream) at 25 fps, each on four tiles:
  sixteen decoders in the page. The hub streams only a camera's first profile for now, so the
  cameras' main streams are configured at sub-stream size.

**Baseline**, in the same run: a Python WebSocket client of the same hub watches every camera
at the same time as the browser; it notes when each fragment arrives and reads the clock of
its frame afterwards (PyAV + ``cityhub_virtual.clock.decode_clock``). That is the capture ->
WebSocket delivery time: what any player must add to; the difference is the browser's share
(MSE buffering, decoding, compositing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import aiohttp
import av
import yaml
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from cityhub.testing.api import TEST_PASSWORD, ApiClient
from cityhub_virtual.clock import decode_clock

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]
USER = "bench"
WARM_UP_S = 3.0
FIRST_FRAME_TRIALS = 5

MEASURE_JS = """async ([seconds, readTiles]) => {
  const { bandRect, readClock, unwrapClock } = await import('/static/js/clock.js');
  const videos = [...document.querySelectorAll('ch-tile:not([hidden]) video')];
  const results = videos.map(() => ({ latencies: [], unreadable: 0, frames: 0 }));
  let running = true;
  videos.forEach((video, i) => {
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });
    const onFrame = (now, meta) => {
      if (!running) return;
      results[i].frames++;
      if (i >= readTiles) { video.requestVideoFrameCallback(onFrame); return; }
      const [x, y, w, h] = bandRect(meta.width, meta.height);
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      context.drawImage(video, x, y, w, h, 0, 0, w, h);
      const value = readClock(context.getImageData(0, 0, w, h), meta.width, meta.height);
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      if (value === null) results[i].unreadable++;
      else results[i].latencies.push(shown - unwrapClock(value, Date.now()));
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  return results;
}"""

FIRST_FRAME_JS = """async (camera) => {
  const wall = document.querySelector('ch-wall');
  const video = document.querySelector('ch-tile video');
  wall.assign(0, null);
  await new Promise((resolve) => setTimeout(resolve, 700));
  return await new Promise((resolve) => {
    let start = 0;
    video.requestVideoFrameCallback((now, meta) => resolve(meta.expectedDisplayTime - start));
    start = performance.now();
    wall.assign(0, camera);
  });
}"""

PLAYING_JS = """(count) => {
  const videos = [...document.querySelectorAll('ch-tile:not([hidden]) video')];
  return videos.length === count && videos.every((v) =>
    v.closest('ch-tile').dataset.status === 'playing' && v.currentTime > 0.5);
}"""


def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(folder: Path, cameras: list[tuple[str, int, int]], port: int) -> None:
    """A hub of live-mode virtual cameras, not recording, on ``port``."""
    config = {
        "hub": {"name": "Latency bench", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": port},
        "zones": [{"id": "bench", "name": "Bench"}],
        "cameras": [
            {"id": cid, "name": cid, "driver": "virtual", "zone": "bench", "recording": False,
             "options": {"mode": "live", "width": w, "height": h, "fps": 25,
                         "sub_stream": False}}
            for cid, w, h in cameras
        ],
    }  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cityhub.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def add_user(folder: Path) -> None:
    """A habilitated operator with a known password, through the ``cityhub user`` command."""
    today = date.today()
    subprocess.run(
        [str(ROOT / ".venv/bin/cityhub"), "user", "add", USER, "-c", str(folder),
         "--role", "operator", "--password-stdin", "--habilitation-reference", "BENCH",
         "--habilitation-date", (today - timedelta(days=1)).isoformat(),
         "--habilitation-expires", (today + timedelta(days=30)).isoformat()],
        input=TEST_PASSWORD + "\n", text=True, check=True, capture_output=True,
    )  # fmt: skip


async def wait_online(url: str, cameras: int, hub: subprocess.Popen[bytes]) -> None:
    """Wait until the hub answers and streams every camera (live video ready)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            raise RuntimeError(f"the hub exited with code {hub.returncode}; see its log")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with ApiClient(url) as api:
                await api.login(USER)
                listed = (await api.get_json("/api/cameras"))["cameras"]
                if sum(c["state"] == "online" for c in listed) == cameras:
                    await asyncio.sleep(1.0)  # a first GOP in the live cache
                    return
        await asyncio.sleep(0.5)
    raise TimeoutError("the hub's cameras did not come online in 90 s")


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state is field 0)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds(hub_pid: int) -> float:
    """CPU seconds of this script's other descendants: Playwright's driver and Chromium."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
    total = 0.0
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, os.getpid(), hub_pid):
            ancestor = parents.get(ancestor)  # type: ignore[arg-type]
        if ancestor == os.getpid() and pid != hub_pid:
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
    return total


async def baseline(url: str, cameras: list[str], seconds: float) -> list[float]:
    """Capture -> WebSocket delivery (ms) of every live frame, seen by a Python client."""
    arrivals: dict[int, list[tuple[float, bytes]]] = {i: [] for i in range(len(cameras))}
    cached: dict[int, int] = {}
    async with ApiClient(url) as api:
        await api.login(USER)
        async with api.session.ws_connect(url.replace("http", "ws") + "/api/live") as ws:
            for channel, camera in enumerate(cameras):
                await ws.send_json({"op": "watch", "channel": channel, "camera": camera})
            until = time.monotonic() + seconds
            while (left := until - time.monotonic()) > 0:
                with contextlib.suppress(TimeoutError):
                    message = await ws.receive(timeout=left)
                    arrived = time.time() * 1000
                    if message.type is aiohttp.WSMsgType.TEXT:
                        data = json.loads(message.data)
                        cached[data["channel"]] = data.get("cached", 0)
                    elif message.type is aiohttp.WSMsgType.BINARY:
                        channel = int.from_bytes(message.data[:2], "big")
                        arrivals[channel].append((arrived, message.data[2:]))
    latencies: list[float] = []
    for channel, chunks in arrivals.items():
        if len(chunks) < 2:
            continue
        data = io.BytesIO(b"".join(chunk for _, chunk in chunks))
        with av.open(data, mode="r", format="mp4") as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index < cached.get(channel, 0) or index + 1 >= len(chunks):
                    continue  # the cached GOP was captured before the watch
                arrived = chunks[index + 1][0]
                captured = decode_clock(frame.to_image(), reference_ms=round(arrived))
                if captured is not None:
                    latencies.append(arrived - captured)
    return latencies


def summary(values: list[float]) -> str:
    """Median and 95th percentile in ms."""
    if len(values) < 2:
        return "no data"
    p95 = statistics.quantiles(values, n=20)[18]
    return f"median {statistics.median(values):6.1f} ms   p95 {p95:6.1f} ms   n={len(values)}"


async def open_wall(browser: Browser, url: str, layout: int, tiles: list[str]) -> Page:
    """Log in to the panel with a saved wall of ``layout`` showing ``tiles``."""
    context = await browser.new_context(viewport={"width": 1600, "height": 1000})
    saved = json.dumps({"layout": layout, "tiles": tiles, "selected": 0})
    await context.add_init_script(
        f"localStorage.getItem('cityhub.wall.v1.{USER}') ||"
        f" localStorage.setItem('cityhub.wall.v1.{USER}', {json.dumps(saved)});"
    )
    page = await context.new_page()

    def console(message: ConsoleMessage) -> None:
        # Errors only; the 401 of the page asking who is logged in before login is expected.
        if message.type == "error" and "401" not in message.text:
            print(f"  browser: {message.text}")

    page.on("console", console)
    await page.goto(url + "/")
    await page.fill("input[name=user]", USER)
    await page.fill("input[name=password]", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_function(PLAYING_JS, arg=len(tiles), timeout=30_000, polling=100)
    return page


def start_hub(
    cameras: list[tuple[str, int, int]],
) -> tuple[Path, str, subprocess.Popen[bytes], IO[bytes]]:
    """``cityhub run`` on a new configuration folder: the folder, URL, process and its log."""
    folder = Path(tempfile.mkdtemp(prefix="cityhub-latency-"))
    port = free_port()
    write_config(folder, cameras, port)
    add_user(folder)
    log = (folder / "hub.log").open("wb")
    hub = subprocess.Popen(
        [str(ROOT / ".venv/bin/cityhub"), "run", "-c", str(folder)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return folder, f"http://127.0.0.1:{port}", hub, log


async def scenario(
    browser: Browser,
    name: str,
    cameras: list[tuple[str, int, int]],
    layout: int,
    tiles: list[str],
    seconds: float,
) -> None:
    """Start a hub for ``cameras``, show ``tiles`` in the panel, measure, print."""
    folder, url, hub, log = start_hub(cameras)
    try:
        await wait_online(url, len(cameras), hub)
        page = await open_wall(browser, url, layout, tiles)
        await asyncio.sleep(WARM_UP_S)
        cpu_before, wall_before = cpu_seconds(hub.pid), time.monotonic()
        browser_before = browser_cpu_seconds(hub.pid)
        # The clock is read on the first tile of each camera (copying pixels out of the
        # decoder costs the browser CPU the wall needs); frames are counted on every tile.
        browser_task = asyncio.ensure_future(page.evaluate(MEASURE_JS, [seconds, len(cameras)]))
        python = await baseline(url, [c for c, _, _ in cameras], seconds)
        results: list[dict[str, Any]] = await browser_task
        elapsed = time.monotonic() - wall_before
        hub_cpu = (cpu_seconds(hub.pid) - cpu_before) / elapsed
        browser_cpu = (browser_cpu_seconds(hub.pid) - browser_before) / elapsed
        glass = [v for r in results for v in r["latencies"]]
        unreadable = sum(r["unreadable"] for r in results)
        presented = sum(r["frames"] for r in results)
        expected = 25 * seconds * len(tiles)
        print(f"\n{name}: {len(tiles)} tile(s) of {', '.join(f'{w}x{h}' for _, w, h in cameras)}")
        print(f"  glass-to-glass (Chromium)  {summary(glass)}")
        print(f"  capture -> WebSocket       {summary(python)}   (baseline, Python client)")
        print(
            f"  frames presented {presented} of {expected:.0f} expected; clock read on "
            f"{len(cameras)} tile(s), {unreadable} unreadable"
        )
        print(
            f"  CPU (% of one core): hub process {hub_cpu * 100:.0f}, "
            f"Chromium {browser_cpu * 100:.0f}"
        )
        if layout == 1:
            first = [
                float(await page.evaluate(FIRST_FRAME_JS, tiles[0]))
                for _ in range(FIRST_FRAME_TRIALS)
            ]
            print(
                f"  first frame of a new tile  median {statistics.median(first):6.1f} ms   "
                f"max {max(first):6.1f} ms   n={len(first)}"
            )
        await page.context.close()
    finally:
        hub.terminate()
        try:
            hub.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hub.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


async def measure(walls: list[int], seconds: float) -> None:
    """Measure the walls asked for and print the results."""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{seconds:g} s per wall after {WARM_UP_S:g} s of warm-up; {os.cpu_count()} CPUs; "
          f"load average {load} (1/5/15 min)")  # fmt: skip
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            if 1 in walls:
                await scenario(browser, "1 tile", [("cam-1", 640, 360)], 1, ["cam-1"], seconds)
            if 16 in walls:
                small = [(f"cam-{i}", 320, 180) for i in range(1, 5)]
                tiles = [c for c, _, _ in small] * 4
                await scenario(browser, "16 tiles", small, 16, tiles, seconds)
        finally:
            await browser.close()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end {load}")


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement per wall")
    parser.add_argument(
        "--walls", default="1,16", help="which walls to measure: 1, 16 or 1,16 (the default)"
    )
    args = parser.parse_args()
    if args.seconds < 2:
        parser.error("--seconds must be at least 2")
    try:
        walls = sorted({int(w) for w in args.walls.split(",")})
    except ValueError:
        parser.error("--walls takes 1, 16 or 1,16")
    if not set(walls) <= {1, 16}:
        parser.error("--walls takes 1, 16 or 1,16")
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: install Debian's chromium (bash .ci/bootstrap)")
    asyncio.run(measure(walls, args.seconds))


if __name__ == "__main__":
    main()
