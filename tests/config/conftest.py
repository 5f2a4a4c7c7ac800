"""Fixtures of the configuration tests: write files in a folder, load it, list its issues."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from config_kit import BACKENDS, DRIVERS, NOTIFIERS, Issues, Load, Write

from cityhub.config import ConfigError, load_config
from cityhub.model import HubConfig


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a dedented file (less its first newline) in the config folder; returns its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(text)
        path.write_text(text.removeprefix("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def load(tmp_path: Path) -> Load:
    """Load the config folder with the stand-in plugins."""

    def _load(config_dir: Path | None = None) -> HubConfig:
        return load_config(
            config_dir or tmp_path,
            camera_drivers=DRIVERS,
            storage_backends=BACKENDS,
            notifiers=NOTIFIERS,
        )

    return _load


@pytest.fixture
def issues(load: Load, tmp_path: Path) -> Issues:
    """The formatted issues of the config folder (it must have some)."""

    def _issues(config_dir: Path | None = None) -> list[str]:
        with pytest.raises(ConfigError) as caught:
            load(config_dir)
        return [issue.format(config_dir or tmp_path) for issue in caught.value.issues]

    return _issues
