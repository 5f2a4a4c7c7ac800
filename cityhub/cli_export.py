"""The ``cityhub export`` commands: write an evidence package, verify one, show the key.

They work on the data folder named by the configuration, whether the hub runs or not
(SQLite in WAL mode lets both write; see ``BUSY_TIMEOUT_MS``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from cityhub.api import Context
from cityhub.config import ConfigError, load_config
from cityhub.const import DATABASE_FILE
from cityhub.db import Database
from cityhub.media.export import (
    Exporter,
    ExportError,
    ExportRequest,
    verify_package,
)
from cityhub.media.holds import HoldError, Holds
from cityhub.media.playback import DEFAULT_STREAM, PlaybackError
from cityhub.media.recording_services import hold_placer
from cityhub.media.signing import SigningKey, SigningKeyError
from cityhub.model import HubConfig
from cityhub.plugins import Plugins

__all__ = ["add_export_commands"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

PROGRESS_WIDTH = 30
"""Characters in the progress bar: fits an 80-column terminal with the camera id and percent."""


class _ProgressBar:
    """A plain-text progress bar on a terminal; one line per camera when not a terminal."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._shown: tuple[str, int] | None = None

    def __call__(self, camera_id: str, done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if self._shown == (camera_id, percent):
            return
        self._shown = (camera_id, percent)
        if self.tty:
            filled = PROGRESS_WIDTH * percent // 100
            bar = "#" * filled + "-" * (PROGRESS_WIDTH - filled)
            end = "\n" if percent >= 100 else ""
            self.out.write(f"\r{camera_id} [{bar}] {percent:3d}%{end}")
            self.out.flush()
        elif percent >= 100:
            print(f"{camera_id}: 100%", file=self.out, flush=True)


def _parse_time(text: str, time_zone: ZoneInfo, option: str) -> datetime:
    """An ISO-8601 time; without an offset it is local time in the hub's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(
            f"{option} {text!r} is not an ISO-8601 time (e.g. 2026-11-22T14:30:00 or "
            f"2026-11-22T13:30:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=time_zone)


def _load(config_dir: Path) -> tuple[Plugins, HubConfig]:
    plugins = Plugins.load()
    config = load_config(
        config_dir,
        camera_drivers=plugins.camera_drivers,
        storage_backends=plugins.storage_backends,
        notifiers=plugins.notifiers,
    )
    return plugins, config


async def _export(args: argparse.Namespace, plugins: Plugins, config: HubConfig) -> int:
    time_zone = ZoneInfo(config.hub.time_zone)
    request = ExportRequest(
        cameras=tuple(args.camera),
        start=_parse_time(args.start, time_zone, "--from"),
        end=_parse_time(args.end, time_zone, "--to"),
        reference=args.reference,
        legal_basis=args.legal_basis,
        reason=args.reason,
        stream=args.stream,
    )
    data_dir = config.hub.data_dir
    storage_type = plugins.storage_backends[config.storage.backend]
    storage = storage_type(config.storage.options, data_dir)
    signing_key = await asyncio.to_thread(SigningKey.load_or_create, data_dir)
    db = await Database.open(data_dir / DATABASE_FILE)
    try:
        exporter = Exporter(config, db, storage, signing_key, hold_placer(Holds(db)))
        result = await exporter.export(
            request, args.out, Context(user=args.user), progress=_ProgressBar(sys.stderr)
        )
    finally:
        await db.close()
    print(
        f"Export {result.export_id} ({request.reference}) written to {result.path}: "
        f"{len(request.cameras)} camera(s), footage held by hold {result.hold_id}.\n"
        f"manifest.json SHA-256 {result.manifest_sha256}\n"
        f"signed with key {signing_key.fingerprint}"
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write an evidence package; refuse a request that cannot be honoured, saying why."""
    missing = [
        option
        for option, value in (
            ("--camera", args.camera),
            ("--from", args.start),
            ("--to", args.end),
            ("--reference", (args.reference or "").strip()),
            ("--legal-basis", (args.legal_basis or "").strip()),
            ("--reason", (args.reason or "").strip()),
            ("--out", args.out),
        )
        if not value
    ]
    if missing:
        print(
            f"cityhub export: refused: {', '.join(missing)} missing. An evidence package needs "
            f"the cameras, the range, the reference (requisition or case number), the legal "
            f"basis, the reason and the output folder.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        plugins, config = _load(args.config)
    except ConfigError as err:
        for issue in err.issues:
            print(issue.format(args.config), file=sys.stderr)
        return EXIT_CONFIG
    try:
        return asyncio.run(_export(args, plugins, config))
    except (ExportError, PlaybackError, HoldError, SigningKeyError) as err:
        print(f"cityhub export: refused: {err}", file=sys.stderr)
        return EXIT_FAILURE


def cmd_export_verify(args: argparse.Namespace) -> int:
    """Check a package's hashes and signature; print OK or each problem."""
    report = verify_package(args.folder, args.fingerprint)
    if report.ok:
        trusted = " (the expected key)" if args.fingerprint else ""
        print(
            f"OK: {report.path}: {len(report.checked)} files intact, "
            f"manifest signature valid{trusted}"
        )
        return EXIT_OK
    print(f"FAILED: {report.path}", file=sys.stderr)
    for problem in report.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_FAILURE


def cmd_export_key(args: argparse.Namespace) -> int:
    """Print the installation's public signing key and its fingerprint (made if absent)."""
    try:
        _plugins, config = _load(args.config)
        key = SigningKey.load_or_create(config.hub.data_dir)
    except ConfigError as err:
        for issue in err.issues:
            print(issue.format(args.config), file=sys.stderr)
        return EXIT_CONFIG
    except SigningKeyError as err:
        print(f"cityhub export key: {err}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Fingerprint (SHA-256 of the public key): {key.fingerprint}")
    print(key.public_pem().decode(), end="")
    return EXIT_OK


def add_export_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``export``, ``export verify`` and ``export key`` to the command line."""
    export = sub.add_parser(
        "export",
        help="export footage as a signed evidence package",
        description="Export the footage of one or more cameras over a range as a signed "
        "evidence package (a folder: one MP4 per camera, manifest.json, its signature, "
        "public_key.pem, SHA256SUMS). Times without an offset are in the hub's time zone. "
        "The range is placed under a legal hold and the export recorded in the register.",
    )
    add_config_arg(export)
    export.add_argument("--camera", action="append", metavar="ID", help="camera id (repeatable)")
    export.add_argument("--from", dest="start", metavar="ISO", help="start of the range")
    export.add_argument("--to", dest="end", metavar="ISO", help="end of the range")
    export.add_argument("--reference", help="requisition or case number")
    export.add_argument("--legal-basis", help="legal basis (e.g. art. 60-1 CPP requisition)")
    export.add_argument("--reason", help="why the footage is exported")
    export.add_argument("--out", type=Path, metavar="DIR", help="new or empty output folder")
    export.add_argument(
        "--stream", default=DEFAULT_STREAM, help=f"profile to export (default: {DEFAULT_STREAM})"
    )
    export.add_argument(
        "--user",
        default=getpass.getuser(),
        help="who asks for the export (default: the login name)",
    )
    export.set_defaults(func=cmd_export)
    actions = export.add_subparsers(dest="export_command", metavar="ACTION")

    verify = actions.add_parser(
        "verify",
        help="check a package's hashes and signature",
        description="Check every file's SHA-256 and the manifest's Ed25519 signature. "
        "Prints OK, or each file that fails and why; exits 0 or 1.",
    )
    verify.add_argument("folder", type=Path, metavar="DIR", help="the package folder")
    verify.add_argument(
        "--fingerprint",
        metavar="SHA256",
        help="also require the package's key to have this fingerprint (the town's)",
    )
    verify.set_defaults(func=cmd_export_verify)

    key = actions.add_parser(
        "key",
        help="show the installation's public signing key",
        description="Print the fingerprint and PEM of the installation's public signing key, "
        "making the key pair on first use; give the fingerprint to the courts.",
    )
    add_config_arg(key)
    key.set_defaults(func=cmd_export_key)
