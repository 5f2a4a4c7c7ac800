"""Sessions on the web: the middleware every request passes, and login, logout, me, password.

Every route needs a live session unless it is declared public (login, static files). Every
state-changing request (POST, PUT, PATCH, DELETE) with a session must carry the session's
CSRF token in the ``X-CSRF-Token`` header and, when the browser sends an ``Origin``, come
from this server's own origin. The route's permission is checked against the account as it
is in the database now (a disabled account loses its sessions at once), and a one-time
password lets its holder do nothing but change it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from cityhub.api import Context
from cityhub.auth.passwords import WeakPasswordError, verify_password
from cityhub.auth.roles import ROLE_PERMISSIONS, Permission
from cityhub.auth.sessions import Session, Sessions
from cityhub.auth.users import (
    EVENT_LOGOUT,
    LoginError,
    LoginFailure,
    User,
    UserNotFoundError,
    Users,
)
from cityhub.bus import EventBus
from cityhub.web.errors import ApiError, read_json
from cityhub.web.routes import Access, Route, RouteTable

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "auth_middleware",
    "auth_routes",
    "context_of",
    "current_session",
    "current_user",
    "require",
]

_LOGGER = logging.getLogger(__name__)

SESSION_COOKIE: Final = "cityhub_session"
CSRF_HEADER: Final = "X-CSRF-Token"
STATIC_PREFIX: Final = "/static/"
"""Files under this path (the panel's scripts, styles, images) are served without a session."""
_UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

USERS_KEY: web.AppKey[Users] = web.AppKey("users", Users)
SESSIONS_KEY: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
ROUTES_KEY: web.AppKey[RouteTable] = web.AppKey("routes", RouteTable)
TLS_KEY: web.AppKey[bool] = web.AppKey("tls", bool)
BUS_KEY: web.AppKey[EventBus] = web.AppKey("bus", EventBus)

_SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)
_USER: web.RequestKey[User] = web.RequestKey("user", User)


def current_session(request: web.Request) -> Session:
    """The request's session (set by the middleware on every non-public route)."""
    return request[_SESSION]


def current_user(request: web.Request) -> User:
    """The account the request acts for, as the database has it now."""
    return request[_USER]


def context_of(request: web.Request) -> Context:
    """The Context of what the request does: the user, for the bus, services and audit."""
    return Context(user=current_user(request).name)


def require(request: web.Request, permission: Permission, zone: str | None = None) -> User:
    """The request's user if it may use ``permission`` (on ``zone``); raises 403 otherwise."""
    user = current_user(request)
    if user.can(permission, _now(request), zone):
        return user
    if permission not in ROLE_PERMISSIONS[user.role]:
        raise ApiError(403, "forbidden", f"the role {user.role.value} may not use {permission}")
    if zone is not None and not user.sees_zone(zone):
        raise ApiError(403, "out_of_scope", f"the zone {zone!r} is not in your scope")
    raise ApiError(
        403,
        "not_habilitated",
        "viewing or acting on video needs a habilitation in force; ask an administrator",
    )


def _now(_request: web.Request) -> datetime:
    return datetime.now(UTC)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.host and parts.scheme == request.scheme


@web.middleware
async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Find the session, check CSRF, origin, access and the route's permission."""
    route = request.app[ROUTES_KEY].route_of(request.match_info.handler)
    undeclared = route is None and request.match_info.http_exception is None
    if undeclared and not request.path.startswith(STATIC_PREFIX):
        # A handler added to the router without a Route: refused rather than served without
        # a session (a developer's mistake must not open a hole).
        _LOGGER.error("Route %s %s is not in the route table", request.method, request.path)
        raise ApiError(403, "undeclared_route", "this address is not part of the API")
    if route is None or route.access is Access.PUBLIC:
        if request.method in _UNSAFE_METHODS and not _same_origin(request):
            raise ApiError(403, "cross_origin", "requests from another site are refused")
        result: web.StreamResponse = await handler(request)
        return result
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await request.app[SESSIONS_KEY].get(token)
    if session is None:
        raise ApiError(401, "login_required", "log in first (no session, or it has ended)")
    try:
        user = await request.app[USERS_KEY].get(session.user)
    except UserNotFoundError:
        user = None
    if user is None or user.disabled:
        await request.app[SESSIONS_KEY].end_all(session.user, "disabled")
        raise ApiError(401, "login_required", "this account is disabled")
    if request.method in _UNSAFE_METHODS or route.websocket:
        if not _same_origin(request):
            raise ApiError(403, "cross_origin", "requests from another site are refused")
        if not route.websocket and not session.csrf_ok(request.headers.get(CSRF_HEADER)):
            raise ApiError(
                403, "csrf", f"the {CSRF_HEADER} header is missing or not this session's"
            )
    if route.access is Access.ACCOUNT and user.must_change_password:
        raise ApiError(
            403, "password_change_required", "change your one-time password before going on"
        )
    request[_SESSION] = session
    request[_USER] = user
    if route.permission is not None:
        require(request, route.permission)
    result = await handler(request)
    return result


# --- the auth routes --------------------------------------------------------------------------


def _me(user: User, session: Session, request: web.Request) -> dict[str, Any]:
    now = _now(request)
    return {
        **user.describe(),
        "must_change_password": user.must_change_password,
        "habilitated": user.habilitated(now),
        "permissions": sorted(p.value for p in Permission if user.can(p, now)),
        "csrf_token": session.csrf_token,
        "session_expires": session.expires_at.isoformat(timespec="seconds"),
    }


async def handle_login(request: web.Request) -> web.Response:
    """POST /api/auth/login: check the credentials, open a session, set its cookie."""
    body = await read_json(request)
    name, password = body.get("user"), body.get("password")
    code = body.get("code")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise ApiError(400, "bad_request", "give 'user' and 'password' as strings")
    if code is not None and not isinstance(code, str):
        raise ApiError(400, "bad_request", "'code' (the second factor) must be a string")
    users = request.app[USERS_KEY]
    try:
        user = await users.authenticate(name, password, code, client_address=request.remote)
    except LoginError as err:
        if err.failure is LoginFailure.SECOND_FACTOR_REQUIRED:
            raise ApiError(401, "second_factor_required", "enter the code of your app") from err
        if err.failure is LoginFailure.LOCKED and err.locked_until is not None:
            until = err.locked_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
            raise ApiError(
                401, "locked", f"too many failed attempts: locked until {until} UTC"
            ) from err
        raise ApiError(401, "login_failed", "wrong account name, password or code") from err
    session = await request.app[SESSIONS_KEY].create(
        user.name, client_address=request.remote, user_agent=request.headers.get("User-Agent")
    )
    response = web.json_response(_me(user, session, request))
    assert session.token is not None
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        secure=request.app[TLS_KEY],
        samesite="Strict",
        path="/",
    )
    return response


async def handle_logout(request: web.Request) -> web.Response:
    """POST /api/auth/logout: end this session and clear its cookie."""
    session = current_session(request)
    await request.app[SESSIONS_KEY].end(session.id, "logout")
    request.app[BUS_KEY].async_fire(
        EVENT_LOGOUT, {"user": session.user, "client_address": request.remote}, context_of(request)
    )
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def handle_me(request: web.Request) -> web.Response:
    """GET /api/auth/me: who is logged in, what they may do, and the CSRF token to send."""
    return web.json_response(_me(current_user(request), current_session(request), request))


async def handle_password(request: web.Request) -> web.Response:
    """POST /api/auth/password: change one's own password (the current one is asked again)."""
    body = await read_json(request)
    current, new = body.get("current"), body.get("new")
    if not isinstance(current, str) or not isinstance(new, str):
        raise ApiError(400, "bad_request", "give 'current' and 'new' as strings")
    user = current_user(request)
    users = request.app[USERS_KEY]
    stored = await users.password_hash(user.name)
    if not verify_password(stored, current):
        raise ApiError(403, "wrong_password", "the current password is wrong")
    try:
        await users.set_password(user.name, context_of(request), new)
    except WeakPasswordError as err:
        raise ApiError(400, "weak_password", str(err)) from err
    session = current_session(request)
    sessions = request.app[SESSIONS_KEY]
    for other in await sessions.live(user.name):
        if other.id != session.id:
            await sessions.end(other.id, "password_changed")
    refreshed = await users.get(user.name)
    return web.json_response(_me(refreshed, session, request))


_CREDENTIALS = {
    "type": "object",
    "required": ["user", "password"],
    "properties": {
        "user": {"type": "string"},
        "password": {"type": "string"},
        "code": {"type": "string", "description": "the second factor, when the account has one"},
    },
}
_ME = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "role": {"type": "string"},
        "zones": {"type": "array", "items": {"type": "string"}},
        "permissions": {"type": "array", "items": {"type": "string"}},
        "must_change_password": {"type": "boolean"},
        "habilitated": {"type": "boolean"},
        "csrf_token": {"type": "string"},
    },
}


def auth_routes() -> list[Route]:
    """The login, logout, me and password routes."""
    return [
        Route(
            "POST",
            "/api/auth/login",
            handle_login,
            "Log in: opens a session (HttpOnly cookie) and returns the CSRF token",
            access=Access.PUBLIC,
            request_body=_CREDENTIALS,
            response=_ME,
            tag="auth",
        ),
        Route("POST", "/api/auth/logout", handle_logout, "Log out", Access.SESSION, tag="auth"),
        Route(
            "GET",
            "/api/auth/me",
            handle_me,
            "The logged-in account, its permissions and CSRF token",
            Access.SESSION,
            response=_ME,
            tag="auth",
        ),
        Route(
            "POST",
            "/api/auth/password",
            handle_password,
            "Change one's own password (ends one's other sessions)",
            Access.SESSION,
            request_body={
                "type": "object",
                "required": ["current", "new"],
                "properties": {"current": {"type": "string"}, "new": {"type": "string"}},
            },
            response=_ME,
            tag="auth",
        ),
    ]
