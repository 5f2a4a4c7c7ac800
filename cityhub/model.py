"""The installation as configured: sites, zones, emplacements, cameras, users, roles.

Values only (frozen attrs classes), built by :mod:`cityhub.config` from validated YAML.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import attrs

from cityhub.api import CameraInfo, CameraKind

MAX_RETENTION_DAYS = 30
"""The legal ceiling (French Code de la sécurité intérieure, L252-5): never keep footage longer."""

DEFAULT_RETENTION_DAYS = 14
"""What a CSU usually keeps when neither the camera nor its zone says otherwise."""

DEFAULT_SEGMENT_SECONDS = 60
"""Length of a recorded segment (seconds): a minute keeps files few (1440 a day per camera)
while retention, export and a crash's loss stay fine-grained."""
MIN_SEGMENT_SECONDS = 2
MAX_SEGMENT_SECONDS = 600
"""Ten minutes: longer files make retention coarse and a repair costlier."""
DEFAULT_PRE_ROLL_S = 5.0
"""Seconds of video kept before an event in event mode: enough to see what led to it."""
DEFAULT_POST_ROLL_S = 10.0
"""Seconds recorded after the last trigger of an event."""
MAX_ROLL_S = 300.0
"""Longest pre- or post-roll (seconds); the pre-roll is held in memory."""

DEFAULT_PURGE_INTERVAL_S = 60.0
"""How often retention runs (seconds): footage outlives its limit by at most this plus a segment."""
DEFAULT_MIN_FREE_PERCENT = 10.0
"""High-water mark: below this much free space, purge early and raise storage.low."""
DEFAULT_CRITICAL_FREE_PERCENT = 2.0
"""Below this, storage is about to fail: purge under the minimum retention, alarm loudly."""
DEFAULT_MIN_RETENTION_DAYS = 7
"""Early purges never cut a camera's footage below this many days (unless critical)."""

DEFAULT_PTZ_DEADMAN_S = 1.0
"""A continuous PTZ move stops by itself this long (seconds) after the last ``ptz.move``: a
joystick repeats every 100-200 ms, so a second means the page or the link is gone."""
MIN_PTZ_DEADMAN_S = 0.2
MAX_PTZ_DEADMAN_S = 10.0
"""Longest dead-man timeout (seconds): a runaway camera must stop soon whatever is set."""
DEFAULT_PTZ_LOCK_TIMEOUT_S = 30.0
"""A PTZ control lock with no command for this long (seconds) is idle: anyone may take it."""
MAX_PTZ_LOCK_TIMEOUT_S = 3600.0
MIN_TOUR_DWELL_S = 1.0
"""Shortest stop at a tour preset (seconds): less only wears the motors out."""
MAX_TOUR_DWELL_S = 86400.0
MAX_RETURN_HOME_AFTER_S = 86400.0

DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8123


class Permission(enum.StrEnum):
    """What a role may do; checked server-side on every route (panel issue)."""

    LIVE = "live"
    PLAYBACK = "playback"
    EXPORT = "export"
    PTZ = "ptz"
    CONFIG = "config"
    USERS = "users"
    AUDIT = "audit"


BUILTIN_ROLES: Mapping[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "supervisor": frozenset(
        {Permission.LIVE, Permission.PLAYBACK, Permission.EXPORT, Permission.PTZ, Permission.AUDIT}
    ),
    "operator": frozenset({Permission.LIVE, Permission.PLAYBACK, Permission.PTZ}),
    "viewer": frozenset({Permission.LIVE}),
}


@attrs.frozen
class Site:
    """A commune (or a campus) served by the centre."""

    id: str
    name: str


@attrs.frozen
class Zone:
    """A sensitive area the cameras watch; the unit of user scope."""

    id: str
    name: str
    site: str | None = None
    retention_days: int | None = None


@attrs.frozen
class Emplacement:
    """A mast or wall site carrying one to a few cameras."""

    id: str
    name: str
    zone: str
    kind: str = "mast"
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    phase: int | None = None


@attrs.frozen
class Authorisation:
    """A camera's prefectoral authorisation: order number, date granted, expiry."""

    order: str
    granted: date
    expires: date


class RecordingMode(enum.StrEnum):
    """What a camera records: everything, or only around events."""

    CONTINUOUS = "continuous"
    EVENT = "event"


@attrs.frozen
class RecordingSettings:
    """How a camera's main stream is recorded (the ``recording:`` section and camera key)."""

    enabled: bool = True
    mode: RecordingMode = RecordingMode.CONTINUOUS
    segment_seconds: int = DEFAULT_SEGMENT_SECONDS
    pre_roll: float = DEFAULT_PRE_ROLL_S
    post_roll: float = DEFAULT_POST_ROLL_S


@attrs.frozen
class PtzSettings:
    """The top-level ``ptz:`` section: timeouts every PTZ camera uses unless it says otherwise."""

    deadman_timeout: float = DEFAULT_PTZ_DEADMAN_S
    lock_timeout: float = DEFAULT_PTZ_LOCK_TIMEOUT_S
    return_home_after: float | None = None


@attrs.frozen
class WallSettings:
    """The top-level ``wall:`` section: the declared wall monitors (browser windows by name)."""

    monitors: tuple[str, ...] = ()


@attrs.frozen
class TourStep:
    """One stop of a tour: a preset (token or name) and how long to stay there (seconds)."""

    preset: str
    dwell: float


@attrs.frozen
class Tour:
    """A named patrol through presets, repeated until stopped."""

    name: str
    steps: tuple[TourStep, ...]


@attrs.frozen
class CameraPtz:
    """A camera's ``ptz:`` key, timeouts resolved (camera > ``ptz:`` section > default)."""

    deadman_timeout: float = DEFAULT_PTZ_DEADMAN_S
    lock_timeout: float = DEFAULT_PTZ_LOCK_TIMEOUT_S
    home_preset: str | None = None
    return_home_after: float | None = None
    tours: tuple[Tour, ...] = ()
    patrol: str | None = None
    """The tour the camera runs whenever nobody steers it (started with the hub, resumed after
    ``return_home_after``, or else ``lock_timeout``, seconds without a command)."""

    def tour(self, name: str) -> Tour:
        """The tour called ``name``; ``KeyError`` when there is none."""
        for tour in self.tours:
            if tour.name == name:
                return tour
        raise KeyError(name)


@attrs.frozen
class CameraConfig:
    """One camera as configured; ``retention_days`` is resolved (camera > zone > default)."""

    id: str
    name: str
    kind: CameraKind
    driver: str
    zone: str
    retention_days: int
    emplacement: str | None = None
    phase: int | None = None
    purpose: str | None = None
    authorisation: Authorisation | None = None
    enabled: bool = True
    recording: RecordingSettings = RecordingSettings()
    options: Mapping[str, Any] = attrs.field(factory=dict)
    ptz: CameraPtz = CameraPtz()

    def info(self) -> CameraInfo:
        """What the camera's driver is told about it."""
        return CameraInfo(
            id=self.id, name=self.name, kind=self.kind, zone=self.zone, emplacement=self.emplacement
        )


@attrs.frozen
class Habilitation:
    """A user's authorisation to see video: reference, date granted, expiry."""

    reference: str
    granted: date
    expires: date


@attrs.frozen
class UserConfig:
    """A named account declared in YAML (accounts also live in the database; panel issue)."""

    username: str
    role: str
    full_name: str | None = None
    zones: tuple[str, ...] = ()
    habilitation: Habilitation | None = None


@attrs.frozen
class RoleConfig:
    """A role: a name and the permissions it grants."""

    name: str
    permissions: frozenset[Permission]


@attrs.frozen
class HubSettings:
    """The ``hub:`` section: the installation's name, time zone and data folder."""

    name: str
    time_zone: str
    data_dir: Path


@attrs.frozen
class HttpConfig:
    """The ``http:`` section: where the panel and API listen."""

    host: str = DEFAULT_HTTP_HOST
    port: int = DEFAULT_HTTP_PORT
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    """PEM files (relative paths are from the configuration folder): HTTPS when both are set."""

    @property
    def tls(self) -> bool:
        """Whether the panel is served over HTTPS."""
        return self.tls_certificate is not None and self.tls_key is not None


@attrs.frozen
class StorageConfig:
    """The ``storage:`` section: which backend keeps recordings, and its options."""

    backend: str = "local"
    options: Mapping[str, Any] = attrs.field(factory=dict)
    purge_interval_s: float = DEFAULT_PURGE_INTERVAL_S
    min_free_percent: float = DEFAULT_MIN_FREE_PERCENT
    min_free_gb: float | None = None
    critical_free_percent: float = DEFAULT_CRITICAL_FREE_PERCENT
    min_retention_days: int = DEFAULT_MIN_RETENTION_DAYS


@attrs.frozen
class NotifierConfig:
    """One entry of ``notifiers:``: becomes the service ``notify.<id>``."""

    id: str
    type: str
    options: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class HubConfig:
    """The whole validated configuration of one hub."""

    config_dir: Path
    hub: HubSettings
    http: HttpConfig
    storage: StorageConfig
    recording: RecordingSettings = RecordingSettings()
    ptz: PtzSettings = PtzSettings()
    wall: WallSettings = WallSettings()
    sites: tuple[Site, ...] = ()
    zones: tuple[Zone, ...] = ()
    emplacements: tuple[Emplacement, ...] = ()
    cameras: tuple[CameraConfig, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    users: tuple[UserConfig, ...] = ()
    roles: tuple[RoleConfig, ...] = ()

    def camera(self, camera_id: str) -> CameraConfig:
        """The camera with ``camera_id``; ``KeyError`` when there is none."""
        for camera in self.cameras:
            if camera.id == camera_id:
                return camera
        raise KeyError(camera_id)
