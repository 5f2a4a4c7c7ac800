"""The OpenAPI 3.1 description of the API, built from the same route declarations it serves."""

from __future__ import annotations

import re
from typing import Any

from cityhub import __version__
from cityhub.web.routes import Access, RouteTable

__all__ = ["build_openapi"]

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path.removeprefix("/api/")).replace("/", "_").replace("-", "_")
    return f"{method.lower()}_{words}"


def build_openapi(routes: RouteTable, hub_name: str) -> dict[str, Any]:
    """The OpenAPI document of ``routes``: paths, bodies, permissions, errors, security."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes.routes:
        operation: dict[str, Any] = {
            "operationId": _operation_id(route.method, route.path),
            "summary": route.summary,
            "tags": [route.tag],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": route.response or {}}},
                },
                "default": {
                    "description": "Refused: 400 bad request, 401 not logged in, 403 not "
                    "allowed (role, scope, habilitation, CSRF), 404, 413, 500",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", route.path)
        ]
        if parameters:
            operation["parameters"] = parameters
        if route.request_body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.request_body}},
            }
        if route.access is Access.PUBLIC:
            operation["security"] = []
        if route.permission is not None:
            operation["x-permission"] = route.permission.value
            operation["description"] = f"Needs the permission `{route.permission.value}`."
        if route.websocket:
            operation["x-websocket"] = True
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"cityhub API ({hub_name})",
            "version": __version__,
            "description": "The API behind the cityhub panel. Log in with POST /api/auth/login; "
            "the session is an HttpOnly cookie; every POST, PUT, PATCH and DELETE must carry "
            "the session's CSRF token (from the login answer or GET /api/auth/me) in the "
            "X-CSRF-Token header.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cityhub_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "security": [{"session": []}],
    }
