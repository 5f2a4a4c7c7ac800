"""API errors as JSON: one shape for every refusal, and no traceback ever reaches a client."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from aiohttp import web

__all__ = ["SECURITY_HEADERS", "ApiError", "error_middleware", "read_json"]

_LOGGER = logging.getLogger(__name__)

MAX_JSON_BYTES: Final = 1 << 20
"""The largest JSON body the API reads (1 MiB): requests are small; anything bigger is wrong."""

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
"""Sent with every answer: the panel loads only its own files and is never framed."""


class ApiError(Exception):
    """A refusal the client should see: HTTP status, a stable code, and what to do."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        """The JSON answer: ``{"error": code, "message": text}``."""
        return web.json_response({"error": self.code, "message": self.message}, status=self.status)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; a clear 400 (or 413) when it is not one."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_JSON_BYTES} bytes")
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"the body is over {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {err}") from err
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    return body


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn refusals and aiohttp's HTTP errors into JSON, add the security headers."""
    try:
        response: web.StreamResponse = await handler(request)
    except ApiError as err:
        response = err.response()
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = err.reason.lower().replace(" ", "_")
        response = ApiError(err.status, code, err.reason).response()
    except Exception:
        _LOGGER.exception("Unexpected error serving %s %s", request.method, request.path)
        response = ApiError(500, "internal", "the hub failed to answer; see its log").response()
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
    return response
