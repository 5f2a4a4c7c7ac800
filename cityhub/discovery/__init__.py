"""Device discovery: ONVIF WS-Discovery and zeroconf, merged into one list of devices.

:class:`Discovery` scans on demand (the hub's ``discovery.scan`` service, ``cityhub discover``)
and keeps the last list; :class:`WsdListener` follows Hello and Bye announcements.
"""

from __future__ import annotations

from cityhub.discovery.devices import DiscoveredDevice, collect_matchers
from cityhub.discovery.mdns import ZeroconfService, async_browse
from cityhub.discovery.scanner import Discovery, DiscoveryError, register_discovery_services
from cityhub.discovery.wsd import Sighting, WsdListener, async_probe, decode_scopes

__all__ = [
    "DiscoveredDevice",
    "Discovery",
    "DiscoveryError",
    "Sighting",
    "WsdListener",
    "ZeroconfService",
    "async_browse",
    "async_probe",
    "collect_matchers",
    "decode_scopes",
    "register_discovery_services",
]
