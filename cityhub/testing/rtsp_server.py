"""A real RTSP server for tests: GStreamer's RTSP server looping pre-encoded H.264/H.265 clips.

Run by :mod:`cityhub.testing.rtsp` with the system's ``python3``, which can import ``gi``
(the virtualenv cannot): only the standard library and ``gi`` are used here.

    /usr/bin/python3 rtsp_server.py --port 0 [--spec mounts.json]

A mount is ``{"path": "/cam1", "clip": "/x/cam1.h264", "fps": 25, "users": [["u", "p"]],
"audio": "aac", "codec": "h264"}``: a raw Annex-B H.264 file without B-frames (H.265 with
``"codec": "h265"``), looped forever with timestamps that keep rising and paced in real time,
one pipeline shared by all clients of the path.
``users`` is optional; with it the path asks for RTSP basic or digest authentication.
A live mount has ``"feed": PORT`` instead of ``"clip"``: its pipeline reads Annex-B H.264
(no B-frames) from a TCP listener on 127.0.0.1:PORT while someone watches, frame n stamped
n / fps.
``audio`` is optional too: a 440 Hz tone as a second track, ``aac`` (16 kHz mono),
``pcmu`` or ``pcma`` (G.711, 8 kHz mono) or ``opus`` (48 kHz mono).

Commands, one per line on standard input; each gets one reply line, ``OK <command> ...`` or
``ERROR <command> <why>``:

- ``add <mount JSON>``: serve a new mount.
- ``stop PATH``: unmount PATH and drop its clients, like a camera that went dark.
- ``start PATH``: mount PATH again.
- ``outage PATH SECONDS``: stop PATH now and start it again after SECONDS
  (``EVENT start PATH`` is printed then).
- ``status``: ``OK status <JSON>``: per path, whether it is mounted, the pipelines running
  and created so far, and the clients connected.
- ``quit``: stop serving and exit (so does the end of standard input).

``READY <port>`` is printed once the server listens on 127.0.0.1. Exit status 3 means
GStreamer or one of its plugins is missing; the reason is printed on standard error.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

EXIT_MISSING = 3
HOST = "127.0.0.1"
DEBIAN_PACKAGES = (
    "gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi "
    "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
ELEMENTS = {
    "multifilesrc": "gstreamer1.0-plugins-good",
    "h264parse": "gstreamer1.0-plugins-bad",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "identity": "libgstreamer1.0-0",
}
AUDIO_TONE = "audiotestsrc is-live=true freq=440 volume=0.3 ! audioconvert ! audioresample"
AUDIO_BRANCHES = {
    "aac": "audio/x-raw,rate=16000,channels=1 ! voaacenc bitrate=32000 ! aacparse"
    " ! rtpmp4gpay name=pay1 pt=97",
    "pcmu": "audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0",
    "pcma": "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8",
    "opus": "audio/x-raw,rate=48000,channels=1 ! opusenc ! rtpopuspay name=pay1 pt=98",
}
"""The audio track of a mount, after ``AUDIO_TONE``, by the name its spec gives."""
AUDIO_ELEMENTS = {
    "audiotestsrc": "gstreamer1.0-plugins-base",
    "voaacenc": "gstreamer1.0-plugins-bad",
    "aacparse": "gstreamer1.0-plugins-good",
    "rtpmp4gpay": "gstreamer1.0-plugins-good",
    "mulawenc": "gstreamer1.0-plugins-good",
    "rtppcmupay": "gstreamer1.0-plugins-good",
    "alawenc": "gstreamer1.0-plugins-good",
    "rtppcmapay": "gstreamer1.0-plugins-good",
    "opusenc": "gstreamer1.0-plugins-base",
    "rtpopuspay": "gstreamer1.0-plugins-good",
}
"""Elements of the audio tracks: looked for only when a mount asks for audio."""
LIVE_ELEMENTS = {"tcpclientsrc": "gstreamer1.0-plugins-base"}
"""Elements of live mounts: looked for only when a mount has a feed."""
CODECS = ("h264", "h265")
"""The video codecs of clip mounts: a spec's ``codec`` (``h264`` when it names none)."""
H265_ELEMENTS = {"h265parse": "gstreamer1.0-plugins-bad", "rtph265pay": "gstreamer1.0-plugins-good"}
"""Elements of H.265 mounts: looked for only when a mount serves H.265."""

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
except (ImportError, ValueError) as _err:
    print(f"GStreamer's RTSP server cannot be loaded: {_err}", file=sys.stderr)
    print(f"Debian packages: {DEBIAN_PACKAGES}", file=sys.stderr)
    sys.exit(EXIT_MISSING)


AUTH_METHODS = {"basic": GstRtsp.RTSPAuthMethod.BASIC, "digest": GstRtsp.RTSPAuthMethod.DIGEST}


def say(line: str) -> None:
    """Print one protocol line for the parent."""
    print(line, flush=True)


class Mount:
    """One mount path: its factory (shared, looping the clip) and its counters."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.path = str(spec["path"])
        if not self.path.startswith("/"):
            raise ValueError(f"mount path {self.path!r} must start with '/'")
        self.feed = int(spec["feed"]) if spec.get("feed") is not None else None
        self.clip = str(spec["clip"]) if self.feed is None else ""
        self.fps = float(spec.get("fps", 25))
        codec = str(spec.get("codec", "h264"))
        if codec not in CODECS or (self.feed is not None and codec != "h264"):
            raise ValueError(f"codec must be one of {', '.join(CODECS)} (h264 for feeds)")
        if codec == "h265" and (missing := missing_elements(H265_ELEMENTS)):
            raise ValueError(f"missing GStreamer elements: {', '.join(missing)}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, not {self.fps}")
        self.users = [(str(u), str(p)) for u, p in spec.get("users") or []]
        audio = spec.get("audio")
        if audio is not None and audio not in AUDIO_BRANCHES:
            raise ValueError(f"audio must be one of {', '.join(AUDIO_BRANCHES)}, not {audio!r}")
        if audio is not None and (missing := missing_elements(AUDIO_ELEMENTS)):
            raise ValueError(f"missing GStreamer elements: {', '.join(missing)}")
        self.mounted = False
        self.created = 0
        self.running: set[Any] = set()
        self.factory: Any = GstRtspServer.RTSPMediaFactory()
        if self.feed is not None:
            if missing := missing_elements(LIVE_ELEMENTS):
                raise ValueError(f"missing GStreamer elements: {', '.join(missing)}")
            # The feed is paced by its writer: no clock sync, frames leave as they arrive.
            launch = (
                f"tcpclientsrc name=src host={HOST} port={self.feed}"
                " ! h264parse name=parse ! video/x-h264,alignment=au"
                " ! rtph264pay name=pay0 pt=96 config-interval=1"
            )
        else:
            launch = (
                f"multifilesrc name=src loop=true caps=video/x-{codec},stream-format=byte-stream"
                f" ! {codec}parse name=parse ! video/x-{codec},alignment=au ! identity sync=true"
                f" ! rtp{codec}pay name=pay0 pt=96 config-interval=1"
            )
        if audio is not None:
            launch += f" {AUDIO_TONE} ! {AUDIO_BRANCHES[audio]}"
        self.factory.set_launch(f"( {launch} )")
        self.factory.set_shared(True)
        self.factory.connect("media-configure", self._on_media_configure)

    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        """Point the new pipeline at the clip and stamp its frames."""
        bin_ = media.get_element()
        if self.feed is None:
            bin_.get_by_name("src").set_property("location", self.clip)
        frame = round(Gst.SECOND / self.fps)
        count = [0]

        def stamp(_pad: Any, info: Any) -> Any:
            # Raw Annex-B has no timestamps: frame n is due at n / fps, loop after loop.
            buffer = info.get_buffer()
            buffer.pts = buffer.dts = round(count[0] * Gst.SECOND / self.fps)
            buffer.duration = frame
            count[0] += 1
            return Gst.PadProbeReturn.OK

        bin_.get_by_name("parse").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, stamp)
        self.created += 1
        self.running.add(media)
        media.connect("unprepared", self._on_unprepared)

    def _on_unprepared(self, media: Any) -> None:
        self.running.discard(media)


def grant(factory: Any, role: str, *, construct: bool) -> None:
    """Let ``role`` see ``factory`` and, when ``construct``, play it."""
    allowed = str(construct).lower()
    factory.add_role_from_structure(
        Gst.Structure.new_from_string(
            f'"{role}", media.factory.access=(boolean)true,'
            f" media.factory.construct=(boolean){allowed}"
        )
    )


def plays(session: Any, path: str) -> bool:
    """Whether an RTSP session plays the mount ``path`` (exactly, not a longer path)."""
    for media in session.filter(None, None):
        found, matched = media.matches(path)
        if found and matched == len(path):
            return True
    return False


class Server:
    """The RTSP server, its mounts and the command interpreter."""

    def __init__(self, port: int, auth_method: str = "digest", host: str = HOST) -> None:
        self.auth_method = auth_method
        self.host = host
        self.loop: Any = GLib.MainLoop()
        self.server: Any = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        self.mounts: dict[str, Mount] = {}
        self.auth: Any = None
        self.passwords: dict[str, str] = {}

    def listen(self) -> int:
        """Bind the port and return it."""
        if self.server.attach(None) == 0:
            raise OSError(f"cannot listen on {self.host}:{self.server.get_service()}")
        return int(self.server.get_bound_port())

    def add(self, spec: dict[str, Any]) -> Mount:
        """Serve a new mount (with its users, if any)."""
        mount = Mount(spec)
        if mount.path in self.mounts:
            raise ValueError(f"{mount.path} is already served")
        for user, password in mount.users:
            if self.passwords.setdefault(user, password) != password:
                raise ValueError(f"user {user!r} already has another password on this server")
        self._permit(mount)
        self.mounts[mount.path] = mount
        self.start(mount.path)
        return mount

    def _permit(self, mount: Mount) -> None:
        """Give the mount's users (or anyone, without users) access to it."""
        if self.auth is None and not mount.users:
            return
        if self.auth is None:
            self._enable_auth()
        # Anyone may find a protected mount but only its users may play it: the refusal is
        # then "401 Unauthorized" with a challenge, as from a camera, rather than "404".
        grant(mount.factory, "anonymous", construct=not mount.users)
        for user, password in mount.users:
            grant(mount.factory, f"user:{user}", construct=True)
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", f"user:{user}")
            self.auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            self.auth.add_digest(user, password, token)

    def _enable_auth(self) -> None:
        """Turn authentication on; mounts without users stay open to anyone."""
        self.auth = GstRtspServer.RTSPAuth()
        # One method per server: GI hands the flags over as a single enum value.
        self.auth.set_supported_methods(AUTH_METHODS[self.auth_method])
        anonymous = GstRtspServer.RTSPToken()
        anonymous.set_string("media.factory.role", "anonymous")
        self.auth.set_default_token(anonymous)
        self.server.set_auth(self.auth)
        for mount in self.mounts.values():
            if not mount.users:
                self._permit(mount)

    def start(self, path: str) -> None:
        """Mount ``path`` again."""
        mount = self._mount(path)
        if not mount.mounted:
            self.server.get_mount_points().add_factory(path, mount.factory)
            mount.mounted = True

    def stop(self, path: str) -> None:
        """Unmount ``path`` and drop its clients and sessions."""
        mount = self._mount(path)
        if mount.mounted:
            self.server.get_mount_points().remove_factory(path)
            mount.mounted = False

        keep, remove = GstRtspServer.RTSPFilterResult.KEEP, GstRtspServer.RTSPFilterResult.REMOVE

        def session_on_path(_pool: Any, session: Any, *_data: Any) -> Any:
            return remove if plays(session, path) else keep

        def client_on_path(_server: Any, client: Any, *_data: Any) -> Any:
            sessions = client.session_filter(None, None)
            return remove if any(plays(s, path) for s in sessions) else keep

        self.server.client_filter(client_on_path, None)
        self.server.get_session_pool().filter(session_on_path, None)
        for media in list(mount.running):
            media.unprepare()

    def status(self) -> dict[str, Any]:
        """Per path: mounted, pipelines running and created, clients connected."""
        clients: dict[str, int] = dict.fromkeys(self.mounts, 0)
        for client in self.server.client_filter(None, None):
            for session in client.session_filter(None, None):
                for path in clients:
                    clients[path] += plays(session, path)
        return {
            path: {
                "mounted": mount.mounted,
                "pipelines": len(mount.running),
                "created": mount.created,
                "clients": clients[path],
            }
            for path, mount in self.mounts.items()
        }

    def _mount(self, path: str) -> Mount:
        try:
            return self.mounts[path]
        except KeyError:
            raise ValueError(f"no mount {path}") from None

    def command(self, line: str) -> bool:
        """Run one command line and reply; ``False`` for the last one (``quit``)."""
        name, _, rest = line.strip().partition(" ")
        if not name:
            return True
        try:
            if name == "quit":
                say("OK quit")
                self.loop.quit()
                return False
            if name == "add":
                say(f"OK add {self.add(json.loads(rest)).path}")
            elif name == "stop":
                self.stop(rest)
                say(f"OK stop {rest}")
            elif name == "start":
                self.start(rest)
                say(f"OK start {rest}")
            elif name == "outage":
                path, _, seconds = rest.rpartition(" ")
                self.stop(path)
                GLib.timeout_add(round(float(seconds) * 1000), self._end_outage, path)
                say(f"OK outage {path}")
            elif name == "status":
                say(f"OK status {json.dumps(self.status(), sort_keys=True)}")
            else:
                raise ValueError("unknown command")
        except (ValueError, KeyError, TypeError, OSError) as err:
            say(f"ERROR {name} {err}")
        return True

    def _end_outage(self, path: str) -> bool:
        self.start(path)
        say(f"EVENT start {path}")
        return bool(GLib.SOURCE_REMOVE)

    def read_commands(self) -> None:
        """Feed standard input's lines to the main loop; quit at its end."""
        for line in sys.stdin:
            GLib.idle_add(self._run_command, line)
        GLib.idle_add(self._run_command, "quit")

    def _run_command(self, line: str) -> bool:
        self.command(line)
        return bool(GLib.SOURCE_REMOVE)


def missing_elements(elements: dict[str, str] = ELEMENTS) -> list[str]:
    """The ``elements`` (by default those every mount needs) not found, with their packages."""
    return [
        f"{element} ({package})"
        for element, package in elements.items()
        if Gst.ElementFactory.find(element) is None
    ]


def main(argv: list[str] | None = None) -> int:
    """Serve until ``quit``, the end of standard input, SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554, help="TCP port (0: any free port)")
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--spec", help="a JSON file: a list of mounts served from the start")
    parser.add_argument(
        "--auth", choices=sorted(AUTH_METHODS), default="digest", help="for mounts with users"
    )
    args = parser.parse_args(argv)
    Gst.init(None)
    missing = missing_elements()
    if missing:
        print(f"missing GStreamer elements: {', '.join(missing)}", file=sys.stderr)
        return EXIT_MISSING
    server = Server(args.port, args.auth, args.host)
    if args.spec:
        with open(args.spec, encoding="utf-8") as spec:
            for mount in json.load(spec):
                server.add(mount)
    port = server.listen()
    for number in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, number, server.loop.quit)
    threading.Thread(target=server.read_commands, name="commands", daemon=True).start()
    say(f"READY {port}")
    server.loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
