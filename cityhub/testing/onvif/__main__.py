"""Run the ONVIF simulator from a shell until Ctrl-C, for demos and manual tests.

    python -m cityhub.testing.onvif --port 8080
    python -m cityhub.testing.onvif --port 8080 --no-video --clock-offset 120

It prints the device service address, the RTSP and snapshot URLs, then reads commands on
its standard input: ``motion on|off``, ``tamper on|off``, ``input on|off``, ``position``,
``restart``, ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
import threading

from cityhub.testing.onvif.announce import Announcement
from cityhub.testing.onvif.simulator import OnvifSimulator

_SIZE = re.compile(r"^(\d+)x(\d+)$")
HELP = "commands: motion on|off, tamper on|off, input on|off, position, restart, quit"


def _size(text: str) -> tuple[int, int]:
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 640x360)")
    return int(match[1]), int(match[2])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="python -m cityhub.testing.onvif",
        description="An ONVIF camera simulator (Device, Media, Media2, PTZ, Events, RTSP) "
        "on 127.0.0.1.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (0: any free port)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="onvif-secret")
    parser.add_argument("--manufacturer", default="Cityhub")
    parser.add_argument("--model", default="SimCam PTZ")
    parser.add_argument("--no-ptz", action="store_true", help="a fixed camera")
    parser.add_argument("--no-video", action="store_true", help="no RTSP video (no encoding)")
    parser.add_argument("--main", type=_size, default=(640, 360), help="main stream size")
    parser.add_argument("--sub", type=_size, default=(320, 180), help="sub stream size")
    parser.add_argument("--fps", type=float, default=12.5)
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, help="seconds the device clock runs ahead"
    )
    parser.add_argument(
        "--announce",
        action="store_true",
        help="answer WS-Discovery probes and publish the RTSP stream with zeroconf on --host "
        "(multicast on that interface: use an address of a test network namespace)",
    )
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    sim = OnvifSimulator(
        args.user,
        args.password,
        args.host,
        args.port,
        video=not args.no_video,
        manufacturer=args.manufacturer,
        model=args.model,
        ptz=not args.no_ptz,
        main_size=args.main,
        sub_size=args.sub,
        fps=args.fps,
        clock_offset_s=args.clock_offset,
    )
    await sim.start()
    announcement = Announcement(sim) if args.announce else None
    if announcement is not None:
        await announcement.start()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, done.set)
    print(f"device service: {sim.device_url}", flush=True)
    for token in sim.profile_tokens:
        video = "" if sim.video else " (not served: --no-video)"
        print(f"{token}: {sim.rtsp_url(token)}{video}  snapshot: {sim.snapshot_url(token)}")
    print(f"user {args.user!r}; {HELP}; Ctrl-C to stop", flush=True)

    async def command(line: str) -> None:
        words = line.split()
        if not words:
            return
        name, value = words[0], (words[1] if len(words) > 1 else "on") == "on"
        if name == "motion":
            sim.fire_motion(value)
        elif name == "tamper":
            sim.fire_tampering(value)
        elif name == "input":
            sim.fire_input(value)
        elif name == "position":
            print(sim.position, flush=True)
        elif name == "restart":
            await sim.restart(1.0)
            print("restarted", flush=True)
        elif name == "quit":
            done.set()
        else:
            print(HELP, flush=True)

    def read_stdin() -> None:
        for line in sys.stdin:
            asyncio.run_coroutine_threadsafe(command(line), loop)

    threading.Thread(target=read_stdin, name="onvif-sim-stdin", daemon=True).start()
    print("ready", flush=True)
    try:
        await done.wait()
    finally:
        if announcement is not None:
            await announcement.stop()
        await sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C."""
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
