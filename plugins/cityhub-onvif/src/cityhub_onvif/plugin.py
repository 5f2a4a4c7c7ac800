"""The plugin module the ``cityhub`` entry point names: the ONVIF driver and what it claims."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub.api import CameraDriver, DiscoveryMatcher, hookimpl
from cityhub_onvif.driver import OnvifCamera


@hookimpl
def cityhub_camera_drivers() -> Sequence[type[CameraDriver]]:
    """Return the ONVIF camera driver."""
    return [OnvifCamera]


@hookimpl
def cityhub_discovery_matchers() -> Sequence[DiscoveryMatcher]:
    """Claim every device that announces itself as ONVIF (generic, lowest priority)."""
    return [
        DiscoveryMatcher(
            driver=OnvifCamera.NAME,
            onvif_scopes=("onvif://www.onvif.org/",),
            zeroconf_types=("_onvif._tcp.local.",),
        )
    ]
