"""The public surface for plugins.

A plugin imports this module (and ``cityhub.testing`` in its tests), nothing else from
cityhub. Everything here is a stable contract: value types, the ``hookimpl`` marker, the
base classes of the three plugin kinds (camera drivers, storage backends, notifiers) and the
capability protocols a camera driver may implement.
"""

from __future__ import annotations

import abc
import enum
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol, runtime_checkable

import attrs
import pluggy
import voluptuous as vol

__all__ = [
    "AUDIO_CODECS",
    "CAPABILITIES",
    "PROJECT_NAME",
    "PTZ",
    "AudioInfo",
    "AuthenticationError",
    "CameraDriver",
    "CameraEvent",
    "CameraInfo",
    "CameraKind",
    "CameraState",
    "Clock",
    "Context",
    "DiscoveryMatcher",
    "DriverHost",
    "EmitEvent",
    "Events",
    "MediaPacket",
    "NotReadyError",
    "Notification",
    "Notifier",
    "PTZPosition",
    "PTZPositioning",
    "PacketReader",
    "Preset",
    "PrivacyMask",
    "PrivacyMasks",
    "Snapshot",
    "StorageBackend",
    "StorageUsage",
    "StreamEndedError",
    "StreamError",
    "StreamInfo",
    "StreamProfile",
    "Streams",
    "capabilities_of",
    "hookimpl",
]

PROJECT_NAME = "cityhub"
"""The pluggy project name, which is also the entry-point group plugins declare."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for a plugin's hook implementations: ``@hookimpl def cityhub_camera_drivers(): ...``."""


# --------------------------------------------------------------------------------------------
# Who caused what
# --------------------------------------------------------------------------------------------


def _new_id() -> str:
    return uuid.uuid4().hex


@attrs.frozen
class Context:
    """Who or what caused an event or a service call: a user, an automation, or the system.

    ``priority`` ranks the caller where commands compete (PTZ control: see ``cityhub.ptz``);
    the web layer sets it from the user's role, and without it the rank follows the origin:
    a user outranks an automation, which outranks the system.
    """

    user: str | None = None
    automation: str | None = None
    parent_id: str | None = None
    id: str = attrs.field(factory=_new_id)
    priority: int | None = None

    @property
    def origin(self) -> str:
        """A label for logs and audit: ``user:NAME``, ``automation:ID`` or ``system``."""
        if self.user is not None:
            return f"user:{self.user}"
        if self.automation is not None:
            return f"automation:{self.automation}"
        return "system"


# --------------------------------------------------------------------------------------------
# Cameras as the core knows them
# --------------------------------------------------------------------------------------------


class CameraKind(enum.StrEnum):
    """What a camera physically is."""

    FIXED = "fixed"
    PTZ = "ptz"
    PANORAMIC = "panoramic"


class CameraState(enum.StrEnum):
    """Where a camera's connection stands."""

    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


@attrs.frozen
class CameraInfo:
    """What a driver is told about the camera it drives (from the validated configuration)."""

    id: str
    name: str
    kind: CameraKind
    zone: str
    emplacement: str | None = None


class NotReadyError(Exception):
    """Raised by a driver whose device cannot be reached yet; the core retries with backoff."""


class AuthenticationError(Exception):
    """Raised by a driver whose device refused the configured credentials.

    Retrying soon cannot help and may lock the account on the device: the core shows the
    camera as ``error`` with the reason "authentication failed" and retries only rarely.
    """


class StreamError(Exception):
    """A stream failed (connection lost, bad data); the core reconnects with backoff."""


class StreamEndedError(StreamError):
    """A stream ended cleanly (end of file, camera closed it); the core reconnects."""


# --------------------------------------------------------------------------------------------
# Media values
# --------------------------------------------------------------------------------------------


@attrs.frozen
class StreamProfile:
    """One stream a camera offers (main, sub, ...).

    ``url`` is what FFmpeg opens (``rtsp://user:pass@host/path``) for network cameras; it may
    carry credentials and is never logged. A driver that produces packets itself leaves it
    ``None`` and implements :meth:`Streams.open_stream`.
    """

    name: str
    codec: str = "h264"
    width: int = 0
    height: int = 0
    fps: float = 0.0
    bitrate: int | None = None
    url: str | None = None


AUDIO_CODECS: frozenset[str] = frozenset({"aac", "pcm_mulaw", "pcm_alaw"})
"""Audio codecs the core records (FFmpeg's names): AAC and G.711 (u-law, A-law)."""


@attrs.frozen
class AudioInfo:
    """The codec parameters of a stream's audio track: enough to mux it without decoding.

    ``codec`` is FFmpeg's name (``aac``, ``pcm_mulaw``, ``pcm_alaw``: see
    :data:`AUDIO_CODECS`; the core drops other codecs); ``extradata`` is the AAC
    AudioSpecificConfig (packets are raw AAC frames, without ADTS headers), empty for G.711.
    """

    codec: str
    sample_rate: int
    channels: int
    time_base: tuple[int, int]
    extradata: bytes = b""


@attrs.frozen
class StreamInfo:
    """The codec parameters of an opened stream: enough to mux it without decoding.

    ``extradata`` is either Annex-B parameter sets (SPS/PPS starting with a ``00 00 01`` or
    ``00 00 00 01`` start code; packets are then Annex-B too) or an ``avcC``/``hvcC`` record
    (first byte 1; packets are then length-prefixed), as FFmpeg's demuxers give them.

    ``audio`` describes the stream's one audio track, ``None`` when it has none (or the
    reader does not pass it on): a reader that produces video only needs no change.
    """

    codec: str
    width: int
    height: int
    fps: float
    time_base: tuple[int, int]
    extradata: bytes = b""
    audio: AudioInfo | None = None

    @property
    def length_prefixed(self) -> bool:
        """Whether packets are length-prefixed (avcC/hvcC extradata) rather than Annex-B."""
        return self.extradata[:1] == b"\x01"


@attrs.frozen
class MediaPacket:
    """One compressed frame (Annex-B or length-prefixed: see :class:`StreamInfo`) and its times.

    ``dts`` and ``pts`` count ``StreamInfo.time_base`` units; ``wallclock`` is the UTC POSIX
    time (seconds) at which the packet was captured or received.

    With ``audio`` true the packet belongs to the audio track (``StreamInfo.audio``): its
    ``dts`` and ``pts`` count ``AudioInfo.time_base`` units on the same clock as the video's
    (as the RTSP demuxer aligns them), and ``keyframe`` is ignored. Readers interleave audio
    and video packets in the order they arrive.
    """

    data: bytes
    dts: int
    pts: int
    keyframe: bool
    wallclock: float
    duration: int = 0
    audio: bool = False


class PacketReader(Protocol):
    """A blocking source of packets, read from the stream's own ingest thread.

    ``read`` blocks until the next packet is due, raises :class:`StreamEndedError` or
    :class:`StreamError` when the stream is over or broken, and must return within about a
    second of ``close`` being called from another thread.
    """

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of this stream."""
        ...

    def read(self) -> MediaPacket:
        """Return the next packet, blocking until it is available."""
        ...

    def close(self) -> None:
        """Release the source; a blocked ``read`` returns or raises soon after."""
        ...


@attrs.frozen
class Preset:
    """A stored PTZ position."""

    token: str
    name: str


@attrs.frozen
class PTZPosition:
    """Where a PTZ head points: pan and tilt in -1..1, zoom in 0..1 (ONVIF's generic spaces)."""

    pan: float
    tilt: float
    zoom: float


@attrs.frozen
class DiscoveryMatcher:
    """What a plugin claims among discovered devices, returned by ``cityhub_discovery_matchers``.

    A device matches when it advertises one of ``zeroconf_types`` (``_axis-video._tcp.local.``)
    or when one of its ONVIF scopes starts with one of ``onvif_scopes``
    (``onvif://www.onvif.org/hardware/``); ``manufacturers`` matches the ONVIF
    ``mfr``/``name`` scopes or a zeroconf vendor hint, case-insensitively. ``driver`` is the
    ``NAME`` of the camera driver that can drive a matched device; ``priority`` orders several
    matches (the highest wins: a vendor plugin outbids the generic ONVIF one).
    """

    driver: str
    zeroconf_types: tuple[str, ...] = ()
    onvif_scopes: tuple[str, ...] = ()
    manufacturers: tuple[str, ...] = ()
    priority: int = 0


@attrs.frozen
class PrivacyMask:
    """A polygon hidden in the camera's picture, in normalised coordinates (0..1)."""

    token: str
    points: tuple[tuple[float, float], ...]
    enabled: bool = True


@attrs.frozen
class CameraEvent:
    """Something a camera reported: ``camera.motion``, ``camera.tampering``, ``camera.input``.

    ``data`` holds the details (``active: bool`` for stateful events) and ``raw`` the
    vendor's own topic or payload, kept for diagnostics.
    """

    event_type: str
    data: Mapping[str, Any] = attrs.field(factory=dict)
    raw: str | None = None


# --------------------------------------------------------------------------------------------
# What the core gives a driver
# --------------------------------------------------------------------------------------------


class DriverHost(Protocol):
    """The core's services available to one camera driver."""

    @property
    def camera(self) -> CameraInfo:
        """The camera this driver drives."""
        ...

    @property
    def cache_dir(self) -> Path:
        """A folder the driver may keep files in across restarts (created on demand)."""
        ...

    @property
    def logger(self) -> logging.Logger:
        """A logger named after the driver and the camera; its output is redacted."""
        ...

    def set_attribute(self, key: str, value: Any) -> None:
        """Publish a camera attribute (firmware, clock drift, ...) in the camera's state."""
        ...


# --------------------------------------------------------------------------------------------
# Plugin kinds
# --------------------------------------------------------------------------------------------


class CameraDriver(abc.ABC):
    """Base class of camera drivers; a plugin returns subclasses from ``cityhub_camera_drivers``.

    ``NAME`` is what a camera's ``driver:`` key names in YAML; ``CONFIG_SCHEMA`` validates the
    camera's ``options:`` mapping. A driver implements the capability protocols it supports
    (:class:`Streams`, :class:`Snapshot`, :class:`PTZ`, :class:`Events`,
    :class:`PrivacyMasks`, :class:`Clock`); the core asks, it never assumes.
    """

    NAME: ClassVar[str]
    CONFIG_SCHEMA: ClassVar[vol.Schema] = vol.Schema({})
    DESCRIPTION: ClassVar[str] = ""

    def __init__(self, host: DriverHost, options: Mapping[str, Any]) -> None:
        self.host = host
        self.options = options

    async def async_setup(self) -> None:  # noqa: B027 - optional hook
        """Connect to the device; raise :class:`NotReadyError` to be retried with backoff."""

    async def async_teardown(self) -> None:  # noqa: B027 - optional hook
        """Release what ``async_setup`` acquired; called once at shutdown or removal."""


class StorageBackend(abc.ABC):
    """Base class of storage backends: where recordings and exports are written.

    Paths are relative, ``/``-separated keys (``cam-1/2026/11/22/120000.mp4``); a backend maps
    them onto its medium. ``CONFIG_SCHEMA`` validates ``storage.options`` in YAML.
    """

    NAME: ClassVar[str]
    CONFIG_SCHEMA: ClassVar[vol.Schema] = vol.Schema({})
    DESCRIPTION: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any], base_dir: Path) -> None:
        self.options = options
        self.base_dir = base_dir

    @abc.abstractmethod
    def open_write(self, key: str) -> BinaryIO:
        """Open ``key`` for writing (creating parents); blocking, called from worker threads."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open ``key`` for reading; raises ``FileNotFoundError`` when absent."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Sequence[str]:
        """Every key under ``prefix``, sorted."""

    @abc.abstractmethod
    def usage(self) -> StorageUsage:
        """Bytes used by and free for recordings on the medium."""


@attrs.frozen
class StorageUsage:
    """Space on a storage medium, in bytes."""

    total: int
    used: int
    free: int


@attrs.frozen
class Notification:
    """A message for people: an alarm, a storage warning, an expiring authorisation."""

    title: str
    message: str
    severity: str = "info"
    camera: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)


class Notifier(abc.ABC):
    """Base class of notifiers (mail, MQTT, SMS gateways...).

    ``NAME`` is what a notifier's ``type:`` key names in YAML; ``CONFIG_SCHEMA`` validates its
    ``options:``. Each configured notifier becomes the service ``notify.<id>``.
    """

    NAME: ClassVar[str]
    CONFIG_SCHEMA: ClassVar[vol.Schema] = vol.Schema({})
    DESCRIPTION: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any], logger: logging.Logger) -> None:
        self.options = options
        self.logger = logger

    @abc.abstractmethod
    async def async_send(self, notification: Notification) -> None:
        """Deliver ``notification``; raise on failure so the caller can report it."""


# --------------------------------------------------------------------------------------------
# Capabilities a camera driver may implement
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Streams(Protocol):
    """The camera offers video streams."""

    def stream_profiles(self) -> Sequence[StreamProfile]:
        """The streams this camera offers, main stream first."""
        ...

    def open_stream(self, profile: str) -> PacketReader:
        """Open ``profile`` for reading; called from the ingest thread (may block).

        Raise :class:`StreamError` when the camera cannot be reached (the core retries with
        backoff). Drivers whose profiles carry a ``url`` may raise ``NotImplementedError``:
        the core then opens the URL itself.
        """
        ...


@runtime_checkable
class Snapshot(Protocol):
    """The camera can return a still picture."""

    async def async_snapshot(self) -> bytes:
        """A JPEG of the current picture."""
        ...


@runtime_checkable
class PTZ(Protocol):
    """The camera pans, tilts and zooms. Velocities and positions are in -1..1 (zoom 0..1)."""

    async def async_ptz_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start a continuous move at the given velocities."""
        ...

    async def async_ptz_stop(self) -> None:
        """Stop any move."""
        ...

    async def async_ptz_presets(self) -> Sequence[Preset]:
        """The presets stored in the camera."""
        ...

    async def async_ptz_goto_preset(self, token: str) -> None:
        """Move to a stored preset."""
        ...

    async def async_ptz_set_preset(self, name: str, token: str | None = None) -> Preset:
        """Store the current position as a preset (replacing ``token`` when given)."""
        ...

    async def async_ptz_remove_preset(self, token: str) -> None:
        """Delete a stored preset."""
        ...

    async def async_ptz_home(self) -> None:
        """Move to the home position."""
        ...


@runtime_checkable
class PTZPositioning(Protocol):
    """The PTZ head reports its position and moves to absolute or relative positions."""

    async def async_ptz_position(self) -> PTZPosition:
        """Where the head points now."""
        ...

    async def async_ptz_absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move to an absolute position (pan, tilt in -1..1; zoom in 0..1)."""
        ...

    async def async_ptz_relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move by an offset from the current position (same units as the absolute move)."""
        ...


EmitEvent = Callable[[CameraEvent], None]


@runtime_checkable
class Events(Protocol):
    """The camera reports events (motion, tampering, inputs)."""

    def run_events(self, emit: EmitEvent) -> Awaitable[None]:
        """Run until cancelled, calling ``emit`` for each event; the core restarts it on error."""
        ...


@runtime_checkable
class PrivacyMasks(Protocol):
    """The camera hides areas of its picture itself (ONVIF Media2 masks and the like)."""

    async def async_get_privacy_masks(self) -> Sequence[PrivacyMask]:
        """The masks currently set in the camera."""
        ...

    async def async_set_privacy_masks(self, masks: Sequence[PrivacyMask]) -> None:
        """Replace the camera's masks with ``masks``."""
        ...


@runtime_checkable
class Clock(Protocol):
    """The camera tells its own time, so the core can measure drift."""

    async def async_camera_time(self) -> datetime:
        """The camera's current time, timezone-aware."""
        ...


CAPABILITIES: Mapping[str, type] = {
    "streams": Streams,
    "snapshot": Snapshot,
    "ptz": PTZ,
    "ptz_position": PTZPositioning,
    "events": Events,
    "privacy_masks": PrivacyMasks,
    "clock": Clock,
}
"""Capability name -> protocol, in the order the core reports them."""


def capabilities_of(driver_type: type[CameraDriver]) -> list[str]:
    """Names of the capabilities a driver class implements (by its methods, not instances)."""
    found = []
    for name, proto in CAPABILITIES.items():
        members = [m for m in vars(proto) if not m.startswith("_")]
        methods = [m for m in members if callable(getattr(proto, m, None))]
        if methods and all(callable(getattr(driver_type, m, None)) for m in methods):
            found.append(name)
    return found
