"""cityhub-acme: Acme cameras, driven by the ONVIF driver plus Acme's line-crossing events.

The worked example of docs/plugin-guide.md ("A worked example: a vendor plugin on top of
ONVIF"), tested against the ONVIF simulator in ``tests/test_onvif_vendor_example.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from cityhub.api import CameraDriver, DiscoveryMatcher, hookimpl
from cityhub_onvif.driver import OnvifCamera
from cityhub_onvif.events import TopicRule

LINE_CROSSED = "tns1:RuleEngine/LineDetector/Crossed"
"""The ONVIF analytics topic Acme cameras send when an object crosses a configured line."""


class AcmeCamera(OnvifCamera):
    """Acme cameras: everything ONVIF gives, and line crossings as ``camera.line_crossing``."""

    NAME = "acme"
    DESCRIPTION = "Acme cameras (ONVIF, with line-crossing events)"
    TOPICS: ClassVar[Mapping[str, TopicRule]] = {
        **OnvifCamera.TOPICS,
        LINE_CROSSED: TopicRule("camera.line_crossing"),
    }


@hookimpl
def cityhub_camera_drivers() -> Sequence[type[CameraDriver]]:
    """Return the Acme camera driver."""
    return [AcmeCamera]


@hookimpl
def cityhub_discovery_matchers() -> Sequence[DiscoveryMatcher]:
    """Claim ONVIF devices made by Acme, over the generic ONVIF driver."""
    return [
        DiscoveryMatcher(
            driver=AcmeCamera.NAME,
            onvif_scopes=("onvif://www.onvif.org/",),
            manufacturers=("Acme",),
            priority=10,
        )
    ]
