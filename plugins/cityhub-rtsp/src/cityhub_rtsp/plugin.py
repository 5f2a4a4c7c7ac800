"""The plugin module the ``cityhub`` entry point names: it provides the RTSP camera driver."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub.api import CameraDriver, hookimpl
from cityhub_rtsp.driver import RtspCamera


@hookimpl
def cityhub_camera_drivers() -> Sequence[type[CameraDriver]]:
    """Return the RTSP camera driver."""
    return [RtspCamera]
