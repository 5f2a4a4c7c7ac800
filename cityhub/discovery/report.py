"""What ``cityhub discover`` prints: a table of the devices and a ``cameras:`` YAML snippet."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

import voluptuous as vol

from cityhub.api import CameraDriver
from cityhub.discovery.devices import DiscoveredDevice
from cityhub.model import HubConfig

ZONE_PLACEHOLDER: Final = "set-me"
"""The zone written when no configuration was given: check-config then names the real ones."""

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """``text`` as a camera id: lowercase ASCII, digits and ``-`` (``Hôtel 2``: ``hotel-2``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:48].strip("-")


def camera_id_for(device: DiscoveredDevice, taken: set[str]) -> str:
    """A camera id from the device's name (its address otherwise), unique among ``taken``."""
    base = slug(device.name or "") or "camera-" + device.address.replace(".", "-")
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _yaml(value: Any) -> str:
    """A YAML scalar: text in double quotes (a JSON string is valid YAML), numbers as they are."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def _services(device: DiscoveredDevice) -> str:
    parts = []
    if device.onvif_port is not None:
        parts.append(f"onvif:{device.onvif_port}")
    if device.rtsp_port is not None:
        parts.append(f"rtsp:{device.rtsp_port}")
    parts += [
        f"{s.type.removesuffix('.local.')}:{s.port}"
        for s in device.services
        if s.type not in ("_rtsp._tcp.local.", "_onvif._tcp.local.")
    ]
    return " ".join(parts) or "-"


def render_table(devices: Sequence[DiscoveredDevice]) -> str:
    """The devices as a plain-text table, one row each."""
    if not devices:
        return "No device found."
    header = (
        "ADDRESS",
        "NAME",
        "HARDWARE",
        "LOCATION",
        "SERVICES",
        "FOUND BY",
        "DRIVER",
        "ADOPTED",
    )
    rows = [
        (
            d.address,
            _one_line(d.name or "-"),
            _one_line(d.hardware or d.manufacturer or "-"),
            _one_line(d.location or "-"),
            _services(d),
            ", ".join(f.removesuffix(".local.") for f in d.found_by),
            d.driver or "-",
            d.adopted_by or "-",
        )
        for d in devices
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    return "\n".join(line.rstrip() for line in lines)


def schema_keys(driver: type[CameraDriver]) -> set[str] | None:
    """The option names a driver's ``CONFIG_SCHEMA`` accepts, when it is a plain mapping."""
    schema = driver.CONFIG_SCHEMA.schema
    if not isinstance(schema, Mapping):
        return None
    return {str(k.schema if isinstance(k, vol.Marker) else k) for k in schema}


def _secret(camera_id: str, what: str) -> str:
    return f"{camera_id.replace('-', '_')}_{what}"


def _options(
    device: DiscoveredDevice, camera_id: str, keys: set[str] | None
) -> tuple[list[str], list[str]]:
    """The ``options:`` lines (indented 6) for ``device`` and the secret names they use."""
    lines: list[str] = []
    secrets: list[str] = []
    if keys is None:  # a schema that cannot be read: the usual keys of ONVIF or RTSP drivers
        keys = {"host", "port"} if device.onvif_url else {"url"}
        keys |= {"username", "password"}
    if "url" in keys and device.rtsp_url is not None:
        note = "" if device.rtsp_path else "  # add the stream's path"
        lines.append(f"url: {_yaml(device.rtsp_url)}{note}")
    elif "host" in keys:
        lines.append(f"host: {_yaml(device.address)}")
        if "port" in keys and device.onvif_port is not None:
            lines.append(f"port: {device.onvif_port}")
    else:
        lines.append("# see the driver's documentation for its options")
    for what in ("username", "password"):
        if what in keys:
            name = _secret(camera_id, what)
            lines.append(f"{what}: !secret {name}")
            secrets.append(name)
    return [" " * 6 + line for line in lines], secrets


def render_snippet(
    devices: Sequence[DiscoveredDevice],
    drivers: Mapping[str, type[CameraDriver]],
    config: HubConfig | None = None,
) -> tuple[str, list[str]]:
    """YAML to paste under ``cameras:`` for every device not yet adopted, and its secret names.

    Devices no installed driver claims, and those already adopted, are listed as comments.
    """
    taken = {camera.id for camera in config.cameras} if config else set()
    zones = [zone.id for zone in config.zones] if config else []
    zone = zones[0] if zones else ZONE_PLACEHOLDER
    zone_note = (
        f"the zone it watches (one of: {', '.join(zones)})"
        if zones
        else "a zone of your configuration's zones:"
    )
    body: list[str] = []
    notes: list[str] = []
    secrets: list[str] = []
    for device in devices:
        label = f"{device.address} ({_one_line(device.name or 'unnamed')})"
        if device.adopted_by:
            notes.append(f"# {label}: already adopted as camera {device.adopted_by}")
            continue
        if device.driver is None or device.driver not in drivers:
            notes.append(
                f"# {label}: no installed driver claims it "
                "(install its maker's plugin, or cityhub-onvif for an ONVIF device)"
            )
            continue
        camera_id = camera_id_for(device, taken)
        found_by = ", ".join(f.removesuffix(".local.") for f in device.found_by)
        option_lines, used = _options(device, camera_id, schema_keys(drivers[device.driver]))
        secrets += used
        body += [
            f"  - id: {camera_id}",
            f"    name: {_yaml(_one_line(device.name or camera_id))}",
            f"    driver: {device.driver}  # found by {found_by}",
            f"    zone: {zone}  # {zone_note}",
            "    options:",
            *option_lines,
        ]
    header = [
        "# Cameras found by cityhub discover: paste under cameras: in the configuration,",
        "# set each zone (and emplacement, purpose, authorisation),",
    ]
    if secrets:
        header.append("# and add these to secrets.yaml: " + ", ".join(secrets))
    if not body:
        header = ["# No camera to add."]
    return "\n".join([*header, *body, *notes]) + "\n", secrets
