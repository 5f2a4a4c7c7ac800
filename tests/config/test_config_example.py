"""The example city configuration shipped in config/example-city is valid."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import BinaryIO

import voluptuous as vol

from cityhub.api import CameraDriver, StorageBackend, StorageUsage
from cityhub.config import load_config
from cityhub.redact import redact

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example-city"


class EmptyOptionsDriver(CameraDriver):
    """Stands in for the virtual driver: its options schema accepts an empty mapping."""

    NAME = "virtual"
    CONFIG_SCHEMA = vol.Schema({})


class StandInStorage(StorageBackend):
    NAME = "local"
    CONFIG_SCHEMA = vol.Schema({})

    def open_write(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def open_read(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list(self, prefix: str = "") -> list[str]:
        raise NotImplementedError

    def usage(self) -> StorageUsage:
        raise NotImplementedError


def test_example_city_is_valid() -> None:
    config = load_config(
        EXAMPLE,
        camera_drivers={"virtual": EmptyOptionsDriver},
        storage_backends={"local": StandInStorage},
        notifiers={},
    )
    assert config.hub.data_dir == EXAMPLE / "data"
    assert [z.id for z in config.zones] == ["centre", "gare", "victoire"]
    assert len(config.emplacements) == 4
    assert len(config.cameras) == 8
    assert Counter(c.zone for c in config.cameras) == {"centre": 4, "gare": 2, "victoire": 2}
    assert {c.id: c.retention_days for c in config.cameras if c.zone != "centre"} == {
        "gare-parvis": 10,
        "gare-ptz": 10,
        "victoire-entree": 7,
        "victoire-aire-de-jeux": 5,
    }
    assert config.camera("mandarous-ptz").retention_days == 14
    assert all(c.options == {} and c.authorisation is not None for c in config.cameras)
    assert config.users[0].full_name == "Exemple Chef-de-Poste"
    assert redact("login by Exemple Chef-de-Poste") == "login by ***"
