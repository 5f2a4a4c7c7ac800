"""Recording K camera streams from a real RTSP server: cityhub beside one ffmpeg per stream.

Run from the repository root (GStreamer's RTSP server and ``ffmpeg`` must be installed, see
``cityhub.testing.rtsp``):

    .venv/bin/python benchmarks/recording.py [--streams 1,8,32,64] [--seconds 60] [--codec h265]

One RTSP server (GStreamer's, from :mod:`cityhub.testing.rtsp`) serves one path, looping a
pre-encoded 1920x1080 25 fps H.264 clip (GOP 50, no B-frames) through one shared pipeline.
The clip is FFmpeg's ``testsrc2`` moving pattern with temporal noise, encoded with libx264
through PyAV at 4 Mbit/s: the virtual camera's street scene compresses to about 1 Mbit/s at
1080p whatever bitrate is asked, far below a real camera's. Its bitrate, measured with
``ffprobe``, is printed. ``--codec h265`` serves the same pattern encoded with libx265 (no
B-frames either, parameter sets on every keyframe) instead.

For each K, one after the other, never at the same time:

- cityhub: ``python -m cityhub.cli run`` in a child process with K ``rtsp`` cameras on that
  URL and ``recording: {segment_seconds: 60}``;
- ffmpeg: K processes of ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`` writing the
  same fragmented MP4 (``frag_keyframe+empty_moov+default_base_moof``) in 60 s segments.

Once every stream records (cityhub: every camera online and recording in ``/api/health``;
ffmpeg: every process has written its first file) and ``--settle`` seconds more, CPU time
(utime + stime from ``/proc/PID/stat``, every thread) is taken over a window of ``--seconds``
and given as CPU seconds per stream-minute; nothing is subtracted. cityhub's RSS per camera is
(RSS with K cameras - RSS of the same hub with no camera) / K, both from ``/proc/PID/status``.
The RTSP server's CPU and the whole machine's load over each window are printed too, so a
saturated machine shows.

Frames lost are counted in the files written, per stream, from its first recorded frame to
its last: the server stamps frame n at n / 25 s, so a missing frame leaves a gap in the
timestamps, within a file or between one file's end and the next one's start (segments of
both sides restart at dts 0: cityhub's start is in the file's name, as in the index;
ffmpeg's in its segment list). The recorders' and streams' own counters from
``/api/health`` are printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import attrs
import av

from cityhub.media.recorder import MOVFLAGS
from cityhub.testing.hub import write_config
from cityhub.testing.rtsp import ClipCache, RtspTestServer
from cityhub_virtual.encoder import iter_nal_units

WIDTH, HEIGHT, FPS, GOP, BITRATE = 1920, 1080, 25, 50, 4_000_000
CLIP_SECONDS = 10.0
"""The loop's length: five GOPs."""
CLIP_NOISE = 10
"""Strength of the temporal noise added to the pattern (FFmpeg's ``noise`` filter, 0-100)."""
SEGMENT_S = 60
ONLINE_TIMEOUT_S = 30.0
"""How long the streams may take to start recording, plus half a second per stream."""
STOP_TIMEOUT_S = 15.0
"""How long a child process may take to finish its files once asked to stop."""
SATURATED_PERCENT = 90.0
"""Machine load (percent of all cores) above which a case is flagged as saturating it."""
HUB_LOG = "hub.log"
BENCH_USER = "bench"
BENCH_PASSWORD = "Mesure-des-flux-2026"  # noqa: S105 - a throwaway account of a throwaway hub
NAL_SLICES = frozenset({1, 5})
CODECS = ("h264", "h265")


def nal_type(unit: bytes, codec: str) -> int:
    """A NAL unit's type: 5 bits of the first byte (H.264), 6 bits after one (H.265)."""
    return (unit[0] >> 1) & 0x3F if codec == "h265" else unit[0] & 0x1F


def is_slice(unit: bytes, codec: str) -> bool:
    """Whether a NAL unit is a coded slice (H.265: types 0-31)."""
    return nal_type(unit, codec) < 32 if codec == "h265" else nal_type(unit, codec) in NAL_SLICES


def first_slice(unit: bytes, codec: str) -> bool:
    """Whether a slice is its picture's first (first_mb_in_slice 0, or first_slice flag)."""
    return len(unit) > 2 and bool(unit[2 if codec == "h265" else 1] & 0x80)


"""H.264 NAL unit types of coded pictures (non-IDR and IDR slices)."""
SEGMENT_LIST = "segments.csv"
"""ffmpeg's list of the segments it wrote, with their start times in the stream."""


@attrs.frozen
class Usage:
    """CPU and memory of the processes of one side over one window."""

    cpu_s: float
    rss_bytes: int
    server_cpu_s: float
    machine_busy: float
    """Fraction of all cores busy over the window, every process included."""
    window_s: float


@attrs.frozen
class Frames:
    """What the files of one side hold: frames recorded, frames missing between them."""

    recorded: int
    lost: int
    """Frames of the loop missing in the sequence of recorded frames."""
    gaps: int
    """Frames missing by the timestamps (a check: should equal ``lost``)."""
    unknown: int
    """Recorded packets holding none of the clip's frames."""
    seconds: float
    """Seconds of video per stream, on average."""


@attrs.frozen
class SideResult:
    """One side (cityhub or ffmpeg) at one K."""

    usage: Usage
    frames: Frames
    counters: str


class PatternClips(ClipCache):
    """Clips of FFmpeg's ``testsrc2`` moving pattern with temporal noise, in the clip cache.

    Unlike the virtual camera's street scene, it fills the bitrate asked, as a real camera's
    1080p stream does. Encoded with libx264 like a camera: no B-frames, a fixed GOP, SPS/PPS
    on every keyframe, the bitrate capped by the VBV.
    """

    def get(
        self,
        *,
        width: int,
        height: int,
        fps: int,
        seconds: float,
        gop: int,
        bitrate: int,
        title: str,
        codec: str = "h264",
    ) -> Path:
        """The clip file for these parameters; encodes it (blocking) when not cached yet."""
        frames = max(1, round(seconds * fps))
        material = [
            av.__version__,
            codec,
            "testsrc2",
            CLIP_NOISE,
            width,
            height,
            fps,
            frames,
            gop,
            bitrate,
        ]
        key = hashlib.sha256(json.dumps(material).encode()).hexdigest()[:20]
        path = self.folder / f"pattern-{width}x{height}-{fps}fps-{key}.{codec}"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.{os.getpid()}")
            temp.write_bytes(_encode_pattern(width, height, fps, frames, gop, bitrate, codec))
            temp.replace(path)
            self.encodes += 1
        return path


def _encode_pattern(
    width: int, height: int, fps: int, frames: int, gop: int, rate: int, codec: str
) -> bytes:
    graph = f"testsrc2=size={width}x{height}:rate={fps},noise=alls={CLIP_NOISE}:allf=t"
    encoder = av.CodecContext.create("libx265" if codec == "h265" else "libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, fps), Fraction(fps)
    encoder.bit_rate, encoder.gop_size, encoder.max_b_frames = rate, gop, 0
    kbit = rate // 1000
    params = (
        f"repeat-headers=1:bframes=0:keyint={gop}:min-keyint={gop}:scenecut=0"
        f":vbv-maxrate={kbit}:vbv-bufsize={kbit}"
    )
    if codec == "h265":  # ultrafast: x265 at 1080p is slow; the clip is cached once made
        encoder.options = {"preset": "ultrafast", "x265-params": f"{params}:log-level=error"}
    else:
        encoder.options = {"preset": "veryfast", "x264-params": params}
    encoder.open()
    data = bytearray()
    with av.open(f"{graph},format=yuv420p", format="lavfi") as source:
        for index, frame in enumerate(source.decode(video=0)):
            if index == frames:
                break
            frame.pts, frame.time_base = index, Fraction(1, fps)
            frame.pict_type = av.video.frame.PictureType.NONE  # lavfi marks every frame I
            for packet in encoder.encode(frame):
                data += bytes(packet)
    for packet in encoder.encode(None):
        data += bytes(packet)
    return bytes(data)


def probe_bitrate(clip: Path, fps: int, codec: str = "h264") -> float:
    """Bits per second of a raw H.264 clip played at ``fps``, its frames counted by ffprobe."""
    command = [
        "ffprobe", "-v", "error", "-f", "hevc" if codec == "h265" else "h264", "-i", str(clip),
        "-count_packets",
        "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    frames = int(output.strip().splitlines()[0].strip(","))
    return clip.stat().st_size * 8 * fps / frames


# --- processes --------------------------------------------------------------------------


class Children:
    """Child processes, each in its own session (a Ctrl-C reaches this script only), all
    stopped at the end whatever happens."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []
        self._logs: list[TextIO] = []

    def start(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start ``command`` with its output in ``log``."""
        out = log.open("w", encoding="utf-8")
        self._logs.append(out)
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._running.append(process)
        return process

    def stop(self, processes: list[subprocess.Popen[bytes]], sig: int) -> None:
        """Send ``sig`` to each process, wait for them to finish, kill the slow ones."""
        for process in processes:
            if process.poll() is None:
                process.send_signal(sig)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  process {process.pid} did not stop in time: killed", flush=True)
                process.kill()
                process.wait()
            if process in self._running:
                self._running.remove(process)

    def stop_all(self) -> None:
        """Stop every process still running (SIGTERM, then SIGKILL) and close the logs."""
        self.stop(list(self._running), signal.SIGTERM)
        for out in self._logs:
            out.close()
        self._logs.clear()


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process, every thread included (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid: int) -> int:
    """Resident set size of a process (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def measure(pids: list[int], server_pid: int, seconds: float) -> Usage:
    """CPU of ``pids`` and of the RTSP server over ``seconds`` from now, and RSS at the end."""
    busy0, total0 = machine_ticks()
    server0 = proc_cpu_s(server_pid)
    cpu0 = sum(proc_cpu_s(pid) for pid in pids)
    start = time.monotonic()
    time.sleep(seconds)
    cpu = sum(proc_cpu_s(pid) for pid in pids) - cpu0
    window = time.monotonic() - start
    server = proc_cpu_s(server_pid) - server0
    busy1, total1 = machine_ticks()
    rss = sum(proc_rss(pid) for pid in pids)
    return Usage(cpu, rss, server, (busy1 - busy0) / max(1, total1 - total0), window)


def wait_until(check: Callable[[], str | None], timeout: float, what: str) -> None:
    """Poll ``check`` (None when done, else where it is) until done or ``timeout``."""
    deadline = time.monotonic() + timeout
    while (where := check()) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:.0f} s: {where}")
        time.sleep(0.5)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen
class Bench:
    """What every case shares: the processes, the server, the clip, the timings."""

    children: Children
    url: str
    server_pid: int
    clip: ClipFrames
    seconds: float
    settle: float


# --- cityhub ----------------------------------------------------------------------------


class HubRun:
    """``python -m cityhub.cli run`` on a configuration with ``count`` RTSP cameras."""

    def __init__(self, children: Children, folder: Path, url: str, count: int) -> None:
        self.folder = folder
        self.port = free_port()
        cameras = [
            {
                "id": f"cam-{n:03d}",
                "name": f"Camera {n}",
                "driver": "rtsp",
                "zone": "bench",
                "options": {"url": url},
            }
            for n in range(1, count + 1)
        ]
        config = {
            "hub": {"name": "benchmark", "data_dir": str(folder / "data")},
            "http": {"host": "127.0.0.1", "port": self.port},
            "storage": {"backend": "local", "options": {"path": "recordings"}},
            "recording": {"segment_seconds": SEGMENT_S},
            "zones": [{"id": "bench", "name": "Benchmark"}],
            "cameras": cameras,
        }
        write_config(folder / "config", config)
        # /api/health needs a session: an account made before the start, as an admin would.
        subprocess.run(
            [sys.executable, "-m", "cityhub.cli", "user", "add", BENCH_USER, "--role", "viewer",
             "--password-stdin", "-c", str(folder / "config")],
            input=BENCH_PASSWORD + "\n", text=True, check=True, capture_output=True,
        )  # fmt: skip
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self._logged_in = False
        command = [sys.executable, "-m", "cityhub.cli", "run", "-c", str(folder / "config")]
        self.children = children
        self.process = children.start(command, folder / HUB_LOG)

    @property
    def recordings(self) -> Path:
        """Where the hub's local storage puts the segment files."""
        return self.folder / "data" / "recordings"

    def health(self) -> dict[str, Any] | None:
        """``/api/health``, or None while the hub does not answer yet."""
        if self.process.poll() is not None:
            log = (self.folder / HUB_LOG).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the hub exited with status {self.process.returncode}:\n{log}")
        base = f"http://127.0.0.1:{self.port}"
        try:
            if not self._logged_in:
                login = urllib.request.Request(  # noqa: S310 - our own http://127.0.0.1
                    f"{base}/api/auth/login",
                    data=json.dumps({"user": BENCH_USER, "password": BENCH_PASSWORD}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with self._opener.open(login, timeout=10):
                    self._logged_in = True
            with self._opener.open(f"{base}/api/health", timeout=10) as response:
                data: dict[str, Any] = json.load(response)
                return data
        except OSError:
            return None

    def not_recording(self) -> str | None:
        """None once every camera is online and recording, else a count of the others."""
        health = self.health()
        if health is None:
            return "the hub does not answer yet"
        waiting = [
            c["id"] for c in health["cameras"] if c["state"] != "online" or not c["recording"]
        ]
        return f"{len(waiting)} camera(s) not recording yet" if waiting else None

    def stop(self) -> None:
        """SIGTERM, as a service manager stops the hub: recorders close their segments."""
        self.children.stop([self.process], signal.SIGTERM)


def health_counters(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Drop counters summed over every camera, changes over the window."""
    sums: dict[str, float] = {}
    for snapshot, sign in ((before, -1), (after, 1)):
        for camera in snapshot["cameras"]:
            stream = camera["streams"].get("main", {})
            recorder = camera["recorders"].get("main", {})
            for key in ("packets", "dropped", "skipped", "reconnects"):
                sums[key] = sums.get(key, 0) + sign * stream.get(key, 0)
            sums["recorder dropped"] = sums.get("recorder dropped", 0) + sign * recorder.get(
                "dropped", 0
            )
            sums["recorder errors"] = sums.get("recorder errors", 0) + sign * recorder.get(
                "errors", 0
            )
    lags = [c["streams"].get("main", {}).get("clock_lag", 0.0) for c in after["cameras"]]
    counts = ", ".join(f"{key} {value:.0f}" for key, value in sums.items())
    return f"in the window: {counts}; clock lag at its end: max {max(lags, default=0):.2f} s"


def run_hub(bench: Bench, folder: Path, count: int) -> SideResult:
    """Record ``count`` streams with cityhub; measure it over the window."""
    hub = HubRun(bench.children, folder, bench.url, count)
    try:
        wait_until(hub.not_recording, ONLINE_TIMEOUT_S + count / 2, f"recording {count} streams")
        time.sleep(bench.settle)
        before = hub.health()
        usage = measure([hub.process.pid], bench.server_pid, bench.seconds)
        after = hub.health()
        assert before is not None
        assert after is not None
        counters = health_counters(before, after)
    finally:
        hub.stop()
    folders = [hub.recordings / f"cam-{n:03d}" / "main" for n in range(1, count + 1)]
    frames = count_frames([cityhub_segments(f) for f in folders], bench.clip)
    return SideResult(usage, frames, counters)


def hub_baseline_rss(children: Children, folder: Path, settle: float) -> int:
    """RSS of the hub with no camera, once it answers and ``settle`` seconds later."""
    hub = HubRun(children, folder, "rtsp://127.0.0.1/unused", 0)
    try:
        wait_until(lambda: None if hub.health() else "no answer", ONLINE_TIMEOUT_S, "start-up")
        time.sleep(settle)
        return proc_rss(hub.process.pid)
    finally:
        hub.stop()


# --- ffmpeg -----------------------------------------------------------------------------


def ffmpeg_command(url: str, out: Path) -> list[str]:
    """``ffmpeg -c copy`` from RTSP into fragmented MP4 segments, as the recorder writes."""
    return [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
        "-rtsp_transport", "tcp", "-i", url, "-map", "0:v", "-c", "copy",
        "-f", "segment", "-segment_time", str(SEGMENT_S), "-segment_format", "mp4",
        "-segment_format_options", f"movflags={MOVFLAGS}",
        "-segment_list", str(out / SEGMENT_LIST), "-segment_list_type", "csv",
        str(out / "%05d.mp4"),
    ]  # fmt: skip


def run_ffmpeg(bench: Bench, folder: Path, count: int) -> SideResult:
    """Record ``count`` streams with one ffmpeg each; measure them over the window."""
    outs = [folder / f"cam-{n:03d}" for n in range(1, count + 1)]
    processes = []
    try:
        for out in outs:
            out.mkdir(parents=True)
            command = ffmpeg_command(bench.url, out)
            processes.append(bench.children.start(command, out.with_suffix(".log")))

        def waiting() -> str | None:
            dead = [p.args[-1] for p in processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"ffmpeg exited early, see the logs beside {dead[0]}")
            left = sum(1 for out in outs if not any(f.stat().st_size for f in out.glob("*.mp4")))
            return f"{left} ffmpeg process(es) not recording yet" if left else None

        wait_until(waiting, ONLINE_TIMEOUT_S + count / 2, f"{count} ffmpeg recording")
        time.sleep(bench.settle)
        usage = measure([p.pid for p in processes], bench.server_pid, bench.seconds)
    finally:
        bench.children.stop(processes, signal.SIGINT)  # ffmpeg finishes its file on SIGINT
    return SideResult(usage, count_frames([ffmpeg_segments(o) for o in outs], bench.clip), "")


# --- frames in the files ----------------------------------------------------------------


class ClipFrames:
    """Which frame of the looping clip a recorded packet holds, by its picture data.

    Neither side touches the slices, so frame n of the loop is recognised in any file
    (Annex-B or length-prefixed), and frames lost show as a jump in the sequence whatever the
    timestamps say. A frame is known by its first slice.
    """

    def __init__(self, clip: Path, codec: str = "h264") -> None:
        self.codec = codec
        slices = [u for u in iter_nal_units(clip.read_bytes()) if is_slice(u, codec)]
        firsts = [u for u in slices if first_slice(u, codec)]
        self.length = round(CLIP_SECONDS * FPS)
        if len(firsts) != self.length:
            raise RuntimeError(f"{clip} has {len(firsts)} frames, not {self.length}")
        self._index = {picture: n for n, picture in enumerate(firsts)}

    def find(self, data: bytes) -> int | None:
        """The loop index of the frame in ``data``, or None if it is none of the clip's."""
        if data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            units = list(iter_nal_units(data))
        else:
            units, offset = [], 0
            while offset + 4 <= len(data):
                size = int.from_bytes(data[offset : offset + 4], "big")
                units.append(data[offset + 4 : offset + 4 + size])
                offset += 4 + size
        pictures = [u.rstrip(b"\x00") for u in units if u and is_slice(u, self.codec)]
        return self._index.get(pictures[0]) if pictures else None

    def skipped(self, previous: int, current: int) -> int:
        """Frames of the loop between two recorded one after the other."""
        return (current - previous - 1) % self.length


@attrs.frozen
class FileScan:
    """The video packets of one file: how many, the time they span, frames missing inside."""

    packets: int
    first_dts: int
    end_dts: int
    """dts of the last packet plus its duration."""
    tick_s: float
    gaps: int
    """Frames missing inside the file by its timestamps."""
    first_frame: int
    last_frame: int
    lost: int
    """Frames of the loop missing inside the file."""
    unknown: int
    """Packets that hold none of the clip's frames (none expected)."""


def scan(path: Path, clip: ClipFrames) -> FileScan | None:
    """Demux ``path`` (no decoding): packets, dts span, gaps; None for an empty file."""
    try:
        container = av.open(str(path))
    except av.FFmpegError:
        return None
    with container:
        stream = container.streams.video[0]
        tick_s = float(stream.time_base or Fraction(1, 90000))
        frame_ticks = 1 / (FPS * tick_s)
        packets = gaps = lost = unknown = 0
        first_dts = last_dts = duration = 0
        first_frame = last_frame = -1
        for packet in container.demux(stream):
            if packet.dts is None or packet.size == 0:
                continue
            if packets == 0:
                first_dts = packet.dts
            else:
                gaps += max(0, round((packet.dts - last_dts) / frame_ticks) - 1)
            last_dts, duration = packet.dts, packet.duration or round(frame_ticks)
            packets += 1
            frame = clip.find(bytes(packet))
            if frame is None:
                unknown += 1
                continue
            if last_frame >= 0:
                lost += clip.skipped(last_frame, frame)
            first_frame = frame if first_frame < 0 else first_frame
            last_frame = frame
    if packets == 0:
        return None
    end_dts = last_dts + duration
    return FileScan(
        packets, first_dts, end_dts, tick_s, gaps, first_frame, last_frame, lost, unknown
    )


def count_frames(streams: list[list[tuple[Path, float]]], clip: ClipFrames) -> Frames:
    """Frames in the segment files of each stream, given as (file, start time in seconds) in
    order, and frames missing inside files and between consecutive ones."""
    recorded = lost = gaps = unknown = 0
    seconds = 0.0
    for segments in streams:
        first: float | None = None
        end: float | None = None
        last_frame = -1
        for path, start in segments:
            found = scan(path, clip)
            if found is None:
                continue
            if end is not None:
                gaps += max(0, round((start - end) * FPS))
            if last_frame >= 0 and found.first_frame >= 0:
                lost += clip.skipped(last_frame, found.first_frame)
            first = start if first is None else first
            end = start + (found.end_dts - found.first_dts) * found.tick_s
            last_frame = found.last_frame if found.last_frame >= 0 else last_frame
            recorded += found.packets
            lost += found.lost
            gaps += found.gaps
            unknown += found.unknown
        if first is not None and end is not None:
            seconds += end - first
    return Frames(recorded, lost, gaps, unknown, seconds / max(1, len(streams)))


def ffmpeg_segments(out: Path) -> list[tuple[Path, float]]:
    """ffmpeg's segment files, each starting at dts 0, with their start from its list."""
    starts = {}
    for line in (out / SEGMENT_LIST).read_text().splitlines():
        name, start, _end = line.split(",")
        starts[name] = float(start)
    files = sorted(out.glob("*.mp4"))
    unlisted = [f.name for f in files if f.name not in starts and f.stat().st_size]
    if unlisted:
        raise RuntimeError(f"ffmpeg did not list {unlisted} in {out / SEGMENT_LIST}")
    return [(f, starts[f.name]) for f in files if f.name in starts]


def cityhub_segments(folder: Path) -> list[tuple[Path, float]]:
    """cityhub's segment files, each starting at dts 0, with their start from their name
    (``YYYYMMDDTHHMMSS.mmmZ.mp4``, UTC, the index's ``start_ms``)."""
    segments = []
    for path in sorted(folder.rglob("*.mp4")):
        moment = datetime.strptime(path.name, "%Y%m%dT%H%M%S.%fZ.mp4").replace(tzinfo=UTC)
        segments.append((path, moment.timestamp()))
    return segments


# --- the run ----------------------------------------------------------------------------


def per_stream_minute(usage: Usage, count: int) -> float:
    """CPU seconds per stream per minute of recording."""
    return usage.cpu_s / (count * usage.window_s / 60)


def report(count: int, hub: SideResult, ffmpeg: SideResult, baseline_rss: int) -> str:
    """One markdown table row, and the details under it."""
    hub_cpu, ff_cpu = per_stream_minute(hub.usage, count), per_stream_minute(ffmpeg.usage, count)
    rss_camera = (hub.usage.rss_bytes - baseline_rss) / count / 1e6
    rss_ffmpeg = ffmpeg.usage.rss_bytes / count / 1e6
    sides = (hub, ffmpeg)

    server = " / ".join(f"{100 * s.usage.server_cpu_s / s.usage.window_s:.0f}" for s in sides)
    busy = " / ".join(f"{100 * s.usage.machine_busy:.0f}" for s in sides)
    cells = [
        str(count),
        f"{hub_cpu:.2f}",
        f"{ff_cpu:.2f}",
        f"{hub_cpu / ff_cpu:.2f}" if ff_cpu else "-",
        f"{rss_camera:.1f}",
        f"{rss_ffmpeg:.1f}",
        f"{hub.frames.lost} / {ffmpeg.frames.lost}",
        f"{hub.frames.recorded} / {ffmpeg.frames.recorded}",
        server,
        busy,
    ]
    notes = [f"  cityhub {hub.counters}"]
    for name, side in (("cityhub", hub), ("ffmpeg", ffmpeg)):
        frames = side.frames
        notes.append(
            f"  {name}: {frames.seconds:.1f} s of video per stream in its files; frames lost "
            f"by the timestamps {frames.gaps}; packets that are no frame of the clip "
            f"{frames.unknown}"
        )
        if side.usage.machine_busy * 100 > SATURATED_PERCENT:
            notes.append(f"  {name}: the machine was {side.usage.machine_busy:.0%} busy: saturated")
    return "| " + " | ".join(cells) + " |\n" + "\n".join(notes)


HEADER = (
    "| streams | cityhub CPU-s / stream-min | ffmpeg CPU-s / stream-min | ratio "
    "| cityhub RSS MB / camera | ffmpeg RSS MB / process | frames lost cityhub / ffmpeg "
    "| frames recorded cityhub / ffmpeg | RTSP server CPU % cityhub / ffmpeg run "
    "| machine busy % cityhub / ffmpeg run |\n"
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def machine() -> str:
    """The CPU model and core count, as lscpu names them."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    return f"{os.cpu_count()} x {model}"


def streams_arg(text: str) -> list[int]:
    """``1,8,32`` as a list of positive integers."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,8,32") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("stream counts must be 1 or more")
    return counts


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so clean-up runs either way."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> int:
    """Run every K, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=streams_arg, default=[1, 8, 32, 64], metavar="K,K")
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="wait after every stream records (s)"
    )
    parser.add_argument("--codec", choices=CODECS, default="h264", help="the clip's codec")
    args = parser.parse_args()
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    children = Children()
    work = Path(tempfile.mkdtemp(prefix="cityhub-bench-recording-"))
    rows: list[str] = []
    try:
        with terminated_as_interrupt(), RtspTestServer(clips=PatternClips()) as server:
            url = server.add_clip(
                "bench", WIDTH, HEIGHT, FPS, CLIP_SECONDS, GOP, BITRATE, codec=args.codec
            )
            clip = server.clips.get(
                width=WIDTH, height=HEIGHT, fps=FPS, seconds=CLIP_SECONDS, gop=GOP,
                bitrate=BITRATE, title="bench", codec=args.codec,
            )  # fmt: skip
            assert server.pid is not None
            print(f"{date.today()}, {machine()}")
            scene = ""
            if args.codec == "h264":
                scene_clip = ClipCache().get(
                    width=WIDTH, height=HEIGHT, fps=FPS, seconds=CLIP_SECONDS, gop=GOP,
                    bitrate=BITRATE, title="bench",
                )  # fmt: skip
                scene = (
                    "; the virtual camera's scene at the same settings: "
                    f"{probe_bitrate(scene_clip, FPS) / 1e6:.2f} Mbit/s"
                )
            print(
                f"clip: {args.codec}, {WIDTH}x{HEIGHT} {FPS} fps, GOP {GOP}, "
                f"{CLIP_SECONDS:g} s loop, {probe_bitrate(clip, FPS, args.codec) / 1e6:.2f} "
                f"Mbit/s by ffprobe (testsrc2 + noise{scene})"
            )
            print(f"window {args.seconds:g} s after {args.settle:g} s settling, {SEGMENT_S} s "
                  "segments, cityhub and ffmpeg one after the other", flush=True)  # fmt: skip
            baseline = hub_baseline_rss(children, work / "baseline", args.settle)
            print(f"hub with no camera: RSS {baseline / 1e6:.1f} MB", flush=True)
            print(HEADER, flush=True)
            frames = ClipFrames(clip, args.codec)
            bench = Bench(children, url, server.pid, frames, args.seconds, args.settle)
            for count in args.streams:
                hub = run_hub(bench, work / f"hub-{count}", count)
                shutil.rmtree(work / f"hub-{count}", ignore_errors=True)
                ffmpeg = run_ffmpeg(bench, work / f"ffmpeg-{count}", count)
                shutil.rmtree(work / f"ffmpeg-{count}", ignore_errors=True)
                rows.append(report(count, hub, ffmpeg, baseline))
                print(rows[-1], flush=True)
    except KeyboardInterrupt:
        print("interrupted: stopping every process", file=sys.stderr)
        return 130
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{HEADER}")
    print("\n".join(row.splitlines()[0] for row in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
