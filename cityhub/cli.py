"""The ``cityhub`` command: run, check-config, plugins, export, user, discover, --version."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from cityhub import __version__
from cityhub.cli_export import add_export_commands
from cityhub.cli_user import add_user_commands
from cityhub.config import ConfigError
from cityhub.discovery.cli import add_discover_command
from cityhub.logs import setup_logging
from cityhub.plugins import Plugins

_LOGGER = logging.getLogger("cityhub")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

SHUTDOWN_TIMEOUT_S = 5.0
"""Ctrl-C to exit must not take longer than this (seconds), whatever a driver does."""


def _print_config_error(err: ConfigError, config_dir: Path) -> None:
    for issue in err.issues:
        print(issue.format(config_dir), file=sys.stderr)
    count = len(err.issues)
    print(
        f"{count} error{'s' if count != 1 else ''} in the configuration in {config_dir}",
        file=sys.stderr,
    )


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the configuration; print every problem as file:line: key: message."""
    from cityhub.config import load_config

    config_dir: Path = args.config
    plugins = Plugins.load()
    try:
        config = load_config(
            config_dir,
            camera_drivers=plugins.camera_drivers,
            storage_backends=plugins.storage_backends,
            notifiers=plugins.notifiers,
        )
    except ConfigError as err:
        _print_config_error(err, config_dir)
        return EXIT_CONFIG
    print(
        f"Configuration OK: {len(config.cameras)} camera(s), {len(config.zones)} zone(s), "
        f"{len(config.emplacements)} emplacement(s) in {config_dir}"
    )
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    """List every plugin, its distribution and version, and what it provides."""
    plugins = Plugins.load()
    failed = 0
    for report in plugins.reports:
        origin = "built-in" if report.builtin else f"{report.distribution} {report.version}"
        status = "ok" if report.ok else "FAILED"
        print(f"{report.name} ({origin}, module {report.module}): {status}")
        for kind, names in report.provides.items():
            for name in names:
                caps = report.capabilities.get(name)
                suffix = f" [{', '.join(caps)}]" if caps else ""
                print(f"    {kind.replace('_', ' ')[:-1]}: {name}{suffix}")
        if report.error:
            failed += 1
            for line in report.error.rstrip().splitlines():
                print(f"    | {line}")
    return EXIT_FAILURE if failed and args.strict else EXIT_OK


def _print_first_admin(password: str | None) -> None:
    """Show the first admin's one-time password on the terminal (not in the log), once."""
    if password is None:
        return
    print(
        "\n"
        "  First start: the account 'admin' was created with this one-time password,\n"
        f"  shown only now. Log in and change it:   {password}\n"
        "  (admin manages accounts; to view video it needs a habilitation:\n"
        "   cityhub user set admin --habilitation-reference ... )\n",
        file=sys.stderr,
        flush=True,
    )


async def _run_hub(config_dir: Path) -> int:
    from cityhub.hub import Hub, HubStartError

    try:
        hub = Hub.from_config_dir(config_dir)
    except ConfigError as err:
        _print_config_error(err, config_dir)
        print("cityhub did not start: fix the configuration first.", file=sys.stderr)
        return EXIT_CONFIG
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await hub.async_start()
    except HubStartError as err:
        _LOGGER.error("cityhub did not start: %s", err)
        return EXIT_FAILURE
    _print_first_admin(hub.first_admin_password)
    hub.first_admin_password = None
    await stop.wait()
    _LOGGER.info("Stopping (signal received)")
    try:
        await asyncio.wait_for(hub.async_stop(), timeout=SHUTDOWN_TIMEOUT_S)
    except TimeoutError:
        _LOGGER.warning("Shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_TIMEOUT_S)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the hub until SIGINT or SIGTERM."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_run_hub(args.config))
    return EXIT_OK


def _audit_database(args: argparse.Namespace, command: str) -> tuple[Path, str] | int:
    """The database and time zone of ``-c``'s hub, or the exit code after saying why not."""
    from cityhub.config import load_config
    from cityhub.const import DATABASE_FILE

    plugins = Plugins.load()
    try:
        config = load_config(
            args.config,
            camera_drivers=plugins.camera_drivers,
            storage_backends=plugins.storage_backends,
            notifiers=plugins.notifiers,
        )
    except ConfigError as err:
        _print_config_error(err, args.config)
        return EXIT_CONFIG
    path = config.hub.data_dir / DATABASE_FILE
    if not path.is_file():
        print(
            f"cityhub audit {command}: no database at {path}: the hub has not run with this "
            f"configuration (check -c and hub.data_dir)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return path, config.hub.time_zone


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the audit log's hash chain; print OK and its head, or the first broken entry."""
    from cityhub.auth.audit import AuditLog
    from cityhub.db import Database, DatabaseError

    found = _audit_database(args, "verify")
    if isinstance(found, int):
        return found
    path, _time_zone = found

    async def verify() -> int:
        db = await Database.open(path)
        try:
            report = await AuditLog(db).verify()
        finally:
            await db.close()
        if report.ok:
            print(
                f"OK: {report.checked} audit entries, chain intact; last entry "
                f"{report.last_seq}, hash {report.last_hash}"
            )
            return EXIT_OK
        print(f"FAILED at entry {report.broken_seq}: {report.problem}", file=sys.stderr)
        print(
            f"Entries 1..{report.last_seq} are intact (last good hash {report.last_hash}).",
            file=sys.stderr,
        )
        return EXIT_FAILURE

    try:
        return asyncio.run(verify())
    except DatabaseError as err:
        print(f"cityhub audit verify: {err}", file=sys.stderr)
        return EXIT_FAILURE


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Write the audit entries matching the filters as CSV, every column (hashes included)."""
    import csv
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import attrs

    from cityhub.auth.audit import AuditEntry, AuditLog
    from cityhub.db import Database, DatabaseError

    found = _audit_database(args, "export")
    if isinstance(found, int):
        return found
    path, time_zone = found
    bounds: list[datetime | None] = []
    for option, text in (("--from", args.start), ("--to", args.end)):
        if text is None:
            bounds.append(None)
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            print(
                f"cityhub audit export: {option} {text!r} is not an ISO-8601 time "
                f"(e.g. 2026-11-22T14:30:00, local time, or 2026-11-22T13:30:00Z)",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        bounds.append(moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(time_zone)))

    async def export(out: TextIO) -> int:
        db = await Database.open(path)
        writer = csv.writer(out)
        writer.writerow([field.name for field in attrs.fields(AuditEntry)])
        count, after = 0, 0
        try:
            while True:
                entries = await AuditLog(db).entries(
                    start=bounds[0],
                    end=bounds[1],
                    actor=args.actor,
                    camera_id=args.camera,
                    action=args.action,
                    after_seq=after,
                )
                if not entries:
                    break
                writer.writerows(attrs.astuple(entry) for entry in entries)
                count += len(entries)
                after = entries[-1].seq
        finally:
            await db.close()
        print(f"{count} audit entries exported", file=sys.stderr)
        return EXIT_OK

    try:
        if args.out is None:
            return asyncio.run(export(sys.stdout))
        with args.out.open("w", encoding="utf-8", newline="") as out:
            return asyncio.run(export(out))
    except (DatabaseError, OSError) as err:
        print(f"cityhub audit export: {err}", file=sys.stderr)
        return EXIT_FAILURE


def _add_audit_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    audit = sub.add_parser(
        "audit",
        help="check or export the audit log",
        description="The audit log: who did what, on which camera, when (hash-chained).",
    )
    actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check the audit log's hash chain",
        description="Recompute every entry's hash and link; print OK with the last entry and "
        "its hash (note it: removing entries from the end is only seen against a noted "
        "head), or the first broken entry. Exits 0 or 1.",
    )
    add_config_arg(verify)
    verify.set_defaults(func=cmd_audit_verify)
    export = actions.add_parser(
        "export",
        help="write audit entries as CSV",
        description="Write the audit entries matching every filter given as CSV (one row per "
        "entry, every column, hashes included), to --out or standard output. Times without "
        "an offset are in the hub's time zone; --to is excluded.",
    )
    add_config_arg(export)
    export.add_argument("--csv", action="store_true", help="CSV (the only format for now)")
    export.add_argument("--from", dest="start", metavar="ISO", help="entries from this time")
    export.add_argument("--to", dest="end", metavar="ISO", help="entries before this time")
    export.add_argument("--camera", metavar="ID", help="entries about this camera")
    export.add_argument("--actor", metavar="WHO", help="user:NAME, automation:ID or system")
    export.add_argument("--action", metavar="ACTION", help="ptz.move, or ptz.* for a domain")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here, not to stdout")
    export.set_defaults(func=cmd_audit_export)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="cityhub",
        description="cityhub: an open-source hub for municipal video protection.",
    )
    parser.add_argument("--version", action="version", version=f"cityhub {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add_config_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "-c",
            "--config",
            type=Path,
            default=Path("config"),
            metavar="DIR",
            help="configuration folder holding cityhub.yaml (default: ./config)",
        )

    run = sub.add_parser("run", help="run the hub", description="Run the hub until Ctrl-C.")
    add_config_arg(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser(
        "check-config",
        help="validate the configuration",
        description="Validate the configuration and print every error as "
        "file:line: key.path: what is wrong (what is allowed). Exits 2 on any error.",
    )
    add_config_arg(check)
    check.set_defaults(func=cmd_check_config)

    plugins = sub.add_parser(
        "plugins",
        help="list installed plugins",
        description="List every plugin, its distribution and version, and what it provides; "
        "a plugin that fails to load is shown with its traceback.",
    )
    plugins.add_argument(
        "--strict", action="store_true", help="exit 1 when any plugin failed to load"
    )
    plugins.set_defaults(func=cmd_plugins)
    add_export_commands(sub, add_config_arg)
    add_user_commands(sub, add_config_arg)
    add_discover_command(sub)
    _add_audit_commands(sub, add_config_arg)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cityhub`` console script."""
    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
