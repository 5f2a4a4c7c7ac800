"""Test kit for cityhub and its plugins: fixtures and helpers integrators use in their tests.

The pytest plugin (:mod:`cityhub.testing.pytest_plugin`) is registered automatically when
cityhub is installed; import helpers from here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import attrs

from cityhub.api import CameraInfo, CameraKind
from cityhub.testing.media import FfprobeResult, ffprobe

__all__ = ["FfprobeResult", "RecordingDriverHost", "ffprobe"]


@attrs.define
class RecordingDriverHost:
    """A :class:`cityhub.api.DriverHost` for unit-testing a driver without a hub.

    It keeps the attributes the driver publishes in ``attributes``.
    """

    cache_dir: Path
    camera: CameraInfo = attrs.field(
        factory=lambda: CameraInfo(
            id="test-cam", name="Test camera", kind=CameraKind.FIXED, zone="test"
        )
    )
    attributes: dict[str, Any] = attrs.field(factory=dict)

    @property
    def logger(self) -> logging.Logger:
        """A logger named after the camera."""
        return logging.getLogger(f"cityhub.test.{self.camera.id}")

    def set_attribute(self, key: str, value: Any) -> None:
        """Record a published attribute."""
        self.attributes[key] = value
