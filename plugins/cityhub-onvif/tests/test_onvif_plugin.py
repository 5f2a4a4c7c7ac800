"""The installed distribution: its entry point gives the driver and the ONVIF discovery claim."""

from __future__ import annotations

import logging
import subprocess
import sys

from cityhub.api import DiscoveryMatcher
from cityhub.plugins import Plugins
from cityhub_onvif.driver import OnvifCamera


def test_entry_point_provides_the_driver_and_the_discovery_matcher() -> None:
    plugins = Plugins.load()
    assert plugins.camera_drivers["onvif"] is OnvifCamera
    report = next(r for r in plugins.reports if r.name == "onvif")
    assert report.ok, report.error
    assert report.distribution == "cityhub-onvif"
    matchers = [m for group in plugins.manager.hook.cityhub_discovery_matchers() for m in group]
    assert (
        DiscoveryMatcher(
            driver="onvif",
            onvif_scopes=("onvif://www.onvif.org/",),
            zeroconf_types=("_onvif._tcp.local.",),
        )
        in matchers
    )


def test_importing_the_driver_leaves_logging_alone() -> None:
    # A fresh interpreter: the ONVIF client library calls logging.basicConfig on import.
    code = (
        "import logging, cityhub_onvif.plugin; root = logging.getLogger(); "
        "print(len(root.handlers), root.level)"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["0", str(logging.WARNING)]
