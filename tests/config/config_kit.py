"""Stand-in plugins and type names shared by the configuration tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import voluptuous as vol

from cityhub.api import CameraDriver, Notification, Notifier, StorageBackend, StorageUsage
from cityhub.model import HubConfig


class VirtualDriver(CameraDriver):
    """Accepts an empty mapping, like the real virtual driver must."""

    NAME = "virtual"
    CONFIG_SCHEMA = vol.Schema({vol.Optional("fps", default=10): vol.All(int, vol.Range(1, 30))})


class OnvifDriver(CameraDriver):
    NAME = "onvif"
    CONFIG_SCHEMA = vol.Schema(
        {
            vol.Required("host"): str,
            vol.Optional("port", default=80): vol.All(int, vol.Range(min=1, max=65535)),
            vol.Optional("username"): str,
            vol.Optional("password"): str,
        }
    )


class LocalStorage(StorageBackend):
    NAME = "local"
    CONFIG_SCHEMA = vol.Schema({vol.Optional("min_free_gb", default=50): int})

    def open_write(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def open_read(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def list(self, prefix: str = "") -> Sequence[str]:
        raise NotImplementedError

    def usage(self) -> StorageUsage:
        raise NotImplementedError


class MailNotifier(Notifier):
    NAME = "mail"
    CONFIG_SCHEMA = vol.Schema({vol.Required("to"): [str], vol.Optional("port", default=25): int})

    async def async_send(self, notification: Notification) -> None:
        raise NotImplementedError


DRIVERS: dict[str, type[CameraDriver]] = {"virtual": VirtualDriver, "onvif": OnvifDriver}
BACKENDS: dict[str, type[StorageBackend]] = {"local": LocalStorage}
NOTIFIERS: dict[str, type[Notifier]] = {"mail": MailNotifier}

Write = Callable[[str, str], Path]
Load = Callable[..., HubConfig]
Issues = Callable[..., list[str]]
