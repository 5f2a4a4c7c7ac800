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


class HubFactory:
    """Starts hubs for a test and stops every one of them at the end."""

    def __init__(self) -> None:
        self.hubs: list[Hub] = []

    async def __call__(self, config_dir: Path, plugins: Plugins | None = None) -> Hub:
        """Start a hub on ``config_dir`` (its ``http.port`` should be 0: any free port)."""
        from cityhub.hub import Hub

        hub = Hub.from_config_dir(config_dir, plugins)
        self.hubs.append(hub)
        await hub.async_start()
        return hub

    async def async_stop_all(self) -> None:
        """Stop every hub this factory started."""
        for hub in reversed(self.hubs):
            await hub.async_stop()
        self.hubs.clear()


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
