"""Roles and what each may do; which permissions touch video and so need a valid habilitation."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

__all__ = ["ROLE_PERMISSIONS", "VIDEO_PERMISSIONS", "Permission", "Role"]


class Role(enum.StrEnum):
    """What an account is for, from most to least trusted."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    """One kind of action the server checks before doing it."""

    LIVE = "live"
    PLAYBACK = "playback"
    EXPORT = "export"
    PTZ = "ptz"
    HOLD = "hold"
    LOGBOOK = "logbook"
    CONFIG = "config"
    USERS = "users"
    AUDIT = "audit"


VIDEO_PERMISSIONS: Final = frozenset(
    {Permission.LIVE, Permission.PLAYBACK, Permission.EXPORT, Permission.PTZ, Permission.HOLD}
)
"""Permissions that show or act on footage: only a habilitated agent may use them (the law
designates who may view; an expired habilitation withdraws it whatever the role)."""

ROLE_PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    Role.SUPERVISOR: frozenset(
        {
            Permission.LIVE,
            Permission.PLAYBACK,
            Permission.EXPORT,
            Permission.PTZ,
            Permission.HOLD,
            Permission.LOGBOOK,
            Permission.AUDIT,
        }
    ),
    Role.OPERATOR: frozenset(
        {Permission.LIVE, Permission.PLAYBACK, Permission.PTZ, Permission.HOLD, Permission.LOGBOOK}
    ),
    Role.VIEWER: frozenset({Permission.LIVE}),
}
"""What each role may do. Exports are for supervisors and admins: a requisition is answered
by the officer in charge, not by the agent on the wall."""
