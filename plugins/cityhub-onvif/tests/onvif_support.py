"""Helpers shared by the ONVIF driver's tests: the simulator's credentials, driver options."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from cityhub.testing.onvif import OnvifSimulator
from cityhub_onvif.driver import CONFIG_SCHEMA, OnvifCamera

USERNAME = "admin"
PASSWORD = "onvif-secret"

SimFactory = Callable[..., Awaitable[OnvifSimulator]]
DriverFactory = Callable[..., Awaitable[OnvifCamera]]


def options_for(sim: OnvifSimulator, **extra: Any) -> dict[str, Any]:
    """Validated driver options pointing at ``sim``."""
    raw = {"host": sim.host, "port": sim.port, "username": USERNAME, "password": PASSWORD}
    return dict(CONFIG_SCHEMA({**raw, **extra}))


async def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true, polling every 20 ms; fails after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
