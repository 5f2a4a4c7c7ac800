"""``cityhub user``: add, list and change accounts from the command line (the hub may run).

Changes are made as the operating-system user who runs the command (``user:LOGIN`` in the
Context, hence in the audit trail when the hub records it). Passwords are never taken as
arguments, where they would stay in the shell's history: they are generated (one-time, to
change at first login) or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

from cityhub.api import Context
from cityhub.auth.passwords import WeakPasswordError
from cityhub.auth.roles import Role
from cityhub.auth.sessions import Sessions
from cityhub.auth.totp import provisioning_uri
from cityhub.auth.users import Habilitation, User, UserError, Users
from cityhub.config import ConfigError, load_config
from cityhub.const import DATABASE_FILE
from cityhub.db import Database
from cityhub.plugins import Plugins

__all__ = ["add_user_commands"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _data_dir(config_dir: Path) -> Path:
    plugins = Plugins.load()
    config = load_config(
        config_dir,
        camera_drivers=plugins.camera_drivers,
        storage_backends=plugins.storage_backends,
        notifiers=plugins.notifiers,
    )
    return config.hub.data_dir


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _habilitation(args: argparse.Namespace) -> Habilitation | None:
    given = [args.habilitation_reference, args.habilitation_date, args.habilitation_expires]
    if not any(given):
        return None
    if not all(given):
        raise UserError(
            "a habilitation needs all three: --habilitation-reference, --habilitation-date "
            "and --habilitation-expires"
        )
    return Habilitation(
        args.habilitation_reference, args.habilitation_date, args.habilitation_expires
    )


def _password_from_stdin(args: argparse.Namespace) -> str | None:
    if not getattr(args, "password_stdin", False):
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _show(user: User) -> str:
    habilitation = user.habilitation
    hab = "no habilitation"
    if habilitation is not None:
        hab = f"habilitation {habilitation.reference} until {habilitation.expires}"
    flags = [f for f, on in (("disabled", user.disabled), ("2FA", user.second_factor)) if on]
    extra = f" [{', '.join(flags)}]" if flags else ""
    return f"{user.name:<20} {user.role.value:<10} zones {','.join(user.zones):<20} {hab}{extra}"


async def _with_users(
    config_dir: Path, work: Callable[[Users, Sessions, Context], Awaitable[int]]
) -> int:
    data_dir = _data_dir(config_dir)
    db = await Database.open(data_dir / DATABASE_FILE)
    try:
        return await work(Users(db), Sessions(db), Context(user=getpass.getuser()))
    finally:
        await db.close()


def _one_time(name: str, password: str | None) -> None:
    if password is not None:
        print(f"One-time password for {name} (shown once; to change at first login): {password}")


def cmd_user(args: argparse.Namespace) -> int:
    """Run one ``cityhub user`` action; print what changed or why it was refused."""

    async def work(users: Users, sessions: Sessions, context: Context) -> int:
        action = args.user_command
        if action == "list":
            for user in await users.all():
                print(_show(user))
            return EXIT_OK
        name = args.name
        if action == "add":
            user, one_time = await users.create(
                name,
                Role(args.role),
                context,
                display_name=args.display_name,
                zones=args.zones.split(","),
                password=_password_from_stdin(args),
                habilitation=_habilitation(args),
            )
            print(f"Created {_show(user)}")
            _one_time(name, one_time)
        elif action == "passwd":
            one_time = await users.set_password(name, context, _password_from_stdin(args))
            ended = await sessions.end_all(name, "password_changed")
            print(f"Password of {name} changed; {ended} session(s) ended")
            _one_time(name, one_time)
        elif action in ("disable", "enable"):
            user = await users.set_disabled(name, action == "disable", context)
            ended = await sessions.end_all(name, "disabled") if user.disabled else 0
            print(f"{action.capitalize()}d {_show(user)}; {ended} session(s) ended")
        elif action == "set":
            if args.role:
                await users.set_role(name, Role(args.role), context)
            if args.zones:
                await users.set_zones(name, args.zones.split(","), context)
            habilitation = _habilitation(args)
            if habilitation is not None:
                await users.set_habilitation(name, habilitation, context)
            if args.unlock:
                await users.unlock(name, context)
            print(f"Updated {_show(await users.get(name))}")
        elif action == "2fa":
            if args.off:
                await users.disable_second_factor(name, context)
                print(f"Second factor of {name} removed")
            else:
                secret = await users.enable_second_factor(name, context)
                print(f"Second factor of {name} enabled; enter this in the authenticator app:")
                print(f"  secret {secret}")
                print(f"  {provisioning_uri(secret, name)}")
        return EXIT_OK

    try:
        return asyncio.run(_with_users(args.config, work))
    except ConfigError as err:
        for issue in err.issues:
            print(issue.format(args.config), file=sys.stderr)
        return EXIT_CONFIG
    except (UserError, WeakPasswordError) as err:
        print(f"cityhub user {args.user_command}: refused: {err}", file=sys.stderr)
        return EXIT_FAILURE


def add_user_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    add_config_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``user list|add|passwd|disable|enable|set|2fa`` to the command line."""
    user = sub.add_parser(
        "user",
        help="manage accounts",
        description="Manage the named accounts of the panel: one per person, with a role, "
        "the zones they may see and their habilitation (the order designating them).",
    )
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    def named(action: str, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(action, help=help_text, description=help_text)
        add_config_arg(parser)
        parser.add_argument("name", help="account name (e.g. j.martin)")
        parser.set_defaults(func=cmd_user)
        return parser

    def habilitation_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--habilitation-reference", metavar="REF", help="order number")
        parser.add_argument("--habilitation-date", type=_date, metavar="YYYY-MM-DD")
        parser.add_argument("--habilitation-expires", type=_date, metavar="YYYY-MM-DD")

    roles = [r.value for r in Role]
    listing = actions.add_parser("list", help="list accounts", description="List accounts.")
    add_config_arg(listing)
    listing.set_defaults(func=cmd_user)

    add = named("add", "create an account (prints a one-time password)")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--display-name", metavar="TEXT", help="full name shown in the panel")
    add.add_argument("--zones", default="*", help="comma-separated zone ids ('*': all)")
    add.add_argument("--password-stdin", action="store_true", help="read the password")
    habilitation_args(add)

    passwd = named("passwd", "set a new password (one-time unless --password-stdin)")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password")
    named("disable", "disable an account and end its sessions")
    named("enable", "enable a disabled account")

    change = named("set", "change role, zones or habilitation; unlock")
    change.add_argument("--role", choices=roles)
    change.add_argument("--zones", help="comma-separated zone ids ('*': all)")
    change.add_argument("--unlock", action="store_true", help="lift a lockout")
    habilitation_args(change)

    two_factor = named("2fa", "enable the second factor (TOTP) or remove it")
    two_factor.add_argument("--off", action="store_true", help="remove the second factor")
