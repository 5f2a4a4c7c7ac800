"""pytest fixtures for cityhub and its plugins (registered through the ``pytest11`` entry point).

- ``cityhub_config``: writes a configuration folder from Python data and returns its path.
- ``cityhub_hub``: an async factory that starts a real Hub on a configuration folder (HTTP on
  a free loopback port) and stops it when the test ends. Needs pytest-asyncio. Its hubs
  share the virtual camera's loop clips (``hub_clip_cache``): each is encoded once per run.
- ``rtsp_server``: a started :class:`cityhub.testing.rtsp.RtspTestServer` (GStreamer's RTSP
  server on 127.0.0.1); its clips are encoded once per run (``rtsp_clip_cache``).
- ``onvif_simulator``: a started :class:`cityhub.testing.onvif.OnvifSimulator` (user
  ``admin``, password ``onvif-secret``, PTZ, two profiles, masks, live video over its own RTSP
  test server). ``onvif_simulator_factory``: ``await onvif_simulator_factory(**options)``
  for others, e.g. ``video=False`` when a test needs no picture (encoding costs CPU). Both
  need pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cityhub.testing.hub import HubFactory, write_config
from cityhub.testing.onvif import OnvifSimulator
from cityhub.testing.rtsp import ClipCache, RtspTestServer

__all__ = ["cityhub_config", "hub_clip_cache", "rtsp_clip_cache", "rtsp_server"]


@pytest.fixture
def cityhub_config(tmp_path: Path) -> Callable[..., Path]:
    """Return ``make(config: dict, secrets: dict | None = None, **files) -> Path``.

    ``files`` maps extra file names to data (for ``!include``); strings are written as-is.
    """

    def make(config: dict[str, Any], secrets: dict[str, Any] | None = None, **files: Any) -> Path:
        return write_config(tmp_path / "config", config, secrets, **files)

    return make


@pytest.fixture(scope="session")
def rtsp_clip_cache(tmp_path_factory: pytest.TempPathFactory) -> ClipCache:
    """The clips of ``rtsp_server``, encoded once per test run."""
    return ClipCache(tmp_path_factory.mktemp("rtsp-clips"))


@pytest.fixture(scope="session")
def hub_clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the hubs of ``cityhub_hub`` share their virtual-camera loop clips in."""
    return tmp_path_factory.mktemp("hub-clips")


@pytest.fixture
def rtsp_server(rtsp_clip_cache: ClipCache) -> Iterator[RtspTestServer]:
    """A started RTSP test server on a free loopback port, stopped after the test."""
    with RtspTestServer(clips=rtsp_clip_cache) as server:
        yield server


try:
    import pytest_asyncio
except ImportError:  # the hub fixture needs pytest-asyncio; the rest of the kit does not
    pass
else:
    __all__ += ["cityhub_hub", "onvif_simulator", "onvif_simulator_factory"]

    @pytest_asyncio.fixture
    async def cityhub_hub(hub_clip_cache: Path) -> AsyncIterator[HubFactory]:
        """An async factory ``await cityhub_hub(config_dir)`` returning a started Hub."""
        factory = HubFactory(shared_cache=hub_clip_cache)
        try:
            yield factory
        finally:
            await factory.async_stop_all()

    @pytest_asyncio.fixture
    async def onvif_simulator_factory() -> AsyncIterator[Callable[..., Awaitable[OnvifSimulator]]]:
        """``await onvif_simulator_factory(**options)``: a started ONVIF simulator (options as
        :class:`OnvifSimulator` takes them); every one is stopped when the test ends."""
        started: list[OnvifSimulator] = []

        async def make(**options: Any) -> OnvifSimulator:
            sim = OnvifSimulator(**options)
            await sim.start()
            started.append(sim)
            return sim

        try:
            yield make
        finally:
            for sim in reversed(started):
                await sim.stop()

    @pytest_asyncio.fixture
    async def onvif_simulator(
        onvif_simulator_factory: Callable[..., Awaitable[OnvifSimulator]],
    ) -> OnvifSimulator:
        """A started ONVIF simulator with the defaults: admin/onvif-secret, PTZ, two profiles,
        masks and live video over its own RTSP test server."""
        return await onvif_simulator_factory()
