"""Start real hubs in tests: write a configuration folder, start, stop, wait for states."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cityhub.api import CameraState, Context

if TYPE_CHECKING:  # imported when a hub is started, so loading the pytest plugin stays light
    from cityhub.hub import Hub
    from cityhub.plugins import Plugins


def write_config(
    config_dir: Path, config: dict[str, Any], secrets: dict[str, Any] | None = None, **files: Any
) -> Path:
    """Write ``cityhub.yaml`` (and ``secrets.yaml``, extra files) into ``config_dir``."""
    config_dir.mkdir(parents=True, exist_ok=True)
    documents = {"cityhub.yaml": config, **files}
    if secrets is not None:
        documents["secrets.yaml"] = secrets
    for name, data in documents.items():
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        (config_dir / name).write_text(text, encoding="utf-8")
    return config_dir


SHARED_CACHE_DRIVERS = ("virtual",)
"""Drivers whose cache folder a :class:`HubFactory` with a ``shared_cache`` shares between
hubs: the virtual camera's loop clips depend only on their parameters and the camera's name,
and are written atomically, so one encoded clip serves every later hub."""


class HubFactory:
    """Starts hubs for a test and stops every one of them at the end.

    With ``shared_cache`` (a folder), each hub's cache folder of the drivers named in
    :data:`SHARED_CACHE_DRIVERS` is a symbolic link into it, so hubs started one after the
    other do not each encode the same virtual-camera loop again. A hub whose data folder
    already has such a cache folder keeps its own.
    """

    def __init__(self, shared_cache: Path | None = None) -> None:
        self.hubs: list[Hub] = []
        self.shared_cache = shared_cache

    async def __call__(self, config_dir: Path, plugins: Plugins | None = None) -> Hub:
        """Start a hub on ``config_dir`` (its ``http.port`` should be 0: any free port)."""
        from cityhub.hub import Hub

        hub = Hub.from_config_dir(config_dir, plugins)
        if self.shared_cache is not None:
            link_shared_cache(hub.data_dir, self.shared_cache)
        self.hubs.append(hub)
        await hub.async_start()
        return hub

    async def async_stop_all(self) -> None:
        """Stop every hub this factory started."""
        for hub in reversed(self.hubs):
            await hub.async_stop()
        self.hubs.clear()


def link_shared_cache(data_dir: Path, shared_cache: Path) -> None:
    """Make ``data_dir``'s cache folders of :data:`SHARED_CACHE_DRIVERS` links into
    ``shared_cache`` (unless ``data_dir`` has them already)."""
    for driver in SHARED_CACHE_DRIVERS:
        link = data_dir / "cache" / driver
        if link.exists() or link.is_symlink():
            continue
        target = shared_cache / driver
        target.mkdir(parents=True, exist_ok=True)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target, target_is_directory=True)


async def wait_for_state(
    hub: Hub, camera_id: str, state: CameraState, timeout: float = 10.0
) -> None:
    """Wait until ``camera_id`` reaches ``state``; raises ``TimeoutError`` saying where it is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = hub.states.get(camera_id)
        if status is not None and status.state is state:
            return
        if loop.time() >= deadline:
            where = f"{status.state.value} ({status.reason})" if status else "unknown"
            raise TimeoutError(f"camera {camera_id} did not reach {state.value}; it is {where}")
        await asyncio.sleep(0.05)


async def fire_logged(hub: Hub, event_type: str, **data: Any) -> None:
    """Fire ``event_type`` as a camera driver would, and wait until the event log has it."""
    hub.bus.async_fire(event_type, data, Context())
    await hub.async_event_log_written()
