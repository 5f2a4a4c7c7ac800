"""The plugin module the ``cityhub`` entry point names: the RTSP camera driver and what it
claims among discovered devices."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub.api import CameraDriver, DiscoveryMatcher, hookimpl
from cityhub_rtsp.driver import RtspCamera

DISCOVERY_PRIORITY = -10
"""Below any other matcher's default (0): RTSP alone is the fallback for a device that an
ONVIF or vendor driver can also drive, since those know its streams, PTZ and events."""


@hookimpl
def cityhub_camera_drivers() -> Sequence[type[CameraDriver]]:
    """Return the RTSP camera driver."""
    return [RtspCamera]


@hookimpl
def cityhub_discovery_matchers() -> Sequence[DiscoveryMatcher]:
    """Claim devices that advertise an RTSP service over zeroconf (``_rtsp._tcp``)."""
    return [
        DiscoveryMatcher(
            driver=RtspCamera.NAME,
            zeroconf_types=("_rtsp._tcp.local.",),
            priority=DISCOVERY_PRIORITY,
        )
    ]
