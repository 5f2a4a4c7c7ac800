"""The test kit's hub factory: hubs started one after the other share the virtual loop clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cityhub.api import CameraState
from cityhub.testing.hub import HubFactory, link_shared_cache, wait_for_state, write_config
from cityhub_virtual.driver import VirtualCamera


def config() -> dict[str, Any]:
    camera = {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
              "recording": False, "options": {"width": 160, "height": 96, "fps": 10,
                                              "sub_stream": False}}  # fmt: skip
    return {
        "hub": {"data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [camera],
    }


async def start_and_count_encodes(factory: HubFactory, config_dir: Path) -> int:
    """Start a hub on ``config_dir``, wait for its camera, stop it; the clips it encoded."""
    hub = await factory(write_config(config_dir, config()))
    try:
        await wait_for_state(hub, "mairie", CameraState.ONLINE, timeout=30)
        driver = hub.cameras["mairie"].driver
        assert isinstance(driver, VirtualCamera)
        return driver.clips.encodes
    finally:
        await factory.async_stop_all()


async def test_a_second_hub_reuses_the_clip_the_first_one_encoded(tmp_path: Path) -> None:
    factory = HubFactory(shared_cache=tmp_path / "shared")
    assert await start_and_count_encodes(factory, tmp_path / "one") == 1
    assert await start_and_count_encodes(factory, tmp_path / "two") == 0
    link = tmp_path / "two" / "data" / "cache" / "virtual"
    assert link.is_symlink()
    assert link.resolve() == (tmp_path / "shared" / "virtual").resolve()
    assert len(list((tmp_path / "shared" / "virtual").iterdir())) == 1


async def test_without_a_shared_cache_every_hub_encodes_its_own(tmp_path: Path) -> None:
    factory = HubFactory()
    assert await start_and_count_encodes(factory, tmp_path / "one") == 1
    assert await start_and_count_encodes(factory, tmp_path / "two") == 1
    assert not (tmp_path / "two" / "data" / "cache" / "virtual").is_symlink()


def test_a_data_folder_keeps_a_cache_folder_it_already_has(tmp_path: Path) -> None:
    own = tmp_path / "data" / "cache" / "virtual"
    own.mkdir(parents=True)
    link_shared_cache(tmp_path / "data", tmp_path / "shared")
    assert own.is_dir()
    assert not own.is_symlink()
