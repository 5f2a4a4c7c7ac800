"""Plugins load by entry point from real installed distributions; a broken one is isolated."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cityhub.plugins import Plugins

ACME_MODULE = """
from __future__ import annotations

import voluptuous as vol

from cityhub.api import CameraDriver, Notification, Notifier, hookimpl


class AcmeCamera(CameraDriver):
    NAME = "acme"
    CONFIG_SCHEMA = vol.Schema({vol.Required("host"): str})

    async def async_snapshot(self) -> bytes:
        return b"jpeg"


class AcmePager(Notifier):
    NAME = "acme-pager"

    async def async_send(self, notification: Notification) -> None:
        self.logger.info("page: %s", notification.title)


class NotAKind:
    NAME = "bogus"


@hookimpl
def cityhub_camera_drivers():
    return [AcmeCamera]


@hookimpl
def cityhub_notifiers():
    return [AcmePager, NotAKind]
"""

BROKEN_MODULE = """
raise RuntimeError("vendor SDK missing")
"""


def _write_distribution(root: Path, dist: str, module: str, source: str, version: str) -> Path:
    project = root / dist
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(source)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "{version}"

            [project.entry-points.cityhub]
            {module.split("_")[0]} = "{module}"

            [tool.setuptools]
            packages = ["{module}"]
            """
        )
    )
    return project


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder where two throwaway plugin distributions are pip-installed."""
    root = tmp_path_factory.mktemp("plugins")
    site = root / "site"
    projects = [
        _write_distribution(root, "cityhub-acme", "acme_cityhub", ACME_MODULE, "1.2.3"),
        _write_distribution(root, "cityhub-broken", "broken_cityhub", BROKEN_MODULE, "0.0.1"),
    ]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            *map(str, projects),
        ],
        check=True,
        capture_output=True,
    )
    return site


def test_hub_loads_installed_plugins_by_entry_point(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(plugin_site))
    plugins = Plugins.load()

    assert "acme" in plugins.camera_drivers
    assert "acme-pager" in plugins.notifiers
    assert "virtual" in plugins.camera_drivers  # the bundled plugin still loads
    assert plugins.storage_backends["local"].__module__ == "cityhub.storage.local"

    reports = {r.name: r for r in plugins.reports}
    acme = reports["acme"]
    assert (acme.distribution, acme.version) == ("cityhub-acme", "1.2.3")
    assert acme.provides == {"camera_drivers": ["acme"], "notifiers": ["acme-pager"]}
    assert acme.capabilities == {"acme": ["snapshot"]}
    assert "NotAKind" in (acme.error or "")  # a bad kind is reported, the good ones kept

    broken = reports["broken"]
    assert not broken.ok
    assert "RuntimeError: vendor SDK missing" in (broken.error or "")
    assert reports["cityhub.builtin"].builtin


def test_cityhub_plugins_command_lists_everything(plugin_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    proc = subprocess.run(
        [sys.executable, "-m", "cityhub.cli", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "acme (cityhub-acme 1.2.3, module acme_cityhub): FAILED" in out  # NotAKind
    assert "camera driver: acme [snapshot]" in out
    assert "notifier: acme-pager" in out
    assert "broken (cityhub-broken 0.0.1, module broken_cityhub): FAILED" in out
    assert "| RuntimeError: vendor SDK missing" in out
    assert "virtual (cityhub-virtual" in out
    assert "cityhub.builtin (built-in, module cityhub.builtin): ok" in out
    assert "storage backend: local" in out

    strict = subprocess.run(
        [sys.executable, "-m", "cityhub.cli", "plugins", "--strict"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert strict.returncode == 1
