"""The parts of an SDP session description (RFC 8866) an RTSP client needs to play its tracks."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urljoin

import attrs

__all__ = ["MediaDescription", "SdpError", "parse_sdp", "sprop_parameter_sets"]


class SdpError(ValueError):
    """The session description is malformed or lacks what playing a track needs."""


@attrs.frozen
class MediaDescription:
    """One ``m=`` section: its kind, RTP payload format and control URL.

    ``encoding`` is the rtpmap encoding name in upper case (``H264``, ``H265``,
    ``MPEG4-GENERIC``, ``PCMU``...), ``clock_rate`` the RTP clock (Hz), ``channels`` the audio
    channels (1 unless the rtpmap says otherwise), ``fmtp`` the format parameters with
    lower-case keys, ``control`` the absolute URL to SETUP.
    """

    kind: str
    payload_type: int
    encoding: str
    clock_rate: int
    channels: int
    fmtp: dict[str, str]
    control: str
    attributes: dict[str, str] = attrs.field(factory=dict)
    """Every other ``a=name:value`` of the section (the first of each name)."""


_STATIC_PAYLOADS = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1)}
"""RFC 3551 static payload types an SDP may use without an rtpmap line."""


def parse_sdp(text: str, base_url: str) -> list[MediaDescription]:
    """The media sections of ``text``, with control URLs resolved against ``base_url``."""
    session_control: str | None = None
    sections: list[_Section] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:]
        if key == "m":
            fields = value.split()
            if len(fields) < 4:
                raise SdpError(f"malformed media line {line!r}")
            try:
                payload = int(fields[3])
            except ValueError:
                raise SdpError(f"media line {line!r} has no numeric payload type") from None
            sections.append(_Section(fields[0], payload))
        elif key == "a":
            name, _, rest = value.partition(":")
            if not sections:
                if name == "control":
                    session_control = rest.strip()
                continue
            sections[-1].attributes.append((name, rest.strip()))
    base = _control_base(session_control, base_url)
    return [_media(section, base) for section in sections]


def _control_base(session_control: str | None, base_url: str) -> str:
    if session_control is None or session_control == "*":
        return base_url
    if "://" in session_control:
        return session_control
    return urljoin(base_url if base_url.endswith("/") else base_url + "/", session_control)


@attrs.define
class _Section:
    kind: str
    payload_type: int
    attributes: list[tuple[str, str]] = attrs.field(factory=list)


def _media(section: _Section, base: str) -> MediaDescription:
    payload = section.payload_type
    encoding, clock, channels = _STATIC_PAYLOADS.get(payload, ("", 0, 1))
    fmtp: dict[str, str] = {}
    others: dict[str, str] = {}
    control = base
    for name, value in section.attributes:
        others.setdefault(name, value)
        head, _, rest = value.partition(" ")
        if name == "rtpmap" and head == str(payload):
            parts = rest.strip().split("/")
            encoding = parts[0].upper()
            try:
                clock = int(parts[1]) if len(parts) > 1 else 0
                channels = int(parts[2]) if len(parts) > 2 and parts[2] else 1
            except ValueError:
                raise SdpError(f"malformed rtpmap {value!r}") from None
        elif name == "fmtp" and head == str(payload):
            for item in rest.split(";"):
                key, sep, val = item.strip().partition("=")
                if sep:
                    fmtp[key.strip().lower()] = val.strip()
        elif name == "control":
            if "://" in value:
                control = value
            elif value != "*":
                control = urljoin(base if base.endswith("/") else base + "/", value)
    return MediaDescription(
        kind=section.kind,
        payload_type=payload,
        encoding=encoding,
        clock_rate=clock,
        channels=channels,
        fmtp=fmtp,
        control=control,
        attributes=others,
    )


def sprop_parameter_sets(value: str) -> list[bytes]:
    """The NAL units of a comma-separated base64 list (``sprop-parameter-sets``, ``sprop-sps``)."""
    units = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            units.append(base64.b64decode(item + "=" * (-len(item) % 4), validate=True))
        except (binascii.Error, ValueError):
            raise SdpError(f"parameter set {item!r} is not base64") from None
    return units
