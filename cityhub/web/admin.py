"""Administration on the web: the audit log (browse, verify, CSV) and the accounts.

``GET /api/audit`` (``from``, ``to``, ``actor``, ``camera``, ``action``, ``after``; ``order``,
``before`` and ``limit`` to page newest first),
``GET /api/audit/verify`` and ``GET /api/audit/export.csv`` need the ``audit`` permission
(supervisors and admins); reading them is itself audited (``audit.read``, ``audit.exported``).
``/api/users`` lists, creates and changes accounts and needs ``users`` (admins): the
changes go through :class:`cityhub.auth.users.Users` with the admin's Context, so they reach
the audit trail like the command line's; a disabled account or a reset password ends the
account's sessions at once. One-time passwords are returned once, in the answer.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from cityhub.auth.audit import QUERY_LIMIT, AuditEntry
from cityhub.auth.passwords import WeakPasswordError
from cityhub.auth.roles import Permission, Role
from cityhub.auth.users import Habilitation, UserError, UserNotFoundError, Users
from cityhub.web.auth import BUS_KEY, SESSIONS_KEY, USERS_KEY, context_of
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of, query_time
from cityhub.web.routes import Route

if TYPE_CHECKING:
    from cityhub.auth.audit import AuditWriter

__all__ = ["admin_routes"]

EVENT_AUDIT_READ: Final = "audit.read"
EVENT_AUDIT_EXPORTED: Final = "audit.exported"


def _audit(request: web.Request) -> AuditWriter:
    audit = hub_of(request).audit
    if audit is None:
        raise ApiError(409, "no_audit", "the audit log is not running")
    return audit


def _number(request: web.Request, name: str, what: str) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name!r} is {what}") from None


def _filters(request: web.Request) -> dict[str, Any]:
    return {
        "start": query_time(request, "from"),
        "end": query_time(request, "to"),
        "actor": request.query.get("actor") or None,
        "camera_id": request.query.get("camera") or None,
        "action": request.query.get("action") or None,
        "after_seq": _number(request, "after", "a sequence number") or 0,
    }


def _page(request: web.Request) -> dict[str, Any]:
    """``before``, ``limit`` and ``order`` (oldest, the default, or newest first)."""
    order = request.query.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise ApiError(400, "bad_request", "'order' is 'oldest' (the default) or 'newest'")
    limit = _number(request, "limit", f"a number of entries (1..{QUERY_LIMIT})")
    if limit is not None and not 1 <= limit <= QUERY_LIMIT:
        raise ApiError(400, "bad_request", f"'limit' is a number of entries, 1..{QUERY_LIMIT}")
    return {
        "before_seq": _number(request, "before", "a sequence number"),
        "newest_first": order == "newest",
        "limit": limit or QUERY_LIMIT,
    }


def _fire(request: web.Request, event_type: str, data: dict[str, Any]) -> None:
    request.app[BUS_KEY].async_fire(
        event_type, {**data, "client_address": request.remote}, context_of(request)
    )


async def handle_audit(request: web.Request) -> web.Response:
    """Audit entries matching the filters, in sequence order (page with ``after``) or newest
    first (``order=newest``, page with ``before``), ``limit`` at a time."""
    filters = _filters(request)
    entries = await _audit(request).log.entries(**filters, **_page(request))
    _fire(request, EVENT_AUDIT_READ, {"filters": {k: str(v) for k, v in filters.items() if v}})
    return web.json_response([e.as_dict() for e in entries])


async def handle_verify(request: web.Request) -> web.Response:
    """Check the whole hash chain; report the first broken entry, if any."""
    report = await _audit(request).log.verify()
    return web.json_response({**attrs.asdict(report), "ok": report.ok})


async def handle_audit_csv(request: web.Request) -> web.Response:
    """The entries matching the filters as CSV, every column (hashes included)."""
    log = _audit(request).log
    filters = _filters(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([field.name for field in attrs.fields(AuditEntry)])
    count = 0
    while True:
        entries = await log.entries(**filters)
        if not entries:
            break
        writer.writerows(attrs.astuple(entry) for entry in entries)
        count += len(entries)
        filters["after_seq"] = entries[-1].seq
    _fire(request, EVENT_AUDIT_EXPORTED, {"entries": count})
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


# --- accounts -------------------------------------------------------------------------------


def _habilitation(value: Any) -> Habilitation | None:
    if value is None:
        return None
    try:
        return Habilitation(
            str(value["reference"]),
            date.fromisoformat(value["granted"]),
            date.fromisoformat(value["expires"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ApiError(
            400, "bad_request", "a habilitation is {reference, granted, expires} (dates YYYY-MM-DD)"
        ) from err


def _role(value: Any) -> Role:
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise ApiError(400, "bad_request", f"'role' must be one of {roles}") from None


def _users(request: web.Request) -> Users:
    return request.app[USERS_KEY]


async def handle_users(request: web.Request) -> web.Response:
    """Every account (disabled ones too), without secrets."""
    users = await _users(request).all()
    return web.json_response(
        [{**u.describe(), "must_change_password": u.must_change_password,
          "locked_until": None if u.locked_until is None else u.locked_until.isoformat(),
          "last_login_at": None if u.last_login_at is None else u.last_login_at.isoformat()}
         for u in users]
    )  # fmt: skip


async def handle_add_user(request: web.Request) -> web.Response:
    """Create an account; the answer carries its one-time password, once."""
    body = await read_json(request)
    name, zones = body.get("name"), body.get("zones", ["*"])
    if not isinstance(name, str) or not isinstance(zones, list):
        raise ApiError(400, "bad_request", "give 'name' (text), 'role' and 'zones' (a list)")
    try:
        user, one_time = await _users(request).create(
            name,
            _role(body.get("role")),
            context_of(request),
            display_name=body.get("display_name"),
            zones=[str(z) for z in zones],
            habilitation=_habilitation(body.get("habilitation")),
        )
    except (UserError, WeakPasswordError) as err:
        raise ApiError(409, "refused", str(err)) from err
    return web.json_response({**user.describe(), "one_time_password": one_time})


async def handle_change_user(request: web.Request) -> web.Response:
    """Change an account: role, zones, habilitation, disabled, unlock, password reset."""
    name = request.match_info["name"]
    body = await read_json(request)
    users, context = _users(request), context_of(request)
    sessions = request.app[SESSIONS_KEY]
    answer: dict[str, Any] = {}
    try:
        if "role" in body:
            await users.set_role(name, _role(body["role"]), context)
        if "zones" in body:
            if not isinstance(body["zones"], list):
                raise ApiError(400, "bad_request", "'zones' is a list of zone ids")
            await users.set_zones(name, [str(z) for z in body["zones"]], context)
        if "habilitation" in body:
            await users.set_habilitation(name, _habilitation(body["habilitation"]), context)
        if "disabled" in body:
            user = await users.set_disabled(name, bool(body["disabled"]), context)
            if user.disabled:
                answer["sessions_ended"] = await sessions.end_all(name, "disabled")
        if body.get("unlock"):
            await users.unlock(name, context)
        if body.get("reset_password"):
            answer["one_time_password"] = await users.set_password(name, context)
            answer["sessions_ended"] = await sessions.end_all(name, "password_reset")
        user = await users.get(name)
    except UserNotFoundError as err:
        raise ApiError(404, "unknown_user", str(err)) from err
    except (UserError, WeakPasswordError) as err:
        raise ApiError(409, "refused", str(err)) from err
    return web.json_response({**user.describe(), **answer})


def admin_routes() -> list[Route]:
    """The audit and account routes."""
    account = {
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "role": {"type": "string"},
            "display_name": {"type": "string"},
            "zones": {"type": "array", "items": {"type": "string"}},
            "habilitation": {"type": "object", "properties": {
                "reference": {"type": "string"}, "granted": {"type": "string", "format": "date"},
                "expires": {"type": "string", "format": "date"}}},
            "disabled": {"type": "boolean"}, "unlock": {"type": "boolean"},
            "reset_password": {"type": "boolean"},
        },
    }  # fmt: skip
    return [
        Route("GET", "/api/audit", handle_audit,
              "Audit entries (?from=&to=&actor=&camera=&action=&after=&before=&limit=), in "
              "sequence order or newest first (&order=newest)",
              permission=Permission.AUDIT, tag="admin"),
        Route("GET", "/api/audit/verify", handle_verify, "Check the audit log's hash chain",
              permission=Permission.AUDIT, tag="admin"),
        Route("GET", "/api/audit/export.csv", handle_audit_csv,
              "The audit entries matching the filters as CSV", permission=Permission.AUDIT,
              tag="admin"),
        Route("GET", "/api/users", handle_users, "Every account, without secrets",
              permission=Permission.USERS, tag="admin"),
        Route("POST", "/api/users", handle_add_user,
              "Create an account (the answer holds its one-time password, once)",
              permission=Permission.USERS, request_body=account, tag="admin"),
        Route("PATCH", "/api/users/{name}", handle_change_user,
              "Change an account: role, zones, habilitation, disabled, unlock, password reset",
              permission=Permission.USERS, request_body=account, tag="admin"),
    ]  # fmt: skip
