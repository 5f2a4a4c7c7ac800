"""The hub carries a Discovery built from the installed plugins and offers discovery.scan.

The scan itself is exercised in network namespaces (test_discover_netns.py): here the hub runs
in the machine's own namespace, where a scan would reach the real network, so none is made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cityhub.services import ServiceValidationError
from cityhub.testing.hub import HubFactory


async def test_hub_offers_discovery_scan(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    config = cityhub_config(
        {
            "zones": [{"id": "gare", "name": "Gare"}],
            "cameras": [
                {
                    "id": "gare-quai",
                    "name": "Gare, quai",
                    "driver": "rtsp",
                    "zone": "gare",
                    "enabled": False,
                    "options": {"url": "rtsp://10.20.0.31/main"},
                }
            ],
            "http": {"port": 0},
        }
    )
    hub = await cityhub_hub(config)

    assert hub.services.has("discovery", "scan")
    assert "rtsp" in {m.driver for m in hub.discovery.matchers}
    assert "_rtsp._tcp.local." in hub.discovery.zeroconf_types
    assert [c.id for c in hub.discovery.cameras] == ["gare-quai"]
    assert hub.discovery.as_dict() == {"scanned_at": None, "devices": []}
    with pytest.raises(ServiceValidationError, match="timeout"):
        await hub.services.async_call("discovery", "scan", {"timeout": 600})
