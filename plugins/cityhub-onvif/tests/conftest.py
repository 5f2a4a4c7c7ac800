"""Fixtures of the ONVIF driver's tests: simulated cameras and the driver set up on one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from onvif_support import PASSWORD, USERNAME, DriverFactory, SimFactory, options_for

from cityhub.testing import RecordingDriverHost
from cityhub.testing.onvif import OnvifSimulator
from cityhub_onvif.driver import OnvifCamera


@pytest.fixture
def make_sim(onvif_simulator_factory: SimFactory) -> SimFactory:
    """``await make_sim(**kwargs)``: a started simulator (``cityhub.testing``'s factory) with
    this suite's credentials and, unless asked, no video (encoding costs CPU)."""

    async def make(**kwargs: Any) -> OnvifSimulator:
        kwargs.setdefault("video", False)
        return await onvif_simulator_factory(username=USERNAME, password=PASSWORD, **kwargs)

    return make


@pytest_asyncio.fixture
async def make_driver(tmp_path: Path) -> AsyncIterator[DriverFactory]:
    """``await make_driver(sim, **options)``: the driver set up on ``sim``, torn down after."""
    drivers: list[OnvifCamera] = []

    async def make(
        sim: OnvifSimulator, driver_type: type[OnvifCamera] = OnvifCamera, **extra: Any
    ) -> OnvifCamera:
        host = RecordingDriverHost(cache_dir=tmp_path)
        driver = driver_type(host, options_for(sim, **extra))
        await driver.async_setup()
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        await driver.async_teardown()


@pytest.fixture
def host(tmp_path: Path) -> RecordingDriverHost:
    """A driver host without a hub, keeping the attributes a driver publishes."""
    return RecordingDriverHost(cache_dir=tmp_path)
