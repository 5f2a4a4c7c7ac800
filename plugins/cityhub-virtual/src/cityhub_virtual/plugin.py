"""The plugin module the ``cityhub`` entry point names: it provides the virtual camera driver."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub.api import CameraDriver, hookimpl
from cityhub_virtual.driver import VirtualCamera


@hookimpl
def cityhub_camera_drivers() -> Sequence[type[CameraDriver]]:
    """Return the virtual camera driver."""
    return [VirtualCamera]
