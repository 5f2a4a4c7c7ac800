"""Which zeroconf types a scan browses: the base ones, then each matcher's, each once; a name
DNS-SD cannot browse is logged and left out rather than failing the scan."""

from __future__ import annotations

import pytest

from cityhub.api import DiscoveryMatcher
from cityhub.discovery import Discovery
from cityhub.discovery.mdns import valid_types


def test_types_browsed_come_from_the_matchers() -> None:
    discovery = Discovery(
        [
            DiscoveryMatcher(driver="rtsp", zeroconf_types=("_rtsp._tcp.local.",)),
            DiscoveryMatcher(driver="acme", zeroconf_types=("_acme-video._tcp.local.",)),
        ]
    )

    assert discovery.zeroconf_types == [
        "_rtsp._tcp.local.",
        "_onvif._tcp.local.",
        "_acme-video._tcp.local.",
    ]


def test_unbrowsable_types_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    kept = valid_types(
        ["_rtsp._tcp.local.", "_axis-video._tcp", "_rtsp._tcp.local.", "_x._udp.local."]
    )

    assert kept == ["_rtsp._tcp.local.", "_x._udp.local."]
    assert "Ignoring zeroconf type '_axis-video._tcp'" in caplog.text
