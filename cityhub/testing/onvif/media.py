"""The simulator's Media (ver10) and Media2 (ver20) services: profiles, stream and snapshot
URIs, and Media2's privacy masks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs

from cityhub.testing.onvif.ptz import configuration_xml
from cityhub.testing.onvif.soap import (
    SoapFault,
    SoapRequest,
    attr,
    child,
    children,
    esc,
    qattr,
    text,
    xbool,
)

if TYPE_CHECKING:
    from cityhub.testing.onvif.simulator import OnvifSimulator

__all__ = ["MASK_TYPES", "Mask", "Media2Service", "MediaProfile", "MediaService"]

VIDEO_SOURCE_TOKEN = "video_source"  # noqa: S105 - an ONVIF token, not a secret
VIDEO_SOURCE_CONFIGURATION_TOKEN = "video_source_config"  # noqa: S105
MASK_TYPES = ("Color", "Pixelated", "Blurred")
MAX_MASKS = 8
MAX_MASK_POINTS = 16


@attrs.frozen
class MediaProfile:
    """One media profile: an H.264 stream at a resolution and frame rate."""

    token: str
    name: str
    width: int
    height: int
    fps: float
    bitrate: int
    gop: int

    @property
    def encoder_token(self) -> str:
        """Its video encoder configuration's token."""
        return f"encoder_{self.token}"


@attrs.frozen
class Mask:
    """A privacy mask: a polygon in normalised coordinates (-1..1, y up, as ONVIF's)."""

    token: str
    points: tuple[tuple[float, float], ...]
    type: str = "Color"
    color: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """A colour as RGB in 0..255 (written to clients as tt:Color X/Y/Z in the RGB space)."""
    enabled: bool = True
    configuration_token: str = VIDEO_SOURCE_CONFIGURATION_TOKEN


def _video_source_configuration(tag: str, sim: OnvifSimulator) -> str:
    width, height = sim.source_size
    return (
        f'<{tag} token="{VIDEO_SOURCE_CONFIGURATION_TOKEN}"><tt:Name>Video source</tt:Name>'
        f"<tt:UseCount>{len(sim.profiles)}</tt:UseCount>"
        f"<tt:SourceToken>{VIDEO_SOURCE_TOKEN}</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="{width}" height="{height}"/></{tag}>'
    )


def _encoder_v10(tag: str, profile: MediaProfile) -> str:
    fps = math.ceil(profile.fps)
    return (
        f"<{tag} token={qattr(profile.encoder_token)}><tt:Name>{esc(profile.name)}</tt:Name>"
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{profile.width}</tt:Width>"
        f"<tt:Height>{profile.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>"
        f"<tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit>"
        "<tt:EncodingInterval>1</tt:EncodingInterval>"
        f"<tt:BitrateLimit>{profile.bitrate // 1000}</tt:BitrateLimit></tt:RateControl>"
        f"<tt:H264><tt:GovLength>{profile.gop}</tt:GovLength>"
        "<tt:H264Profile>Baseline</tt:H264Profile></tt:H264>"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0"
        "</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL>"
        "<tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        f"<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>"
    )


def _encoder_v20(tag: str, profile: MediaProfile) -> str:
    return (
        f'<{tag} token={qattr(profile.encoder_token)} GovLength="{profile.gop}"'
        ' Profile="Baseline"><tt:Name>' + esc(profile.name) + "</tt:Name>"
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{profile.width}</tt:Width>"
        f"<tt:Height>{profile.height}</tt:Height></tt:Resolution>"
        f'<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>{profile.fps:g}'
        f"</tt:FrameRateLimit><tt:BitrateLimit>{profile.bitrate // 1000}</tt:BitrateLimit>"
        f"</tt:RateControl><tt:Quality>5</tt:Quality></{tag}>"
    )


def _media_uri(tag: str, uri: str) -> str:
    return (
        f"<{tag}><tt:Uri>{esc(uri)}</tt:Uri><tt:InvalidAfterConnect>false"
        "</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        f"<tt:Timeout>PT0S</tt:Timeout></{tag}>"
    )


class _Profiles:
    def __init__(self, sim: OnvifSimulator) -> None:
        self.sim = sim

    def profile(self, token: str | None) -> MediaProfile:
        for profile in self.sim.profiles:
            if profile.token == token:
                return profile
        raise SoapFault(f"no media profile {token!r}", "InvalidArgVal", "NoProfile")


class MediaService(_Profiles):
    """Media ver10: profiles, configurations, stream and snapshot URIs."""

    def _profile_xml(self, tag: str, profile: MediaProfile) -> str:
        ptz = (
            configuration_xml("tt:PTZConfiguration", len(self.sim.profiles)) if self.sim.ptz else ""
        )
        return (
            f'<{tag} token={qattr(profile.token)} fixed="true"><tt:Name>{esc(profile.name)}'
            f"</tt:Name>{_video_source_configuration('tt:VideoSourceConfiguration', self.sim)}"
            f"{_encoder_v10('tt:VideoEncoderConfiguration', profile)}{ptz}</{tag}>"
        )

    def GetServiceCapabilities(self, request: SoapRequest) -> str:
        """The Media service's capabilities."""
        return (
            '<trt:GetServiceCapabilitiesResponse><trt:Capabilities SnapshotUri="true"'
            ' Rotation="false" VideoSourceMode="false" OSD="false">'
            f'<trt:ProfileCapabilities MaximumNumberOfProfiles="{len(self.sim.profiles)}"/>'
            '<trt:StreamingCapabilities RTPMulticast="false" RTP_TCP="true"'
            ' RTP_RTSP_TCP="true" NonAggregateControl="false"/></trt:Capabilities>'
            "</trt:GetServiceCapabilitiesResponse>"
        )

    def GetProfiles(self, request: SoapRequest) -> str:
        """Every media profile."""
        profiles = "".join(self._profile_xml("trt:Profiles", p) for p in self.sim.profiles)
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def GetProfile(self, request: SoapRequest) -> str:
        """One media profile by token."""
        profile = self.profile(text(request.body, "ProfileToken"))
        return (
            f"<trt:GetProfileResponse>{self._profile_xml('trt:Profile', profile)}"
            "</trt:GetProfileResponse>"
        )

    def GetVideoSources(self, request: SoapRequest) -> str:
        """The one video source."""
        width, height = self.sim.source_size
        fps = max(p.fps for p in self.sim.profiles)
        return (
            f'<trt:GetVideoSourcesResponse><trt:VideoSources token="{VIDEO_SOURCE_TOKEN}">'
            f"<tt:Framerate>{fps:g}</tt:Framerate><tt:Resolution><tt:Width>{width}"
            f"</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution></trt:VideoSources>"
            "</trt:GetVideoSourcesResponse>"
        )

    def GetVideoSourceConfigurations(self, request: SoapRequest) -> str:
        """The one video source configuration."""
        config = _video_source_configuration("trt:Configurations", self.sim)
        return (
            f"<trt:GetVideoSourceConfigurationsResponse>{config}"
            "</trt:GetVideoSourceConfigurationsResponse>"
        )

    def GetVideoEncoderConfigurations(self, request: SoapRequest) -> str:
        """One encoder configuration per profile."""
        configs = "".join(_encoder_v10("trt:Configurations", p) for p in self.sim.profiles)
        return (
            f"<trt:GetVideoEncoderConfigurationsResponse>{configs}"
            "</trt:GetVideoEncoderConfigurationsResponse>"
        )

    def GetVideoEncoderConfiguration(self, request: SoapRequest) -> str:
        """An encoder configuration by token."""
        token = text(request.body, "ConfigurationToken")
        for profile in self.sim.profiles:
            if profile.encoder_token == token:
                config = _encoder_v10("trt:Configuration", profile)
                return (
                    f"<trt:GetVideoEncoderConfigurationResponse>{config}"
                    "</trt:GetVideoEncoderConfigurationResponse>"
                )
        raise SoapFault(f"no encoder configuration {token!r}", "InvalidArgVal", "NoConfig")

    def GetStreamUri(self, request: SoapRequest) -> str:
        """The RTSP URL of a profile, without credentials (the client adds its own)."""
        profile = self.profile(text(request.body, "ProfileToken"))
        setup = child(request.body, "StreamSetup")
        protocol = text(child(setup, "Transport"), "Protocol") or "RTSP"
        if protocol not in ("RTSP", "TCP", "UDP"):
            raise SoapFault(
                f"stream transport {protocol} is not supported",
                "InvalidArgVal",
                "InvalidStreamSetup",
            )
        uri = self.sim.rtsp_url(profile.token)
        return (
            f"<trt:GetStreamUriResponse>{_media_uri('trt:MediaUri', uri)}"
            "</trt:GetStreamUriResponse>"
        )

    def GetSnapshotUri(self, request: SoapRequest) -> str:
        """The HTTP URL of a JPEG of the profile's current picture."""
        profile = self.profile(text(request.body, "ProfileToken"))
        uri = self.sim.snapshot_url(profile.token)
        return (
            f"<trt:GetSnapshotUriResponse>{_media_uri('trt:MediaUri', uri)}"
            "</trt:GetSnapshotUriResponse>"
        )


class Media2Service(_Profiles):
    """Media2 ver20: profiles, stream and snapshot URIs, privacy masks."""

    def _profile_xml(self, profile: MediaProfile) -> str:
        ptz = configuration_xml("tr2:PTZ", len(self.sim.profiles)) if self.sim.ptz else ""
        return (
            f'<tr2:Profiles token={qattr(profile.token)} fixed="true"><tr2:Name>'
            f"{esc(profile.name)}</tr2:Name><tr2:Configurations>"
            f"{_video_source_configuration('tr2:VideoSource', self.sim)}"
            f"{_encoder_v20('tr2:VideoEncoder', profile)}{ptz}"
            "</tr2:Configurations></tr2:Profiles>"
        )

    def GetServiceCapabilities(self, request: SoapRequest) -> str:
        """The Media2 service's capabilities."""
        masks = f' Mask="{xbool(self.sim.masks)}"'
        return (
            '<tr2:GetServiceCapabilitiesResponse><tr2:Capabilities SnapshotUri="true"'
            f' Rotation="false" VideoSourceMode="false" OSD="false"{masks}>'
            f'<tr2:ProfileCapabilities MaximumNumberOfProfiles="{len(self.sim.profiles)}"'
            ' ConfigurationsSupported="VideoSource VideoEncoder PTZ"/>'
            '<tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="false"'
            ' RTP_RTSP_TCP="true" NonAggregateControl="false"/></tr2:Capabilities>'
            "</tr2:GetServiceCapabilitiesResponse>"
        )

    def GetProfiles(self, request: SoapRequest) -> str:
        """Every media profile, or the one named by Token."""
        token = text(request.body, "Token")
        profiles = self.sim.profiles if token is None else [self.profile(token)]
        body = "".join(self._profile_xml(p) for p in profiles)
        return f"<tr2:GetProfilesResponse>{body}</tr2:GetProfilesResponse>"

    def GetVideoEncoderConfigurations(self, request: SoapRequest) -> str:
        """One encoder configuration per profile (or those of ProfileToken)."""
        token = text(request.body, "ProfileToken")
        profiles = self.sim.profiles if token is None else [self.profile(token)]
        configs = "".join(_encoder_v20("tr2:Configurations", p) for p in profiles)
        return (
            f"<tr2:GetVideoEncoderConfigurationsResponse>{configs}"
            "</tr2:GetVideoEncoderConfigurationsResponse>"
        )

    def GetVideoSourceConfigurations(self, request: SoapRequest) -> str:
        """The one video source configuration."""
        config = _video_source_configuration("tr2:Configurations", self.sim)
        return (
            f"<tr2:GetVideoSourceConfigurationsResponse>{config}"
            "</tr2:GetVideoSourceConfigurationsResponse>"
        )

    def GetStreamUri(self, request: SoapRequest) -> str:
        """The RTSP URL of a profile, without credentials."""
        protocol = text(request.body, "Protocol") or "RtspUnicast"
        if protocol not in ("RtspUnicast", "RTSP", "RtspOverHttp"):
            raise SoapFault(
                f"stream protocol {protocol} is not supported",
                "InvalidArgVal",
                "InvalidStreamSetup",
            )
        profile = self.profile(text(request.body, "ProfileToken"))
        uri = self.sim.rtsp_url(profile.token)
        return f"<tr2:GetStreamUriResponse><tr2:Uri>{esc(uri)}</tr2:Uri></tr2:GetStreamUriResponse>"

    def GetSnapshotUri(self, request: SoapRequest) -> str:
        """The HTTP URL of a JPEG of the profile's current picture."""
        profile = self.profile(text(request.body, "ProfileToken"))
        uri = self.sim.snapshot_url(profile.token)
        return (
            f"<tr2:GetSnapshotUriResponse><tr2:Uri>{esc(uri)}</tr2:Uri>"
            "</tr2:GetSnapshotUriResponse>"
        )

    # Privacy masks --------------------------------------------------------------------

    def _check_masks(self) -> None:
        if not self.sim.masks:
            raise SoapFault(
                "this device has no privacy masks", "ActionNotSupported", code="Receiver"
            )

    def GetMaskOptions(self, request: SoapRequest) -> str:
        """What masks the device can draw."""
        self._check_masks()
        token = text(request.body, "ConfigurationToken")
        if token != VIDEO_SOURCE_CONFIGURATION_TOKEN:
            raise SoapFault(f"no video source configuration {token!r}", "InvalidArgVal", "NoConfig")
        types = "".join(f"<tr2:Types>{kind}</tr2:Types>" for kind in MASK_TYPES[:1])
        return (
            '<tr2:GetMaskOptionsResponse><tr2:Options RectangleOnly="false"'
            f' SingleColorOnly="false"><tr2:MaxMasks>{MAX_MASKS}</tr2:MaxMasks>'
            f"<tr2:MaxPoints>{MAX_MASK_POINTS}</tr2:MaxPoints>{types}"
            "<tr2:Color><tt:ColorspaceRange><tt:X><tt:Min>0</tt:Min><tt:Max>255</tt:Max></tt:X>"
            "<tt:Y><tt:Min>0</tt:Min><tt:Max>255</tt:Max></tt:Y><tt:Z><tt:Min>0</tt:Min>"
            "<tt:Max>255</tt:Max></tt:Z><tt:Colorspace>http://www.onvif.org/ver10/colorspace/RGB"
            "</tt:Colorspace></tt:ColorspaceRange></tr2:Color></tr2:Options>"
            "</tr2:GetMaskOptionsResponse>"
        )

    def GetMasks(self, request: SoapRequest) -> str:
        """The masks, or the one named by Token."""
        self._check_masks()
        token = text(request.body, "Token")
        masks = self.sim.mask_store
        if token is not None and token not in masks:
            raise SoapFault(f"no mask {token!r}", "InvalidArgVal", "NoConfig")
        chosen = [masks[token]] if token is not None else list(masks.values())
        body = "".join(_mask_xml("tr2:Masks", mask) for mask in chosen)
        return f"<tr2:GetMasksResponse>{body}</tr2:GetMasksResponse>"

    def CreateMask(self, request: SoapRequest) -> str:
        """Add a mask; returns its new token."""
        self._check_masks()
        if len(self.sim.mask_store) >= MAX_MASKS:
            raise SoapFault(f"at most {MAX_MASKS} masks", "MaxMasks", code="Receiver")
        token = self.sim.new_mask_token()
        mask = _parse_mask(child(request.body, "Mask"), token)
        self.sim.set_mask(mask)
        return (
            f"<tr2:CreateMaskResponse><tr2:Token>{esc(token)}</tr2:Token></tr2:CreateMaskResponse>"
        )

    def SetMask(self, request: SoapRequest) -> str:
        """Replace an existing mask."""
        self._check_masks()
        element = child(request.body, "Mask")
        token = attr(element, "token")
        if token is None or token not in self.sim.mask_store:
            raise SoapFault(f"no mask {token!r}", "InvalidArgVal", "NoConfig")
        self.sim.set_mask(_parse_mask(element, token))
        return "<tr2:SetMaskResponse/>"

    def DeleteMask(self, request: SoapRequest) -> str:
        """Remove a mask."""
        self._check_masks()
        token = text(request.body, "Token")
        if token is None or token not in self.sim.mask_store:
            raise SoapFault(f"no mask {token!r}", "InvalidArgVal", "NoConfig")
        self.sim.delete_mask(token)
        return "<tr2:DeleteMaskResponse/>"


def _mask_xml(tag: str, mask: Mask) -> str:
    points = "".join(f'<tt:Point x="{x:.6f}" y="{y:.6f}"/>' for x, y in mask.points)
    red, green, blue = mask.color
    return (
        f"<{tag} token={qattr(mask.token)}><tr2:ConfigurationToken>{mask.configuration_token}"
        f"</tr2:ConfigurationToken><tr2:Polygon>{points}</tr2:Polygon>"
        f"<tr2:Type>{mask.type}</tr2:Type>"
        f'<tr2:Color X="{red:g}" Y="{green:g}" Z="{blue:g}"'
        ' Colorspace="http://www.onvif.org/ver10/colorspace/RGB"/>'
        f"<tr2:Enabled>{xbool(mask.enabled)}</tr2:Enabled></{tag}>"
    )


def _parse_mask(element: object, token: str) -> Mask:
    """A Mask from a tr2:Mask element; InvalidArgVal faults name what is wrong."""
    import xml.etree.ElementTree as ET

    if not isinstance(element, ET.Element):
        raise SoapFault("the request has no Mask", "InvalidArgVal")
    configuration = text(element, "ConfigurationToken") or VIDEO_SOURCE_CONFIGURATION_TOKEN
    if configuration != VIDEO_SOURCE_CONFIGURATION_TOKEN:
        raise SoapFault(
            f"no video source configuration {configuration!r}", "InvalidArgVal", "NoConfig"
        )
    points: list[tuple[float, float]] = []
    for point in children(child(element, "Polygon"), "Point"):
        try:
            x, y = float(attr(point, "x") or "nan"), float(attr(point, "y") or "nan")
        except ValueError:
            raise SoapFault("a mask point is not a pair of numbers", "InvalidArgVal") from None
        if not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
            raise SoapFault(
                f"mask point ({x}, {y}) is outside -1..1 (normalised coordinates)",
                "InvalidArgVal",
                "ConfigModify",
            )
        points.append((x, y))
    if not 3 <= len(points) <= MAX_MASK_POINTS:
        raise SoapFault(
            f"a mask needs 3 to {MAX_MASK_POINTS} points, not {len(points)}",
            "InvalidArgVal",
            "ConfigModify",
        )
    kind = text(element, "Type") or "Color"
    if kind not in MASK_TYPES[:1]:
        raise SoapFault(
            f"mask type {kind!r} is not supported (only Color)", "InvalidArgVal", "ConfigModify"
        )
    color_element = child(element, "Color")
    color = (0.0, 0.0, 0.0)
    if color_element is not None:
        try:
            color = (
                float(attr(color_element, "X") or 0),
                float(attr(color_element, "Y") or 0),
                float(attr(color_element, "Z") or 0),
            )
        except ValueError:
            raise SoapFault("the mask colour is not three numbers", "InvalidArgVal") from None
    enabled = (text(element, "Enabled") or "true").lower() in ("true", "1")
    return Mask(token, tuple(points), kind, color, enabled, configuration)
