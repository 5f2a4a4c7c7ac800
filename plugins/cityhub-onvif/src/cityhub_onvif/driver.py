"""The ONVIF camera driver: one device reached through its ONVIF services.

At set-up the driver reads the device (information, services, media profiles and their
stream and snapshot addresses, the PTZ node) and keeps what the device really supports in
:attr:`OnvifCamera.supported`. The class implements every capability protocol of
``cityhub.api`` so the core finds them; a call to one the device lacks raises
:class:`CapabilityNotSupportedError`. Events come from a PullPoint subscription
(:mod:`cityhub_onvif.pullpoint`) and their topics become hub events through
:attr:`OnvifCamera.TOPICS`, which a vendor plugin extends in a subclass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import attrs
import voluptuous as vol
from zeep.exceptions import Fault

from cityhub.api import (
    AuthenticationError,
    CameraDriver,
    CameraEvent,
    DriverHost,
    EmitEvent,
    NotReadyError,
    PacketReader,
    Preset,
    PrivacyMask,
    PTZPosition,
    StreamProfile,
)
from cityhub_onvif.client import ONVIFCamera
from cityhub_onvif.const import (
    DEFAULT_PORT,
    DEFAULT_TIMEOUT_S,
    NS_EVENTS,
    NS_MEDIA,
    NS_MEDIA2,
    NS_PTZ,
    SNAPSHOT_MAX_BYTES,
)
from cityhub_onvif.errors import (
    NETWORK_ERRORS,
    CapabilityNotSupportedError,
    OnvifError,
    describe,
    is_auth_error,
)
from cityhub_onvif.events import (
    DEFAULT_TOPICS,
    EVENT_OTHER,
    OnvifMessage,
    TopicRule,
    event_from_rule,
    match_topic,
)
from cityhub_onvif.media2 import Media2Client
from cityhub_onvif.pullpoint import PullPointLoop

CODECS: Mapping[str, str] = {"H264": "h264", "H265": "hevc", "JPEG": "mjpeg", "MPEG4": "mpeg4"}
"""ONVIF encodings -> FFmpeg's codec names (what :class:`StreamProfile` carries)."""

SUPPORTED: tuple[str, ...] = (
    "streams",
    "snapshot",
    "ptz",
    "ptz_position",
    "ptz_absolute",
    "ptz_relative",
    "ptz_home",
    "events",
    "privacy_masks",
    "clock",
)
"""Everything :attr:`OnvifCamera.supported` may name."""


def profile_choice(value: Any) -> int | str:
    """A media profile by index (0 is the first) or by its ONVIF token."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise vol.Invalid("expected a profile index (0, 1, ...) or a profile token (text)")
    if isinstance(value, int) and value < 0:
        raise vol.Invalid("a profile index starts at 0")
    if isinstance(value, str) and not value.strip():
        raise vol.Invalid("a profile token cannot be empty")
    return value


def sub_profile_choice(value: Any) -> int | str | None:
    """Like :func:`profile_choice`, or ``false`` for no sub-stream."""
    if value is False or value is None:
        return None
    return profile_choice(value)


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Required("host"): vol.All(str, vol.Length(min=1, msg="host cannot be empty")),
        vol.Optional("port", default=DEFAULT_PORT): vol.All(
            int, vol.Range(min=1, max=65535, msg="port must be between 1 and 65535")
        ),
        vol.Required("username"): str,
        vol.Required("password"): str,
        vol.Optional("main_profile", default=0): profile_choice,
        vol.Optional("sub_profile", default=1): sub_profile_choice,
        vol.Optional("events", default=True): bool,
        vol.Optional("forward_unknown_events", default=False): bool,
        vol.Optional("timeout", default=DEFAULT_TIMEOUT_S): vol.All(
            vol.Coerce(float),
            vol.Range(min=1.0, max=120.0, msg="timeout is in seconds, between 1 and 120"),
        ),
    }
)


def with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with ``username:password@`` (percent-encoded) replacing any credentials in it."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    auth = f"{quote(username, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{auth}@{netloc}"))


@attrs.frozen
class MediaProfile:
    """One ONVIF media profile as the device describes it."""

    token: str
    name: str
    codec: str
    width: int
    height: int
    fps: float
    bitrate: int | None
    video_source_configuration: str | None
    ptz_configuration: str | None
    ptz_node: str | None


@attrs.frozen
class PtzNode:
    """What the PTZ node says it can do (ONVIF PTZ GetNode): asked, never assumed."""

    continuous_pan_tilt: bool
    continuous_zoom: bool
    absolute: bool
    relative: bool
    home: bool
    max_presets: int


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _read_profile(raw: Any) -> MediaProfile:
    encoder = _get(raw, "VideoEncoderConfiguration")
    encoding = str(_get(encoder, "Encoding") or "H264")
    fps = _get(encoder, "RateControl", "FrameRateLimit")
    bitrate = _get(encoder, "RateControl", "BitrateLimit")
    return MediaProfile(
        token=str(raw.token),
        name=str(_get(raw, "Name") or raw.token),
        codec=CODECS.get(encoding.upper(), encoding.lower()),
        width=int(_get(encoder, "Resolution", "Width") or 0),
        height=int(_get(encoder, "Resolution", "Height") or 0),
        fps=float(fps or 0.0),
        bitrate=int(bitrate) * 1000 if bitrate else None,
        video_source_configuration=_get(raw, "VideoSourceConfiguration", "token"),
        ptz_configuration=_get(raw, "PTZConfiguration", "token"),
        ptz_node=_get(raw, "PTZConfiguration", "NodeToken"),
    )


def _read_node(raw: Any) -> PtzNode:
    spaces = _get(raw, "SupportedPTZSpaces")

    def has(name: str) -> bool:
        return bool(_get(spaces, name))

    return PtzNode(
        continuous_pan_tilt=has("ContinuousPanTiltVelocitySpace"),
        continuous_zoom=has("ContinuousZoomVelocitySpace"),
        absolute=has("AbsolutePanTiltPositionSpace") or has("AbsoluteZoomPositionSpace"),
        relative=has("RelativePanTiltTranslationSpace") or has("RelativeZoomTranslationSpace"),
        home=bool(_get(raw, "HomeSupported")),
        max_presets=int(_get(raw, "MaximumNumberOfPresets") or 0),
    )


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} {value} is outside {low:g}..{high:g}")


class OnvifCamera(CameraDriver):
    """Any ONVIF camera (Profile S or T): RTSP streams, snapshot, PTZ, events, masks, clock."""

    NAME = "onvif"
    DESCRIPTION = "ONVIF cameras: streams, snapshots, PTZ, events (PullPoint), masks, clock"
    CONFIG_SCHEMA = CONFIG_SCHEMA
    TOPICS: ClassVar[Mapping[str, TopicRule]] = DEFAULT_TOPICS
    """ONVIF topic -> hub event; a vendor subclass adds its own: ``{**OnvifCamera.TOPICS, ...}``."""

    def __init__(self, host: DriverHost, options: Mapping[str, Any]) -> None:
        super().__init__(host, options)
        self._timeout: float = options.get("timeout", DEFAULT_TIMEOUT_S)
        self._device: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._media2: Media2Client | None = None
        self._profiles: list[StreamProfile] = []
        self._main: MediaProfile | None = None
        self._node: PtzNode | None = None
        self._snapshot_uri: str | None = None
        self._unknown_topics: set[str] = set()
        self.pullpoint: PullPointLoop | None = None
        """The running event loop (its counters tell how subscriptions fare), once started."""
        self.supported: frozenset[str] = frozenset()
        """What this device supports (names from :data:`SUPPORTED`), known after set-up."""
        self.device_info: Mapping[str, str] = {}
        """Manufacturer, model, firmware, serial and hardware id, as the device reports them."""

    @property
    def logger(self) -> logging.Logger:
        """The camera's logger (redacted by the hub's handlers)."""
        return self.host.logger

    def _where(self) -> str:
        return f"{self.options['host']}:{self.options.get('port', DEFAULT_PORT)}"

    async def _call(self, request: Awaitable[Any]) -> Any:
        return await asyncio.wait_for(request, self._timeout)

    # --- set-up ---------------------------------------------------------------------------

    async def async_setup(self) -> None:
        """Read the device; not ready when unreachable, an authentication error when refused."""
        options = self.options
        device = ONVIFCamera(
            options["host"],
            options.get("port", DEFAULT_PORT),
            options["username"],
            options["password"],
            no_cache=True,
            adjust_time=True,
        )
        self._device = device
        self._http = aiohttp.ClientSession()
        try:
            await self._async_read_device()
        except BaseException as err:
            await self.async_teardown()
            if is_auth_error(err):
                raise AuthenticationError(
                    f"{self._where()} refused user {options['username']!r}: check the "
                    "username and password in the camera's options"
                ) from err
            if isinstance(err, NETWORK_ERRORS):
                raise NotReadyError(f"{self._where()} unreachable ({describe(err)})") from err
            raise

    async def _async_read_device(self) -> None:
        device = self._device
        await self._call(device.update_xaddrs())
        devicemgmt = await device.create_devicemgmt_service()
        info = await self._call(devicemgmt.GetDeviceInformation())
        self.device_info = {
            key: str(_get(info, field) or "")
            for key, field in (
                ("manufacturer", "Manufacturer"),
                ("model", "Model"),
                ("firmware", "FirmwareVersion"),
                ("serial", "SerialNumber"),
                ("hardware_id", "HardwareId"),
            )
        }
        for key, value in self.device_info.items():
            self.host.set_attribute(key, value)
        supported = {"clock"}
        if NS_MEDIA in device.xaddrs:
            await self._async_read_media(supported)
        else:
            self.logger.warning("%s has no ONVIF media service: no streams", self._where())
        if NS_PTZ in device.xaddrs and self._main is not None and self._main.ptz_configuration:
            await self._async_read_ptz(supported)
        if NS_EVENTS in device.xaddrs and self.options.get("events", True):
            supported.add("events")
        media2 = device.xaddrs.get(NS_MEDIA2)
        if media2 and self._http is not None and self._main is not None:
            self._media2 = Media2Client(
                self._http,
                media2,
                self.options["username"],
                self.options["password"],
                self._timeout,
                clock_offset=lambda: getattr(device, "dt_diff", None),
            )
            if await self._async_masks_supported():
                supported.add("privacy_masks")
        self.supported = frozenset(supported)
        self.host.set_attribute("onvif_capabilities", sorted(self.supported))
        main = self._main
        self.logger.info(
            "ONVIF %s %s (firmware %s): %s; main stream %s",
            self.device_info.get("manufacturer"),
            self.device_info.get("model"),
            self.device_info.get("firmware"),
            ", ".join(sorted(self.supported)),
            f"{main.codec} {main.width}x{main.height}@{main.fps:g}" if main else "none",
        )

    def _choose(
        self, profiles: Sequence[MediaProfile], choice: int | str, key: str
    ) -> MediaProfile:
        if isinstance(choice, int):
            if choice < len(profiles):
                return profiles[choice]
            raise OnvifError(
                f"{key}: {choice} but the camera has {len(profiles)} media profile(s) "
                f"(indexes 0 to {len(profiles) - 1})"
            )
        for profile in profiles:
            if profile.token == choice:
                return profile
        tokens = ", ".join(p.token for p in profiles)
        raise OnvifError(f"{key}: no media profile with token {choice!r} (the camera has {tokens})")

    async def _async_read_media(self, supported: set[str]) -> None:
        media = await self._device.create_media_service()
        raw_profiles = await self._call(media.GetProfiles())
        profiles = [_read_profile(raw) for raw in raw_profiles or []]
        if not profiles:
            self.logger.warning("%s has no media profile: no streams", self._where())
            return
        main = self._choose(profiles, self.options.get("main_profile", 0), "main_profile")
        chosen = [("main", main)]
        sub_choice = self.options.get("sub_profile", 1)
        if sub_choice is not None:
            if sub_choice == 1 and len(profiles) < 2:
                sub = None  # the default asks for a second profile only when there is one
            else:
                sub = self._choose(profiles, sub_choice, "sub_profile")
            if sub is not None and sub.token != main.token:
                chosen.append(("sub", sub))
        self._main = main
        self._profiles = []
        for name, profile in chosen:
            uri = await self._call(
                media.GetStreamUri(
                    {
                        "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                        "ProfileToken": profile.token,
                    }
                )
            )
            url = with_credentials(str(uri.Uri), self.options["username"], self.options["password"])
            self._profiles.append(
                StreamProfile(
                    name,
                    profile.codec,
                    profile.width,
                    profile.height,
                    profile.fps,
                    profile.bitrate,
                    url=url,
                )
            )
        supported.add("streams")
        try:
            snapshot = await self._call(media.GetSnapshotUri({"ProfileToken": main.token}))
        except NETWORK_ERRORS:
            raise
        except Exception as err:
            self.logger.info("No snapshot URI for profile %s (%s)", main.token, describe(err))
        else:
            if getattr(snapshot, "Uri", None):
                self._snapshot_uri = str(snapshot.Uri)
                supported.add("snapshot")

    async def _async_read_ptz(self, supported: set[str]) -> None:
        assert self._main is not None
        ptz = await self._device.create_ptz_service()
        node_token = self._main.ptz_node
        if not node_token:
            configuration = await self._call(
                ptz.GetConfiguration({"PTZConfigurationToken": self._main.ptz_configuration})
            )
            node_token = _get(configuration, "NodeToken")
        try:
            node = _read_node(await self._call(ptz.GetNode({"NodeToken": node_token})))
        except Fault as err:
            if is_auth_error(err):
                raise
            self.logger.warning(
                "PTZ node %s unreadable (%s): PTZ left off for this camera",
                node_token,
                describe(err),
            )
            return
        self._node = node
        if node.continuous_pan_tilt or node.continuous_zoom:
            supported.add("ptz")
        supported.add("ptz_position")
        if node.absolute:
            supported.add("ptz_absolute")
        if node.relative:
            supported.add("ptz_relative")
        if node.home:
            supported.add("ptz_home")

    async def _async_masks_supported(self) -> bool:
        assert self._media2 is not None
        try:
            await self._media2.async_get_masks()
        except NETWORK_ERRORS:
            raise
        except Exception as err:
            if is_auth_error(err):
                raise
            self.logger.info("Media2 masks not available (%s)", describe(err))
            return False
        return True

    async def async_teardown(self) -> None:
        """Close the device's HTTP sessions."""
        device, self._device = self._device, None
        http, self._http = self._http, None
        if device is not None:
            await device.close()
        if http is not None:
            await http.close()

    def _require(self, capability: str, what: str) -> Any:
        if capability not in self.supported or self._device is None:
            raise CapabilityNotSupportedError(
                f"camera {self.host.camera.id} ({self._where()}) has no {what}"
            )
        return self._device

    # --- streams --------------------------------------------------------------------------

    def stream_profiles(self) -> Sequence[StreamProfile]:
        """The main stream, and the sub-stream when the camera has a second profile."""
        return self._profiles

    def open_stream(self, profile: str) -> PacketReader:
        """Not used: each profile carries its RTSP URL, which the core opens."""
        raise NotImplementedError

    # --- snapshot -------------------------------------------------------------------------

    async def async_snapshot(self) -> bytes:
        """A JPEG from the main profile's snapshot URI (HTTP digest, or basic if asked)."""
        self._require("snapshot", "snapshot URI")
        assert self._snapshot_uri is not None
        assert self._http is not None
        user, password = self.options["username"], self.options["password"]
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        digest = aiohttp.DigestAuthMiddleware(user, password)
        async with self._http.get(
            self._snapshot_uri, middlewares=(digest,), timeout=timeout
        ) as reply:
            challenge = reply.headers.get("WWW-Authenticate", "")
            status, body = reply.status, await reply.content.read(SNAPSHOT_MAX_BYTES + 1)
        if status == 401 and challenge.lower().startswith("basic"):
            basic = {"Authorization": aiohttp.encode_basic_auth(user, password)}
            async with self._http.get(self._snapshot_uri, headers=basic, timeout=timeout) as reply:
                status, body = reply.status, await reply.content.read(SNAPSHOT_MAX_BYTES + 1)
        if status == 401:
            raise AuthenticationError(f"{self._where()} refused the credentials for snapshots")
        if status != 200:
            raise OnvifError(f"snapshot from {self._where()} failed: HTTP {status}")
        if len(body) > SNAPSHOT_MAX_BYTES:
            raise OnvifError(f"snapshot from {self._where()} is over {SNAPSHOT_MAX_BYTES} bytes")
        if not body.startswith(b"\xff\xd8"):
            raise OnvifError(f"snapshot from {self._where()} is not a JPEG")
        return bytes(body)

    # --- PTZ ------------------------------------------------------------------------------

    async def _ptz(self, capability: str, what: str) -> tuple[Any, str]:
        self._require(capability, what)
        assert self._main is not None
        return await self._device.create_ptz_service(), self._main.token

    def _vector(self, pan: float, tilt: float, zoom: float) -> dict[str, Any]:
        node = self._node
        vector: dict[str, Any] = {}
        if node is None or node.continuous_pan_tilt or node.absolute or node.relative:
            vector["PanTilt"] = {"x": pan, "y": tilt}
        if node is None or node.continuous_zoom or node.absolute or node.relative:
            vector["Zoom"] = {"x": zoom}
        return vector

    async def async_ptz_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Start a continuous move at the given velocities (-1..1 each)."""
        for name, value in (("pan", pan), ("tilt", tilt), ("zoom", zoom)):
            _check_range(f"{name} velocity", value, -1.0, 1.0)
        ptz, token = await self._ptz("ptz", "PTZ head")
        assert self._node is not None
        velocity: dict[str, Any] = {}
        if self._node.continuous_pan_tilt:
            velocity["PanTilt"] = {"x": pan, "y": tilt}
        if self._node.continuous_zoom:
            velocity["Zoom"] = {"x": zoom}
        await self._call(ptz.ContinuousMove({"ProfileToken": token, "Velocity": velocity}))

    async def async_ptz_stop(self) -> None:
        """Stop any pan, tilt and zoom move."""
        ptz, token = await self._ptz("ptz", "PTZ head")
        await self._call(ptz.Stop({"ProfileToken": token, "PanTilt": True, "Zoom": True}))

    async def async_ptz_presets(self) -> Sequence[Preset]:
        """The presets stored in the camera."""
        ptz, token = await self._ptz("ptz", "PTZ head")
        presets = await self._call(ptz.GetPresets({"ProfileToken": token}))
        return [
            Preset(token=str(p.token), name=str(_get(p, "Name") or p.token)) for p in presets or []
        ]

    async def async_ptz_goto_preset(self, token: str) -> None:
        """Move to a stored preset."""
        ptz, profile = await self._ptz("ptz", "PTZ head")
        await self._call(ptz.GotoPreset({"ProfileToken": profile, "PresetToken": token}))

    async def async_ptz_set_preset(self, name: str, token: str | None = None) -> Preset:
        """Store the current position as preset ``name`` (replacing ``token`` when given)."""
        ptz, profile = await self._ptz("ptz", "PTZ head")
        request: dict[str, Any] = {"ProfileToken": profile, "PresetName": name}
        if token is not None:
            request["PresetToken"] = token
        result = await self._call(ptz.SetPreset(request))
        return Preset(token=str(result or token), name=name)

    async def async_ptz_remove_preset(self, token: str) -> None:
        """Delete a stored preset."""
        ptz, profile = await self._ptz("ptz", "PTZ head")
        await self._call(ptz.RemovePreset({"ProfileToken": profile, "PresetToken": token}))

    async def async_ptz_home(self) -> None:
        """Move to the home position (when the PTZ node has one)."""
        ptz, profile = await self._ptz("ptz_home", "PTZ home position")
        await self._call(ptz.GotoHomePosition({"ProfileToken": profile}))

    async def async_ptz_position(self) -> PTZPosition:
        """Where the head points now (PTZ GetStatus)."""
        ptz, profile = await self._ptz("ptz_position", "PTZ head")
        status = await self._call(ptz.GetStatus({"ProfileToken": profile}))
        position = _get(status, "Position")
        return PTZPosition(
            pan=float(_get(position, "PanTilt", "x") or 0.0),
            tilt=float(_get(position, "PanTilt", "y") or 0.0),
            zoom=float(_get(position, "Zoom", "x") or 0.0),
        )

    async def async_ptz_absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move to an absolute position (pan, tilt in -1..1; zoom in 0..1)."""
        _check_range("pan", pan, -1.0, 1.0)
        _check_range("tilt", tilt, -1.0, 1.0)
        _check_range("zoom", zoom, 0.0, 1.0)
        ptz, profile = await self._ptz("ptz_absolute", "absolute PTZ positioning")
        await self._call(
            ptz.AbsoluteMove({"ProfileToken": profile, "Position": self._vector(pan, tilt, zoom)})
        )

    async def async_ptz_relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move by an offset from the current position (pan, tilt in -2..2; zoom in -1..1)."""
        _check_range("pan offset", pan, -2.0, 2.0)
        _check_range("tilt offset", tilt, -2.0, 2.0)
        _check_range("zoom offset", zoom, -1.0, 1.0)
        ptz, profile = await self._ptz("ptz_relative", "relative PTZ positioning")
        await self._call(
            ptz.RelativeMove(
                {"ProfileToken": profile, "Translation": self._vector(pan, tilt, zoom)}
            )
        )

    # --- events ---------------------------------------------------------------------------

    def event_for(self, message: OnvifMessage) -> CameraEvent | None:
        """The hub event for ``message``, or ``None`` to drop it; override for odd topics."""
        rule = match_topic(self.TOPICS, message.topic)
        if rule is not None:
            return event_from_rule(rule, message)
        if self.options.get("forward_unknown_events", False):
            return event_from_rule(TopicRule(EVENT_OTHER), message)
        if message.topic not in self._unknown_topics:
            self._unknown_topics.add(message.topic)
            self.logger.debug("Event topic %s is not mapped: dropped", message.topic)
        return None

    async def run_events(self, emit: EmitEvent) -> None:
        """Pull the camera's events until cancelled; returns at once when it has none."""
        if "events" not in self.supported or self._device is None:
            reason = "disabled in its options" if not self.options.get("events", True) else None
            self.logger.info("No ONVIF events for this camera (%s)", reason or "no event service")
            return

        def on_message(message: OnvifMessage) -> None:
            event = self.event_for(message)
            if event is not None:
                emit(event)

        self.pullpoint = PullPointLoop(self._device, on_message, self.logger, self._timeout)
        await self.pullpoint.async_run()

    # --- privacy masks --------------------------------------------------------------------

    async def async_get_privacy_masks(self) -> Sequence[PrivacyMask]:
        """The masks set in the camera (Media2), in 0..1 picture coordinates."""
        self._require("privacy_masks", "Media2 privacy masks")
        assert self._media2 is not None
        return await self._media2.async_get_masks()

    async def async_set_privacy_masks(self, masks: Sequence[PrivacyMask]) -> None:
        """Replace the camera's masks on the main profile's video source with ``masks``."""
        self._require("privacy_masks", "Media2 privacy masks")
        assert self._media2 is not None
        assert self._main is not None
        configuration = self._main.video_source_configuration
        if configuration is None:
            raise CapabilityNotSupportedError(
                f"camera {self.host.camera.id}: the main profile has no video source to mask"
            )
        await self._media2.async_set_masks(masks, configuration)

    # --- clock ----------------------------------------------------------------------------

    async def async_camera_time(self) -> datetime:
        """The camera's UTC time (GetSystemDateAndTime), timezone-aware."""
        device = self._require("clock", "clock")
        devicemgmt = await device.create_devicemgmt_service()
        answer = await self._call(devicemgmt.GetSystemDateAndTime())
        utc = _get(answer, "UTCDateTime")
        if utc is None:
            raise OnvifError(f"{self._where()} gave its time without UTCDateTime")
        return datetime(
            int(utc.Date.Year),
            int(utc.Date.Month),
            int(utc.Date.Day),
            int(utc.Time.Hour),
            int(utc.Time.Minute),
            int(utc.Time.Second),
            tzinfo=UTC,
        )
