"""Discovered devices: WS-Discovery and zeroconf findings merged per address, matched to a
driver by the plugins' ``DiscoveryMatcher``s, and checked against the configured cameras."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from cityhub.api import DiscoveryMatcher
from cityhub.discovery.mdns import ONVIF_TYPE, RTSP_TYPE, ZeroconfService
from cityhub.discovery.wsd import Sighting
from cityhub.model import CameraConfig
from cityhub.plugins import Plugins

_LOGGER = logging.getLogger(__name__)

FOUND_BY_WSD: Final = "ws-discovery"
"""How a device answering a WS-Discovery probe (or announcing itself) is marked in ``found_by``;
zeroconf findings are marked with their service type."""

ONVIF_DEVICE_PATH: Final = "/onvif/device_service"
"""Where ONVIF puts the device service; used for a device seen only through ``_onvif._tcp``."""

TXT_MANUFACTURER: Final = ("manufacturer", "vendor", "mfr", "brand")
TXT_MODEL: Final = ("model", "hardware", "hw", "md")
TXT_LOCATION: Final = ("location",)
TXT_PATH: Final = ("path",)
"""TXT keys read as hints, first found wins (keys compare case-insensitively)."""

HOST_OPTION_KEYS: Final = ("host", "hostname", "address", "ip")
"""Camera options naming the device's host; any other option holding a URL counts by its host."""


@attrs.frozen
class DiscoveredDevice:
    """One device found on the network, as the CLI and the panel show it."""

    address: str
    """The device's IPv4 address (the key under which findings are merged)."""
    name: str | None = None
    hardware: str | None = None
    manufacturer: str | None = None
    location: str | None = None
    onvif_url: str | None = None
    """The ONVIF device service URL (an XAddr), when the device speaks ONVIF."""
    onvif_port: int | None = None
    rtsp_port: int | None = None
    rtsp_path: str | None = None
    """The stream path a zeroconf TXT record gave (``path=``), when it gave one."""
    endpoint: str | None = None
    """The WS-Discovery endpoint reference (``urn:uuid:...``)."""
    scopes: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    """ONVIF profiles from the scopes (``Streaming``, ``T``, ...)."""
    services: tuple[ZeroconfService, ...] = ()
    found_by: tuple[str, ...] = ()
    """``ws-discovery`` and/or the zeroconf types the device answered."""
    driver: str | None = None
    """The driver of the highest-priority matcher that claims this device."""
    adopted_by: str | None = None
    """The id of the configured camera that already points at this device."""

    @property
    def adopted(self) -> bool:
        """Whether a configured camera already points at this device."""
        return self.adopted_by is not None

    @property
    def rtsp_url(self) -> str | None:
        """``rtsp://address:port/path`` when an RTSP service was found (path ``/`` if unknown)."""
        if self.rtsp_port is None:
            return None
        path = self.rtsp_path or "/"
        return (
            f"rtsp://{self.address}:{self.rtsp_port}{path if path.startswith('/') else '/' + path}"
        )

    def hints(self) -> list[str]:
        """Texts a matcher's ``manufacturers`` are looked for in."""
        texts = [self.manufacturer, self.name]
        for service in self.services:
            texts += [_txt(service, TXT_MANUFACTURER), service.instance]
        return [t for t in texts if t]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (what ``discovery.scan`` returns and ``discover --json`` prints)."""
        return {
            "address": self.address,
            "name": self.name,
            "hardware": self.hardware,
            "manufacturer": self.manufacturer,
            "location": self.location,
            "onvif_url": self.onvif_url,
            "onvif_port": self.onvif_port,
            "rtsp_port": self.rtsp_port,
            "rtsp_url": self.rtsp_url,
            "endpoint": self.endpoint,
            "scopes": list(self.scopes),
            "profiles": list(self.profiles),
            "services": [s.as_dict() for s in self.services],
            "found_by": list(self.found_by),
            "driver": self.driver,
            "adopted_by": self.adopted_by,
        }


def _txt(service: ZeroconfService, keys: Sequence[str]) -> str | None:
    lowered = {k.lower(): v for k, v in service.properties.items()}
    for key in keys:
        if lowered.get(key):
            return lowered[key]
    return None


def _host_of(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _port_of(url: str) -> int | None:
    try:
        parts = urlsplit(url)
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None


def merge(
    sightings: Sequence[Sighting], services: Sequence[ZeroconfService]
) -> list[DiscoveredDevice]:
    """One device per address from WS-Discovery sightings and zeroconf services."""
    devices: dict[str, DiscoveredDevice] = {}
    for sighting in sightings:
        scopes = sighting.onvif_scopes
        endpoint = sighting.endpoint
        address = sighting.host
        url = next((x for x in endpoint.xaddrs if _host_of(x) == address), None)
        if address in devices:
            _LOGGER.debug(
                "Two WS-Discovery endpoints at %s: keeping %s", address, devices[address].endpoint
            )
            continue
        devices[address] = DiscoveredDevice(
            address=address,
            name=scopes.name,
            hardware=scopes.hardware,
            manufacturer=scopes.manufacturer,
            location=scopes.location,
            onvif_url=url,
            onvif_port=_port_of(url) if url else None,
            endpoint=endpoint.address,
            scopes=endpoint.scopes,
            profiles=scopes.profiles,
            found_by=(FOUND_BY_WSD,),
        )
    for service in services:
        address = next((a for a in service.addresses if a in devices), service.addresses[0])
        device = devices.get(address) or DiscoveredDevice(address=address)
        changes: dict[str, Any] = {
            "name": device.name or service.instance,
            "hardware": device.hardware or _txt(service, TXT_MODEL),
            "manufacturer": device.manufacturer or _txt(service, TXT_MANUFACTURER),
            "location": device.location or _txt(service, TXT_LOCATION),
            "services": (*device.services, service),
        }
        if service.type not in device.found_by:
            changes["found_by"] = (*device.found_by, service.type)
        if service.type == RTSP_TYPE and device.rtsp_port is None:
            changes["rtsp_port"] = service.port
            changes["rtsp_path"] = _txt(service, TXT_PATH)
        if service.type == ONVIF_TYPE and device.onvif_url is None:
            path = _txt(service, TXT_PATH) or ONVIF_DEVICE_PATH
            changes["onvif_url"] = f"http://{address}:{service.port}{path}"
            changes["onvif_port"] = service.port
        devices[address] = attrs.evolve(device, **changes)
    return sorted(devices.values(), key=_address_key)


def _address_key(device: DiscoveredDevice) -> tuple[int, ...] | tuple[str]:
    try:
        return tuple(int(part) for part in device.address.split("."))
    except ValueError:
        return (device.address,)


# --------------------------------------------------------------------------------------------
# Matchers
# --------------------------------------------------------------------------------------------


def collect_matchers(plugins: Plugins) -> list[DiscoveryMatcher]:
    """Every plugin's ``DiscoveryMatcher``s; a plugin whose hook fails is logged and skipped."""
    matchers: list[DiscoveryMatcher] = []
    for impl in plugins.manager.hook.cityhub_discovery_matchers.get_hookimpls():
        try:
            returned: Any = impl.function() or []
        except Exception:
            _LOGGER.error(
                "Plugin %s failed in cityhub_discovery_matchers:\n%s",
                impl.plugin_name,
                traceback.format_exc(),
            )
            continue
        for matcher in returned:
            if not isinstance(matcher, DiscoveryMatcher):
                _LOGGER.error(
                    "Plugin %s: %r is not a DiscoveryMatcher; ignored", impl.plugin_name, matcher
                )
            elif matcher.driver not in plugins.camera_drivers:
                _LOGGER.error(
                    "Plugin %s: a discovery matcher names the driver %r, which is not installed; "
                    "ignored",
                    impl.plugin_name,
                    matcher.driver,
                )
            else:
                matchers.append(matcher)
    return matchers


def matcher_claims(matcher: DiscoveryMatcher, device: DiscoveredDevice) -> bool:
    """Whether ``matcher`` claims ``device``.

    The device must advertise one of the matcher's zeroconf types or have a scope starting with
    one of its ONVIF scope prefixes (either, when the matcher names both; no condition when it
    names neither); and when the matcher names manufacturers, one of them must appear,
    case-insensitively, in the device's ``mfr``/``name`` scopes or zeroconf vendor hints.
    """
    if not (matcher.zeroconf_types or matcher.onvif_scopes or matcher.manufacturers):
        return False
    if matcher.zeroconf_types or matcher.onvif_scopes:
        types = {s.type for s in device.services}
        by_type = bool(types.intersection(matcher.zeroconf_types))
        by_scope = any(
            scope.lower().startswith(prefix.lower())
            for scope in device.scopes
            for prefix in matcher.onvif_scopes
        )
        if not (by_type or by_scope):
            return False
    if matcher.manufacturers:
        hints = [h.lower() for h in device.hints()]
        return any(m.lower() in hint for m in matcher.manufacturers for hint in hints)
    return True


def choose_driver(device: DiscoveredDevice, matchers: Sequence[DiscoveryMatcher]) -> str | None:
    """The driver of the highest-priority matcher claiming ``device`` (ties: by driver name)."""
    claiming = [m for m in matchers if matcher_claims(m, device)]
    if not claiming:
        return None
    return min(claiming, key=lambda m: (-m.priority, m.driver)).driver


# --------------------------------------------------------------------------------------------
# Adoption
# --------------------------------------------------------------------------------------------


def _hosts_in(value: Any, key: str = "") -> set[str]:
    if isinstance(value, Mapping):
        return set().union(*(_hosts_in(v, str(k)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return set().union(*(_hosts_in(v, key) for v in value))
    if not isinstance(value, str):
        return set()
    if "://" in value:
        try:
            host = urlsplit(value).hostname
        except ValueError:
            return set()
        return {host.lower()} if host else set()
    if key.lower() in HOST_OPTION_KEYS:
        return {value.strip().lower().rstrip(".")}
    return set()


def camera_hosts(camera: CameraConfig) -> set[str]:
    """The hosts a camera's options point at (``host:`` and the like, and every URL's host)."""
    return _hosts_in(camera.options)


def device_names(device: DiscoveredDevice) -> set[str]:
    """The names a configuration may use for ``device``: address, XAddr hosts, mDNS names."""
    names = {device.address.lower()}
    host = _host_of(device.onvif_url) if device.onvif_url else None
    if host:
        names.add(host.lower())
    for service in device.services:
        if service.server:
            server = service.server.lower().rstrip(".")
            names |= {server, server.removesuffix(".local")}
    return names


def find_adopter(device: DiscoveredDevice, cameras: Sequence[CameraConfig]) -> str | None:
    """The id of the first configured camera pointing at ``device``, if any."""
    names = device_names(device)
    for camera in cameras:
        if camera_hosts(camera) & names:
            return camera.id
    return None


def resolve(
    devices: Sequence[DiscoveredDevice],
    matchers: Sequence[DiscoveryMatcher],
    cameras: Sequence[CameraConfig] = (),
) -> list[DiscoveredDevice]:
    """``devices`` with their driver and adopting camera filled in."""
    return [
        attrs.evolve(
            device, driver=choose_driver(device, matchers), adopted_by=find_adopter(device, cameras)
        )
        for device in devices
    ]
