"""The plugin built into cityhub: registered through the same hooks as any installed plugin."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub.api import StorageBackend, hookimpl
from cityhub.storage import LocalStorage


@hookimpl
def cityhub_storage_backends() -> Sequence[type[StorageBackend]]:
    """The built-in storage backends: the local disk."""
    return [LocalStorage]
