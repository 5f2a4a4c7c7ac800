"""``cityhub discover``: find cameras on the network and print the YAML to adopt them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from cityhub.config import ConfigError, load_config
from cityhub.discovery.report import render_snippet, render_table
from cityhub.discovery.scanner import MAX_SCAN_TIMEOUT_S, Discovery, DiscoveryError
from cityhub.discovery.wsd import DEFAULT_PROBE_TIMEOUT_S
from cityhub.model import HubConfig
from cityhub.plugins import Plugins

__all__ = ["add_discover_command"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.5 <= value <= MAX_SCAN_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{value:g} s is out of range (0.5 to {MAX_SCAN_TIMEOUT_S:g} seconds)"
        )
    return value


def cmd_discover(args: argparse.Namespace) -> int:
    """Scan, print the devices found and the ``cameras:`` YAML for those not yet adopted."""
    plugins = Plugins.load()
    config: HubConfig | None = None
    if args.config is not None:
        config_dir: Path = args.config
        try:
            config = load_config(
                config_dir,
                camera_drivers=plugins.camera_drivers,
                storage_backends=plugins.storage_backends,
                notifiers=plugins.notifiers,
            )
        except ConfigError as err:
            for issue in err.issues:
                print(issue.format(config_dir), file=sys.stderr)
            print(
                f"discover: fix the configuration in {config_dir} first (or leave out -c)",
                file=sys.stderr,
            )
            return EXIT_CONFIG
    discovery = Discovery.from_plugins(
        plugins,
        config.cameras if config else (),
        interfaces=args.interface,
        targets=args.probe,
    )
    try:
        devices = asyncio.run(discovery.async_scan(args.timeout))
    except (DiscoveryError, ValueError, OSError) as err:
        print(f"discover: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(discovery.as_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(render_table(devices))
    print()
    snippet, _secrets = render_snippet(devices, plugins.camera_drivers, config)
    print(snippet, end="")
    return EXIT_OK


def add_discover_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``discover`` sub-command to the ``cityhub`` parser."""
    parser = sub.add_parser(
        "discover",
        help="find cameras on the network",
        description="Look for cameras with ONVIF WS-Discovery and zeroconf (mDNS), print them "
        "with the driver that can drive each, then the YAML to paste under cameras: for those "
        "the configuration does not have yet.",
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        metavar="DIR",
        help="configuration folder: marks the devices its cameras already use, and picks "
        "camera ids and a zone that fit it",
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_PROBE_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for answers (default {DEFAULT_PROBE_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "-i",
        "--interface",
        action="append",
        metavar="ADDR",
        help="IPv4 address of the interface to search on (repeat for several; "
        "default: every interface but loopback)",
    )
    parser.add_argument(
        "--probe",
        action="append",
        default=[],
        metavar="HOST",
        help="also send a WS-Discovery probe straight to HOST (a camera beyond a router, "
        "which multicast does not reach); repeat for several",
    )
    parser.add_argument("--json", action="store_true", help="print the devices as JSON only")
    parser.set_defaults(func=cmd_discover)
