"""What every API handler reads from a request: the hub, and times given in the query string."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from cityhub.web.errors import ApiError

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["HUB_KEY", "hub_of", "query_time", "required_time"]

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")


def hub_of(request: web.Request) -> Hub:
    """The hub the application serves."""
    return request.app[HUB_KEY]


def required_time(request: web.Request, name: str) -> datetime:
    """The query parameter ``name`` as an aware datetime; a clear 400 when absent or wrong."""
    moment = query_time(request, name)
    if moment is None:
        raise ApiError(400, "bad_request", f"give '{name}' as an ISO-8601 time with its offset")
    return moment


def query_time(request: web.Request, name: str) -> datetime | None:
    """The query parameter ``name`` as an aware datetime (None if absent); 400 when wrong."""
    text = request.query.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_request", f"'{name}' is not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ApiError(400, "bad_request", f"'{name}' needs its UTC offset (Z or +01:00): {text!r}")
    return moment
