"""A real RTSP server for tests: GStreamer's, looping clips made by the virtual camera's encoder.

The server itself (:mod:`cityhub.testing.rtsp_server`) runs in the system's Python, which has
GStreamer's bindings (``gi``); this module drives it from the test process over its standard
input. It listens on 127.0.0.1 only.

    with RtspTestServer() as server:
        url = server.add_clip("cam1", width=640, height=360, fps=25)
        server.outage("cam1", 3.0)

A mount can also be *live*: :meth:`RtspTestServer.add_live` serves whatever Annex-B H.264 a
:class:`LiveFeed` (a TCP listener on 127.0.0.1) is given, e.g. an encoder drawing frames as
they happen; the server's pipeline connects to the feed while someone watches.

Or from a shell, serving until Ctrl-C and printing the URLs::

    python -m cityhub.testing.rtsp --port 8554 --clip cam1=640x360@25 \
        --clip cam2=1920x1080@25:4000000
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

import attrs

__all__ = [
    "AUDIO_CODECS",
    "VIDEO_CODECS",
    "ClipCache",
    "GStreamerMissingError",
    "LiveFeed",
    "PathStatus",
    "RtspServerError",
    "RtspTestServer",
]

HOST = "127.0.0.1"
SYSTEM_PYTHON = "/usr/bin/python3"
"""The Python that can import GStreamer's bindings (Debian's python3-gi); the environment
variable ``CITYHUB_GST_PYTHON`` names another."""
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
DEBIAN_PACKAGES = (
    "gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
EXIT_MISSING = 3
"""The server's exit status when GStreamer or one of its plugins is missing."""
START_TIMEOUT = 15.0
"""Seconds to wait for the server to listen (it takes about 0.2 s)."""
COMMAND_TIMEOUT = 5.0
"""Seconds to wait for the server to acknowledge a command."""
STOP_TIMEOUT = 5.0
"""Seconds given to the server to quit before it is killed."""
CLIP_FORMAT = 1
"""Bump when the clip files' contents change for the same parameters."""
DEFAULT_CLIP_SECONDS = 2.0
AUDIO_CODECS = ("aac", "pcmu", "pcma", "opus")
VIDEO_CODECS = ("h264", "h265")
"""Audio tracks a mount can serve (a 440 Hz tone): AAC 16 kHz, G.711 u-law and A-law 8 kHz,
Opus 48 kHz, all mono."""
_CLIP_ARG = re.compile(r"^(?P<name>[\w.-]+)=(?P<w>\d+)x(?P<h>\d+)@(?P<fps>\d+)(?::(?P<br>\d+))?$")


class GStreamerMissingError(RuntimeError):
    """GStreamer's RTSP server, its Python bindings or one of its plugins is not installed."""


class RtspServerError(RuntimeError):
    """The server did not start, refused a command or died."""


@attrs.frozen
class PathStatus:
    """What the server reports of one mount path."""

    mounted: bool
    pipelines: int
    """Pipelines running now: one however many clients, as the pipeline is shared."""
    created: int
    """Pipelines created since the path was added."""
    clients: int


@attrs.frozen
class _Mount:
    path: str
    clip: Path | None
    fps: float
    user: str | None
    password: str | None
    audio: str | None = None
    feed: int | None = None
    """The TCP port of a live mount's feed (``clip`` is then ``None``)."""
    codec: str = "h264"

    def spec(self) -> dict[str, Any]:
        users = [[self.user, self.password]] if self.user is not None else []
        spec: dict[str, Any] = {"path": self.path, "fps": self.fps, "users": users}
        if self.codec != "h264":
            spec["codec"] = self.codec
        if self.feed is not None:
            spec["feed"] = self.feed
        else:
            spec["clip"] = str(self.clip)
        return spec if self.audio is None else {**spec, "audio": self.audio}


class LiveFeed:
    """A TCP listener on 127.0.0.1 handing Annex-B H.264 to every reader that connects.

    The readers are the RTSP server's live pipelines (one per mount, shared by its clients).
    :meth:`write` never blocks: each reader has a small queue; a reader that falls behind
    loses frames up to the next keyframe. A new reader starts at a keyframe, and
    :attr:`keyframe_wanted` tells the encoder to make one soon.
    """

    QUEUE_FRAMES = 50

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(8)
        self.port: int = self._listener.getsockname()[1]
        self.keyframe_wanted = threading.Event()
        self.connections = 0
        """Readers that connected so far."""
        self._readers: list[_FeedReader] = []
        self._lock = threading.Lock()
        self._closed = False
        self._wake = threading.Condition(self._lock)
        threading.Thread(target=self._accept, name=f"live-feed-{self.port}", daemon=True).start()

    @property
    def readers(self) -> int:
        """Readers connected now."""
        with self._lock:
            return len(self._readers)

    def wait_for_reader(self, timeout: float) -> bool:
        """Block until a reader is connected (or ``timeout`` seconds); whether one is."""
        with self._wake:
            return self._wake.wait_for(lambda: bool(self._readers) or self._closed, timeout) and (
                bool(self._readers)
            )

    def write(self, data: bytes, keyframe: bool) -> None:
        """Queue one access unit for every reader (dropped for a reader that waits for a
        keyframe or whose queue is full)."""
        with self._lock:
            readers = list(self._readers)
        for reader in readers:
            reader.offer(data, keyframe, self.keyframe_wanted)

    def close(self) -> None:
        """Stop listening and drop every reader."""
        with self._wake:
            self._closed = True
            readers, self._readers = self._readers, []
            self._wake.notify_all()
        with contextlib.suppress(OSError):
            self._listener.close()
        for reader in readers:
            reader.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _address = self._listener.accept()
            except OSError:
                return
            reader = _FeedReader(connection, self.QUEUE_FRAMES, self._forget)
            with self._wake:
                if self._closed:
                    reader.close()
                    return
                self._readers.append(reader)
                self.connections += 1
                self._wake.notify_all()
            self.keyframe_wanted.set()

    def _forget(self, reader: _FeedReader) -> None:
        with self._lock:
            if reader in self._readers:
                self._readers.remove(reader)


class _FeedReader:
    """One connected reader of a :class:`LiveFeed` and the thread that sends to it."""

    def __init__(self, connection: socket.socket, size: int, gone: Any) -> None:
        self.connection = connection
        self.queue: queue.Queue[bytes | None] = queue.Queue(size)
        self.needs_keyframe = True
        self._gone = gone
        threading.Thread(target=self._send, name="live-feed-reader", daemon=True).start()

    def offer(self, data: bytes, keyframe: bool, keyframe_wanted: threading.Event) -> None:
        if self.needs_keyframe and not keyframe:
            keyframe_wanted.set()
            return
        try:
            self.queue.put_nowait(data)
            self.needs_keyframe = False
        except queue.Full:
            self.needs_keyframe = True

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(None)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self) -> None:
        try:
            while (data := self.queue.get()) is not None:
                self.connection.sendall(data)
        except OSError:
            pass
        finally:
            self._gone(self)
            with contextlib.suppress(OSError):
                self.connection.close()


class ClipCache:
    """Raw Annex-B loop clips, encoded once per set of parameters in ``folder``.

    H.264 clips show the virtual camera's street scene (with ``title``); H.265 clips, which
    its encoder does not make, FFmpeg's ``testsrc2`` pattern encoded with libx265. Both have
    no B-frames and their parameter sets on every keyframe, as a camera sends them.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_cache_folder()
        self.encodes = 0
        self._lock = threading.Lock()

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
        import av

        if codec not in VIDEO_CODECS:
            raise ValueError(f"codec must be one of {', '.join(VIDEO_CODECS)}")
        frames = max(1, round(seconds * fps))
        material: dict[str, Any] = {
            "format": CLIP_FORMAT,
            "av": av.__version__,
            "size": [width, height],
            "fps": fps,
            "frames": frames,
            "gop": gop,
            "bitrate": bitrate,
            "title": title,
        }
        if codec != "h264":
            material["codec"] = codec
        key = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:20]
        path = self.folder / f"{width}x{height}-{fps}fps-{key}.{codec}"
        with self._lock:
            if not path.exists():
                if codec == "h265":
                    data = _encode_h265(width, height, fps, frames, gop, bitrate)
                else:
                    data = _encode(width, height, fps, frames, gop, bitrate, title)
                self.folder.mkdir(parents=True, exist_ok=True)
                fd, temp = tempfile.mkstemp(dir=self.folder, prefix=f".{path.name}.")
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(temp, path)
                self.encodes += 1
        return path


def default_cache_folder() -> Path:
    """Where clips are kept between runs: ``$XDG_CACHE_HOME/cityhub/rtsp-clips``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cityhub" / "rtsp-clips"


def _encode_h265(width: int, height: int, fps: int, frames: int, gop: int, bitrate: int) -> bytes:
    """A clip of FFmpeg's ``testsrc2`` pattern in H.265 (libx265), without B-frames."""
    import av

    encoder = av.CodecContext.create("libx265", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate = Fraction(1, fps), Fraction(fps)
    encoder.bit_rate = bitrate
    encoder.options = {
        "preset": "ultrafast",
        "x265-params": f"repeat-headers=1:bframes=0:keyint={gop}:min-keyint={gop}:scenecut=0"
        ":log-level=error",
    }
    data = bytearray()
    with av.open(f"testsrc2=size={width}x{height}:rate={fps}", format="lavfi") as source:
        for index, frame in enumerate(source.decode(video=0)):
            if index == frames:
                break
            picture = frame.reformat(format="yuv420p")
            picture.pts, picture.time_base = index, Fraction(1, fps)
            picture.pict_type = av.video.frame.PictureType.NONE  # lavfi marks every frame I
            for packet in encoder.encode(picture):
                data += bytes(packet)
    for packet in encoder.encode(None):
        data += bytes(packet)
    return bytes(data)


def _encode(
    width: int, height: int, fps: int, frames: int, gop: int, bitrate: int, title: str
) -> bytes:
    """A clip of the virtual camera's street scene, without B-frames, as raw Annex-B."""
    try:
        from cityhub_virtual.clip import encode_clip
        from cityhub_virtual.models import EncodingProfile
        from cityhub_virtual.scene import SceneRenderer
    except ImportError as err:
        raise RuntimeError(
            "RtspTestServer encodes its clips with the bundled cityhub-virtual plugin, which is "
            "not installed: run 'bash .ci/bootstrap' or 'pip install -e plugins/cityhub-virtual'"
        ) from err
    profile = EncodingProfile("main", width, height, fps, bitrate, gop)
    clip = encode_clip(profile, frames, SceneRenderer(width, height, title))
    return b"".join(frame.data for frame in clip.frames)


class RtspTestServer:
    """GStreamer's RTSP server on 127.0.0.1, in a child process; a context manager.

    Each mount path loops one clip in real time with ever-rising timestamps, one pipeline
    shared by all its clients. ``port=0`` takes any free port and keeps it across
    :meth:`restart`.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        clips: ClipCache | None = None,
        auth: str = "digest",
        python: str | None = None,
        host: str = HOST,
    ) -> None:
        if auth not in ("basic", "digest"):
            raise ValueError(f"auth must be 'basic' or 'digest', not {auth!r}")
        self.port = port
        self.host = host
        """The address the server listens on (loopback unless told: tests stay local)."""
        self.clips = clips or ClipCache()
        self.auth = auth
        self.python = python or os.environ.get("CITYHUB_GST_PYTHON") or SYSTEM_PYTHON
        self._mounts: dict[str, _Mount] = {}
        self._process: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._command_lock = threading.Lock()
        self.startup_seconds = 0.0
        """How long the last start took, until the server listened."""

    # Life cycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server process id, while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the server and serve every clip added so far; blocks until it listens."""
        if self.running:
            return
        if not Path(self.python).exists():
            raise GStreamerMissingError(self._missing_message(f"{self.python} not found"))
        started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        command = [self.python, "-u", str(SERVER_SCRIPT), "--port", str(self.port)]
        command += ["--host", self.host]
        self._replies = queue.Queue()
        self._stderr.clear()
        process = subprocess.Popen(
            [*command, "--auth", self.auth],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        self._process = process
        assert process.stdout is not None
        assert process.stderr is not None
        self._pump(process.stdout, self._replies.put, "stdout")
        self._pump(process.stderr, self._stderr.append, "stderr")
        line = self._next_line(START_TIMEOUT)
        if line is None or not line.startswith("READY "):
            self._reap()
            if process.returncode == EXIT_MISSING:
                raise GStreamerMissingError(self._missing_message(self._log()))
            raise RtspServerError(f"the RTSP server did not start: {line or self._log()}")
        self.port = int(line.split()[1])
        self.startup_seconds = time.monotonic() - started
        for mount in self._mounts.values():
            self._command(f"add {json.dumps(mount.spec())}")

    def stop(self) -> None:
        """Quit the server (killing it if it does not quit within seconds)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(OSError, RtspServerError):
                self._command("quit")
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
        self._reap()

    def kill(self) -> None:
        """SIGKILL the server, as a power cut would: clients see their connections drop."""
        if self._process is not None:
            self._process.kill()
            self._reap()

    def restart(self) -> None:
        """Start the server again on the same port, serving the same clips."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def async_start(self) -> None:
        """:meth:`start` without blocking the event loop."""
        await asyncio.to_thread(self.start)

    async def async_stop(self) -> None:
        """:meth:`stop` without blocking the event loop."""
        await asyncio.to_thread(self.stop)

    async def __aenter__(self) -> Self:
        await self.async_start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.async_stop()

    # Mounts ---------------------------------------------------------------------------

    def add_clip(
        self,
        path: str,
        width: int = 640,
        height: int = 360,
        fps: int = 25,
        seconds: float = DEFAULT_CLIP_SECONDS,
        gop: int | None = None,
        bitrate: int = 1_000_000,
        *,
        user: str | None = None,
        password: str | None = None,
        audio: str | None = None,
        codec: str = "h264",
    ) -> str:
        """Serve a looping clip at ``path`` (encoded once, cached); returns its URL.

        ``gop`` defaults to ``fps`` (a keyframe a second). With ``user`` and ``password`` the
        path asks for them (digest or basic authentication, as chosen for the server).
        ``audio`` (one of ``AUDIO_CODECS``) adds a live 440 Hz tone as a second track.
        ``codec`` ``h265`` serves H.265 (see :class:`ClipCache` for what its clips show).
        """
        if codec not in VIDEO_CODECS:
            raise ValueError(f"codec must be one of {', '.join(VIDEO_CODECS)}")
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        if audio is not None and audio not in AUDIO_CODECS:
            raise ValueError(f"audio must be one of {', '.join(AUDIO_CODECS)} or None")
        mount_path = _mount_path(path)
        if mount_path in self._mounts:
            raise ValueError(f"{mount_path} is already served")
        clip = self.clips.get(
            width=width,
            height=height,
            fps=fps,
            seconds=seconds,
            gop=gop or fps,
            bitrate=bitrate,
            title=mount_path.lstrip("/"),
            codec=codec,
        )
        mount = _Mount(mount_path, clip, fps, user, password, audio, codec=codec)
        if self.running:
            self._command(f"add {json.dumps(mount.spec())}")
        self._mounts[mount_path] = mount
        return self.url(path, user, password)

    def add_live(
        self,
        path: str,
        feed: LiveFeed | int,
        fps: float = 25,
        user: str | None = None,
        password: str | None = None,
    ) -> str:
        """Serve at ``path`` the live Annex-B H.264 of ``feed`` (a :class:`LiveFeed` or its
        port); returns the URL.

        While someone watches, the path's one pipeline (shared by its clients) reads the feed
        and stamps frame n at n / ``fps``; the H.264 must have no B-frames. ``user`` and
        ``password`` protect the path as in :meth:`add_clip`.
        """
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        if not 0 < fps <= 120:
            raise ValueError(f"fps must be in 0..120, not {fps}")
        mount_path = _mount_path(path)
        if mount_path in self._mounts:
            raise ValueError(f"{mount_path} is already served")
        port = feed.port if isinstance(feed, LiveFeed) else int(feed)
        mount = _Mount(mount_path, None, fps, user, password, feed=port)
        if self.running:
            self._command(f"add {json.dumps(mount.spec())}")
        self._mounts[mount_path] = mount
        return self.url(path, user, password)

    def url(self, path: str, user: str | None = None, password: str | None = None) -> str:
        """The ``rtsp://`` URL of ``path``, with credentials when given."""
        credentials = ""
        if user is not None:
            credentials = quote(user, safe="")
            if password is not None:
                credentials += ":" + quote(password, safe="")
            credentials += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{credentials}{host}:{self.port}{_mount_path(path)}"

    def stop_path(self, path: str) -> None:
        """Unmount ``path`` and drop its clients, as a camera going dark (404 until started)."""
        self._command(f"stop {_mount_path(path)}")

    def start_path(self, path: str) -> None:
        """Mount ``path`` again after :meth:`stop_path`."""
        self._command(f"start {_mount_path(path)}")

    def outage(self, path: str, seconds: float) -> None:
        """Stop ``path`` now and start it again ``seconds`` later (returns at once)."""
        self._command(f"outage {_mount_path(path)} {seconds}")

    def status(self) -> dict[str, PathStatus]:
        """What the server reports per mount path (pipelines, clients)."""
        reply = self._command("status")
        data = json.loads(reply.removeprefix("OK status "))
        return {path: PathStatus(**values) for path, values in data.items()}

    # Plumbing -------------------------------------------------------------------------

    def _command(self, line: str) -> str:
        """Send one command and return the server's ``OK`` reply."""
        with self._command_lock:
            process = self._process
            if process is None or process.poll() is not None or process.stdin is None:
                raise RtspServerError(f"the RTSP server is not running: {self._log()}")
            try:
                process.stdin.write(line + "\n")
                process.stdin.flush()
            except OSError as err:
                raise RtspServerError(f"the RTSP server is gone: {err}") from err
            name = line.split(" ", 1)[0]
            deadline = time.monotonic() + COMMAND_TIMEOUT
            while True:
                reply = self._next_line(deadline - time.monotonic())
                if reply is None:
                    raise RtspServerError(f"no reply to {name!r}: {self._log()}")
                if reply.startswith(f"OK {name}"):
                    return reply
                if reply.startswith("ERROR "):
                    raise RtspServerError(f"the RTSP server refused {name!r}: {reply[6:]}")

    def _next_line(self, timeout: float) -> str | None:
        """The next line on the server's standard output, or ``None`` at its end or timeout."""
        try:
            return self._replies.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    @staticmethod
    def _pump(stream: IO[str], sink: Any, name: str) -> None:
        """Copy ``stream``'s lines to ``sink`` in a thread, then ``None`` for stdout's end."""

        def run() -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in stream:
                    sink(line.rstrip("\n"))
            if name == "stdout":
                sink(None)

        threading.Thread(target=run, name=f"rtsp-server-{name}", daemon=True).start()

    def _reap(self) -> None:
        """Wait for the dead process and close its pipes."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _log(self) -> str:
        return " | ".join(self._stderr) or "(no message)"

    def _missing_message(self, detail: str) -> str:
        return (
            f"GStreamer's RTSP server is not available ({detail}). Run 'bash .ci/bootstrap', "
            f"or install the Debian packages {DEBIAN_PACKAGES}"
        )


def _mount_path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


def main(argv: list[str] | None = None) -> int:
    """Serve clips until Ctrl-C, printing their URLs."""
    parser = argparse.ArgumentParser(
        prog="python -m cityhub.testing.rtsp",
        description="Serve looping H.264 or H.265 clips over RTSP on 127.0.0.1 (demos, tests).",
    )
    parser.add_argument("--port", type=int, default=8554, help="TCP port (0: any free port)")
    parser.add_argument(
        "--clip",
        action="append",
        default=[],
        metavar="NAME=WxH@FPS[:BITRATE]",
        help="a mount path and its clip, e.g. cam1=1920x1080@25:4000000 (repeatable)",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (it loops)")
    parser.add_argument("--credentials", metavar="USER:PASSWORD", help="asked on every path")
    parser.add_argument("--auth", choices=("basic", "digest"), default="digest")
    parser.add_argument("--audio", choices=AUDIO_CODECS, help="a tone on every path")
    parser.add_argument("--codec", choices=VIDEO_CODECS, default="h264", help="every path's video")
    parser.add_argument("--cache", type=Path, help="clip folder (default: ~/.cache/cityhub)")
    args = parser.parse_args(argv)
    user = password = None
    if args.credentials:
        user, _, password = args.credentials.partition(":")
    clips = args.clip or ["cam1=640x360@25"]
    server = RtspTestServer(args.port, clips=ClipCache(args.cache), auth=args.auth)
    with server:
        for text in clips:
            match = _CLIP_ARG.match(text)
            if match is None:
                parser.error(f"--clip {text!r} is not NAME=WxH@FPS[:BITRATE]")
            bitrate = int(match["br"]) if match["br"] else 1_000_000
            url = server.add_clip(
                match["name"],
                int(match["w"]),
                int(match["h"]),
                int(match["fps"]),
                args.seconds,
                bitrate=bitrate,
                user=user,
                password=password,
                audio=args.audio,
                codec=args.codec,
            )
            print(url, flush=True)
        print("Serving; Ctrl-C to stop.", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while server.running:
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
