"""Fixtures of the virtual camera tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from cityhub.testing import RecordingDriverHost
from cityhub_virtual.driver import VirtualCamera

MakeCamera = Callable[..., VirtualCamera]


@pytest.fixture
def make_camera(tmp_path: Path) -> MakeCamera:
    """Build virtual cameras sharing one cache folder under ``tmp_path``."""

    def _make(
        options: Mapping[str, Any] | None = None, cache_dir: Path | None = None
    ) -> VirtualCamera:
        host = RecordingDriverHost(cache_dir=cache_dir or tmp_path / "cache")
        return VirtualCamera(host, options or {})

    return _make
