"""The simulator's PTZ head (mechanics that move at a finite speed) and its PTZ service."""

from __future__ import annotations

import math
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import attrs

from cityhub.testing.onvif.soap import (
    SoapFault,
    SoapRequest,
    attr,
    child,
    esc,
    format_time,
    parse_duration,
    qattr,
    text,
)

if TYPE_CHECKING:
    from cityhub.testing.onvif.simulator import OnvifSimulator

__all__ = ["Preset", "PtzHead", "PtzPosition"]

SPACES = "http://www.onvif.org/ver10/tptz"
PAN_TILT_POSITION = f"{SPACES}/PanTiltSpaces/PositionGenericSpace"
ZOOM_POSITION = f"{SPACES}/ZoomSpaces/PositionGenericSpace"
PAN_TILT_TRANSLATION = f"{SPACES}/PanTiltSpaces/TranslationGenericSpace"
ZOOM_TRANSLATION = f"{SPACES}/ZoomSpaces/TranslationGenericSpace"
PAN_TILT_VELOCITY = f"{SPACES}/PanTiltSpaces/VelocityGenericSpace"
ZOOM_VELOCITY = f"{SPACES}/ZoomSpaces/VelocityGenericSpace"
PAN_TILT_SPEED = f"{SPACES}/PanTiltSpaces/GenericSpeedSpace"
ZOOM_SPEED = f"{SPACES}/ZoomSpaces/ZoomGenericSpeedSpace"
NODE_TOKEN = "ptz_node"  # noqa: S105 - an ONVIF token, not a secret
CONFIGURATION_TOKEN = "ptz_config"  # noqa: S105
MAX_PRESETS = 64
DEFAULT_TIMEOUT_S = 10.0
"""How long a ContinuousMove without Timeout lasts (the configuration's DefaultPTZTimeout)."""


@attrs.frozen
class PtzPosition:
    """Pan and tilt in -1..1, zoom in 0..1 (ONVIF's generic spaces)."""

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0

    def rounded(self, digits: int = 4) -> PtzPosition:
        """The position with each value rounded, for comparisons in tests."""
        return PtzPosition(
            round(self.pan, digits), round(self.tilt, digits), round(self.zoom, digits)
        )


class Preset(NamedTuple):
    """A stored preset: its name and position."""

    name: str
    position: PtzPosition


class _Axis:
    """One axis moving linearly: ``start`` at ``t0``, ``rate`` units/s until ``end``."""

    def __init__(self, low: float, high: float, value: float) -> None:
        self.low, self.high = low, high
        self.start, self.t0, self.rate, self.end = value, 0.0, 0.0, 0.0

    def value(self, now: float) -> float:
        if self.rate == 0.0:
            return self.start
        moved = self.start + self.rate * (min(now, self.end) - self.t0)
        return min(self.high, max(self.low, moved))

    def moving(self, now: float) -> bool:
        if self.rate == 0.0 or now >= self.end:
            return False
        value = self.value(now)
        return not ((self.rate > 0 and value >= self.high) or (self.rate < 0 and value <= self.low))

    def velocity(self, rate: float, now: float, seconds: float) -> None:
        self.start, self.t0, self.rate, self.end = self.value(now), now, rate, now + seconds

    def goto(self, target: float, speed: float, now: float) -> None:
        target = min(self.high, max(self.low, target))
        start = self.value(now)
        distance = target - start
        if speed <= 0.0 or abs(distance) < 1e-9:
            self.start, self.rate = target, 0.0
            return
        self.start, self.t0 = start, now
        self.rate = math.copysign(speed, distance)
        self.end = now + abs(distance) / speed

    def stop(self, now: float) -> None:
        self.start, self.rate = self.value(now), 0.0


class PtzHead:
    """The mechanics: continuous moves integrate velocity over time, absolute and relative
    moves travel at a finite speed; ``units_per_s`` is the speed at velocity (or speed) 1."""

    def __init__(
        self, units_per_s: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.units_per_s = units_per_s
        self.clock = clock
        self._axes = (_Axis(-1.0, 1.0, 0.0), _Axis(-1.0, 1.0, 0.0), _Axis(0.0, 1.0, 0.0))
        self._lock = threading.Lock()  # encoder threads read the position

    @property
    def position(self) -> PtzPosition:
        """Where the head is now."""
        with self._lock:
            now = self.clock()
            pan, tilt, zoom = (axis.value(now) for axis in self._axes)
            return PtzPosition(pan, tilt, zoom)

    def moving(self) -> tuple[bool, bool]:
        """Whether pan/tilt and zoom are moving now."""
        with self._lock:
            now = self.clock()
            pan, tilt, zoom = (axis.moving(now) for axis in self._axes)
            return pan or tilt, zoom

    def continuous(
        self, pan: float | None, tilt: float | None, zoom: float | None, seconds: float
    ) -> None:
        """Move at these velocities (-1..1, ``None`` leaves an axis alone) for ``seconds``."""
        with self._lock:
            now = self.clock()
            for axis, velocity in zip(self._axes, (pan, tilt, zoom), strict=True):
                if velocity is not None:
                    rate = max(-1.0, min(1.0, velocity)) * self.units_per_s
                    axis.velocity(rate, now, seconds)

    def goto(
        self,
        pan: float | None,
        tilt: float | None,
        zoom: float | None,
        speed_pan_tilt: float = 1.0,
        speed_zoom: float = 1.0,
    ) -> None:
        """Travel to these values (``None`` leaves an axis alone) at the given speeds."""
        with self._lock:
            now = self.clock()
            pan_tilt_rate = max(0.0, min(1.0, speed_pan_tilt)) * self.units_per_s
            zoom_rate = max(0.0, min(1.0, speed_zoom)) * self.units_per_s
            targets = zip(self._axes, (pan, tilt, zoom), strict=True)
            for index, (axis, target) in enumerate(targets):
                if target is not None:
                    axis.goto(target, zoom_rate if index == 2 else pan_tilt_rate, now)

    def stop(self, pan_tilt: bool = True, zoom: bool = True) -> None:
        """Halt the chosen axes where they are."""
        with self._lock:
            now = self.clock()
            if pan_tilt:
                self._axes[0].stop(now)
                self._axes[1].stop(now)
            if zoom:
                self._axes[2].stop(now)

    def place(self, position: PtzPosition) -> None:
        """Put the head at ``position`` at once (a test's setup)."""
        with self._lock:
            for axis, value in zip(self._axes, attrs.astuple(position), strict=True):
                axis.start, axis.rate = min(axis.high, max(axis.low, value)), 0.0


# The service ---------------------------------------------------------------------------


def _range(low: float, high: float) -> str:
    return f"<tt:XRange><tt:Min>{low}</tt:Min><tt:Max>{high}</tt:Max></tt:XRange>"


def _space(tag: str, uri: str, x: tuple[float, float], y: tuple[float, float] | None) -> str:
    y_range = f"<tt:YRange><tt:Min>{y[0]}</tt:Min><tt:Max>{y[1]}</tt:Max></tt:YRange>" if y else ""
    return f"<tt:{tag}><tt:URI>{uri}</tt:URI>{_range(*x)}{y_range}</tt:{tag}>"


def _speed_space(tag: str, uri: str) -> str:
    return f"<tt:{tag}><tt:URI>{uri}</tt:URI>{_range(0, 1)}</tt:{tag}>"


def node_xml(tag: str = "tptz:PTZNode") -> str:
    """The one PTZ node with its supported spaces."""
    full, unit = (-1.0, 1.0), (0.0, 1.0)
    spaces = (
        _space("AbsolutePanTiltPositionSpace", PAN_TILT_POSITION, full, full)
        + _space("AbsoluteZoomPositionSpace", ZOOM_POSITION, unit, None)
        + _space("RelativePanTiltTranslationSpace", PAN_TILT_TRANSLATION, full, full)
        + _space("RelativeZoomTranslationSpace", ZOOM_TRANSLATION, full, None)
        + _space("ContinuousPanTiltVelocitySpace", PAN_TILT_VELOCITY, full, full)
        + _space("ContinuousZoomVelocitySpace", ZOOM_VELOCITY, full, None)
        + _speed_space("PanTiltSpeedSpace", PAN_TILT_SPEED)
        + _speed_space("ZoomSpeedSpace", ZOOM_SPEED)
    )
    return (
        f'<{tag} token="{NODE_TOKEN}" FixedHomePosition="false" GeoMove="false">'
        f"<tt:Name>PTZ</tt:Name><tt:SupportedPTZSpaces>{spaces}</tt:SupportedPTZSpaces>"
        f"<tt:MaximumNumberOfPresets>{MAX_PRESETS}</tt:MaximumNumberOfPresets>"
        f"<tt:HomeSupported>true</tt:HomeSupported></{tag}>"
    )


def configuration_xml(tag: str, use_count: int) -> str:
    """The PTZ configuration every profile uses (``tag`` is the element's qualified name)."""
    return (
        f'<{tag} token="{CONFIGURATION_TOKEN}" MoveRamp="0" PresetRamp="0" PresetTourRamp="0">'
        f"<tt:Name>PTZ</tt:Name><tt:UseCount>{use_count}</tt:UseCount>"
        f"<tt:NodeToken>{NODE_TOKEN}</tt:NodeToken>"
        f"<tt:DefaultAbsolutePantTiltPositionSpace>{PAN_TILT_POSITION}"
        "</tt:DefaultAbsolutePantTiltPositionSpace>"
        f"<tt:DefaultAbsoluteZoomPositionSpace>{ZOOM_POSITION}</tt:DefaultAbsoluteZoomPositionSpace>"
        f"<tt:DefaultRelativePanTiltTranslationSpace>{PAN_TILT_TRANSLATION}"
        "</tt:DefaultRelativePanTiltTranslationSpace>"
        f"<tt:DefaultRelativeZoomTranslationSpace>{ZOOM_TRANSLATION}"
        "</tt:DefaultRelativeZoomTranslationSpace>"
        f"<tt:DefaultContinuousPanTiltVelocitySpace>{PAN_TILT_VELOCITY}"
        "</tt:DefaultContinuousPanTiltVelocitySpace>"
        f"<tt:DefaultContinuousZoomVelocitySpace>{ZOOM_VELOCITY}"
        "</tt:DefaultContinuousZoomVelocitySpace>"
        f'<tt:DefaultPTZSpeed><tt:PanTilt x="1" y="1" space="{PAN_TILT_SPEED}"/>'
        f'<tt:Zoom x="1" space="{ZOOM_SPEED}"/></tt:DefaultPTZSpeed>'
        f"<tt:DefaultPTZTimeout>PT{DEFAULT_TIMEOUT_S:g}S</tt:DefaultPTZTimeout>"
        f"<tt:PanTiltLimits><tt:Range><tt:URI>{PAN_TILT_POSITION}</tt:URI>"
        f"{_range(-1, 1)}<tt:YRange><tt:Min>-1</tt:Min><tt:Max>1</tt:Max></tt:YRange>"
        "</tt:Range></tt:PanTiltLimits>"
        f"<tt:ZoomLimits><tt:Range><tt:URI>{ZOOM_POSITION}</tt:URI>{_range(0, 1)}"
        f"</tt:Range></tt:ZoomLimits></{tag}>"
    )


def vector_xml(tag: str, position: PtzPosition) -> str:
    """A tt:PTZVector (position) under ``tag``."""
    return (
        f'<{tag}><tt:PanTilt x="{position.pan:.6f}" y="{position.tilt:.6f}"'
        f' space="{PAN_TILT_POSITION}"/>'
        f'<tt:Zoom x="{position.zoom:.6f}" space="{ZOOM_POSITION}"/></{tag}>'
    )


def _floats(element: ET.Element | None) -> tuple[float | None, float | None, float | None]:
    """Pan, tilt and zoom of a PTZVector/PTZSpeed-like element (``None`` where absent)."""
    pan_tilt = child(element, "PanTilt")
    zoom = child(element, "Zoom")

    def number(node: ET.Element | None, name: str) -> float | None:
        value = attr(node, name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise SoapFault(f"{name}={value!r} is not a number", "InvalidArgVal") from None
        if not math.isfinite(number):
            raise SoapFault(f"{name}={value!r} is not finite", "InvalidArgVal")
        return number

    return number(pan_tilt, "x"), number(pan_tilt, "y"), number(zoom, "x")


def _check_space(element: ET.Element | None, allowed: set[str]) -> None:
    for name in ("PanTilt", "Zoom"):
        space = attr(child(element, name), "space")
        if space is not None and space not in allowed:
            raise SoapFault(f"coordinate space {space} is not supported", "InvalidArgVal")


def _speeds(request: SoapRequest) -> tuple[float, float]:
    speed = child(request.body, "Speed")
    pan, tilt, zoom = _floats(speed)
    pan_tilt = max(abs(pan), abs(tilt)) if pan is not None and tilt is not None else pan or tilt
    return (1.0 if pan_tilt is None else pan_tilt), (1.0 if zoom is None else zoom)


class PtzService:
    """The ver20 PTZ service's operations over the simulator's head and presets."""

    def __init__(self, sim: OnvifSimulator) -> None:
        self.sim = sim

    def _profile(self, request: SoapRequest) -> str:
        token = text(request.body, "ProfileToken")
        if token is None or token not in self.sim.profile_tokens:
            raise SoapFault(f"no media profile {token!r}", "InvalidArgVal", "NoProfile")
        return token

    def GetServiceCapabilities(self, request: SoapRequest) -> str:
        """The PTZ service's capabilities."""
        return (
            '<tptz:GetServiceCapabilitiesResponse><tptz:Capabilities EFlip="false"'
            ' Reverse="false" GetCompatibleConfigurations="false" MoveStatus="true"'
            ' StatusPosition="true"/></tptz:GetServiceCapabilitiesResponse>'
        )

    def GetNodes(self, request: SoapRequest) -> str:
        """The one PTZ node."""
        return f"<tptz:GetNodesResponse>{node_xml()}</tptz:GetNodesResponse>"

    def GetNode(self, request: SoapRequest) -> str:
        """The PTZ node by token."""
        token = text(request.body, "NodeToken")
        if token != NODE_TOKEN:
            raise SoapFault(f"no PTZ node {token!r}", "InvalidArgVal", "NoEntity")
        return f"<tptz:GetNodeResponse>{node_xml()}</tptz:GetNodeResponse>"

    def GetConfigurations(self, request: SoapRequest) -> str:
        """The one PTZ configuration."""
        config = configuration_xml("tptz:PTZConfiguration", len(self.sim.profile_tokens))
        return f"<tptz:GetConfigurationsResponse>{config}</tptz:GetConfigurationsResponse>"

    def GetConfiguration(self, request: SoapRequest) -> str:
        """The PTZ configuration by token."""
        token = text(request.body, "PTZConfigurationToken")
        if token != CONFIGURATION_TOKEN:
            raise SoapFault(f"no PTZ configuration {token!r}", "InvalidArgVal", "NoConfig")
        config = configuration_xml("tptz:PTZConfiguration", len(self.sim.profile_tokens))
        return f"<tptz:GetConfigurationResponse>{config}</tptz:GetConfigurationResponse>"

    def GetConfigurationOptions(self, request: SoapRequest) -> str:
        """The spaces and timeout range a configuration allows."""
        spaces = node_xml("x")
        inner = spaces.split("<tt:SupportedPTZSpaces>", 1)[1].split("</tt:SupportedPTZSpaces>")[0]
        return (
            "<tptz:GetConfigurationOptionsResponse><tptz:PTZConfigurationOptions>"
            f"<tt:Spaces>{inner}</tt:Spaces><tt:PTZTimeout><tt:Min>PT1S</tt:Min>"
            "<tt:Max>PT60S</tt:Max></tt:PTZTimeout></tptz:PTZConfigurationOptions>"
            "</tptz:GetConfigurationOptionsResponse>"
        )

    def GetStatus(self, request: SoapRequest) -> str:
        """Position, move status and the device's UTC time."""
        self._profile(request)
        head = self.sim.head
        position = head.position
        pan_tilt, zoom = head.moving()
        status = (
            f"<tt:MoveStatus><tt:PanTilt>{'MOVING' if pan_tilt else 'IDLE'}</tt:PanTilt>"
            f"<tt:Zoom>{'MOVING' if zoom else 'IDLE'}</tt:Zoom></tt:MoveStatus>"
        )
        return (
            "<tptz:GetStatusResponse><tptz:PTZStatus>"
            f"{vector_xml('tt:Position', position)}{status}"
            f"<tt:UtcTime>{format_time(self.sim.device_time())}</tt:UtcTime>"
            "</tptz:PTZStatus></tptz:GetStatusResponse>"
        )

    def ContinuousMove(self, request: SoapRequest) -> str:
        """Move at a velocity until Stop, the Timeout or the end of the range."""
        self._profile(request)
        velocity = child(request.body, "Velocity")
        if velocity is None:
            raise SoapFault("ContinuousMove needs a Velocity", "InvalidArgVal")
        _check_space(velocity, {PAN_TILT_VELOCITY, ZOOM_VELOCITY})
        pan, tilt, zoom = _floats(velocity)
        timeout = text(request.body, "Timeout")
        seconds = parse_duration(timeout) if timeout else DEFAULT_TIMEOUT_S
        if seconds <= 0:
            raise SoapFault(f"Timeout {timeout} is not positive", "InvalidArgVal")
        if pan is not None or tilt is not None:
            pan, tilt = pan or 0.0, tilt or 0.0
        self.sim.head.continuous(pan, tilt, zoom, seconds)
        return "<tptz:ContinuousMoveResponse/>"

    def RelativeMove(self, request: SoapRequest) -> str:
        """Move by a translation, at a finite speed."""
        self._profile(request)
        translation = child(request.body, "Translation")
        if translation is None:
            raise SoapFault("RelativeMove needs a Translation", "InvalidArgVal")
        _check_space(translation, {PAN_TILT_TRANSLATION, ZOOM_TRANSLATION})
        pan, tilt, zoom = _floats(translation)
        now = self.sim.head.position
        speed_pan_tilt, speed_zoom = _speeds(request)
        self.sim.head.goto(
            None if pan is None else now.pan + pan,
            None if tilt is None else now.tilt + tilt,
            None if zoom is None else now.zoom + zoom,
            speed_pan_tilt,
            speed_zoom,
        )
        return "<tptz:RelativeMoveResponse/>"

    def AbsoluteMove(self, request: SoapRequest) -> str:
        """Travel to a position, at a finite speed."""
        self._profile(request)
        position = child(request.body, "Position")
        if position is None:
            raise SoapFault("AbsoluteMove needs a Position", "InvalidArgVal")
        _check_space(position, {PAN_TILT_POSITION, ZOOM_POSITION})
        pan, tilt, zoom = _floats(position)
        for name, value, low in (("pan", pan, -1.0), ("tilt", tilt, -1.0), ("zoom", zoom, 0.0)):
            if value is not None and not low - 1e-9 <= value <= 1.0 + 1e-9:
                raise SoapFault(
                    f"{name} {value} is out of range", "InvalidArgVal", "InvalidPosition"
                )
        self.sim.head.goto(pan, tilt, zoom, *_speeds(request))
        return "<tptz:AbsoluteMoveResponse/>"

    def Stop(self, request: SoapRequest) -> str:
        """Halt pan/tilt, zoom or both (both by default)."""
        self._profile(request)
        pan_tilt = (text(request.body, "PanTilt") or "true").lower() in ("true", "1")
        zoom = (text(request.body, "Zoom") or "true").lower() in ("true", "1")
        self.sim.head.stop(pan_tilt, zoom)
        return "<tptz:StopResponse/>"

    def GetPresets(self, request: SoapRequest) -> str:
        """The stored presets."""
        self._profile(request)
        presets = "".join(
            f"<tptz:Preset token={qattr(token)}><tt:Name>{esc(preset.name)}</tt:Name>"
            f"{vector_xml('tt:PTZPosition', preset.position)}</tptz:Preset>"
            for token, preset in self.sim.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{presets}</tptz:GetPresetsResponse>"

    def SetPreset(self, request: SoapRequest) -> str:
        """Store the current position as a new preset or over an existing one."""
        self._profile(request)
        token = text(request.body, "PresetToken")
        name = text(request.body, "PresetName")
        presets = self.sim.presets
        if token is not None and token not in presets:
            raise SoapFault(f"no preset {token!r}", "InvalidArgVal", "NoToken")
        if name is not None and any(p.name == name and t != token for t, p in presets.items()):
            raise SoapFault(f"a preset is already named {name!r}", "InvalidArgVal", "PresetExist")
        if token is None:
            if len(presets) >= MAX_PRESETS:
                raise SoapFault("no room for another preset", "TooManyPresets", code="Receiver")
            token = self.sim.new_preset_token()
            name = name or f"Preset {token}"
        else:
            name = name or presets[token].name
        presets[token] = Preset(name, self.sim.head.position)
        return (
            f"<tptz:SetPresetResponse><tptz:PresetToken>{esc(token)}</tptz:PresetToken>"
            "</tptz:SetPresetResponse>"
        )

    def RemovePreset(self, request: SoapRequest) -> str:
        """Forget a preset."""
        self._profile(request)
        token = text(request.body, "PresetToken")
        if token is None or token not in self.sim.presets:
            raise SoapFault(f"no preset {token!r}", "InvalidArgVal", "NoToken")
        del self.sim.presets[token]
        return "<tptz:RemovePresetResponse/>"

    def GotoPreset(self, request: SoapRequest) -> str:
        """Travel to a preset."""
        self._profile(request)
        token = text(request.body, "PresetToken")
        preset = self.sim.presets.get(token or "")
        if preset is None:
            raise SoapFault(f"no preset {token!r}", "InvalidArgVal", "NoToken")
        target = preset.position
        self.sim.head.goto(target.pan, target.tilt, target.zoom, *_speeds(request))
        return "<tptz:GotoPresetResponse/>"

    def GotoHomePosition(self, request: SoapRequest) -> str:
        """Travel to the home position."""
        self._profile(request)
        home = self.sim.home
        self.sim.head.goto(home.pan, home.tilt, home.zoom, *_speeds(request))
        return "<tptz:GotoHomePositionResponse/>"

    def SetHomePosition(self, request: SoapRequest) -> str:
        """Make the current position the home position."""
        self._profile(request)
        self.sim.home = self.sim.head.position
        return "<tptz:SetHomePositionResponse/>"
