"""pytest fixtures for cityhub and its plugins (registered through the ``pytest11`` entry point).

- ``cityhub_config``: writes a configuration folder from Python data and returns its path.
- ``cityhub_hub``: an async factory that starts a real Hub on a configuration folder (HTTP on
  a free loopback port) and stops it when the test ends. Needs pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.testing.hub import HubFactory, write_config

__all__ = ["cityhub_config"]


@pytest.fixture
def cityhub_config(tmp_path: Path) -> Callable[..., Path]:
    """Return ``make(config: dict, secrets: dict | None = None, **files) -> Path``.

    ``files`` maps extra file names to data (for ``!include``); strings are written as-is.
    """

    def make(config: dict[str, Any], secrets: dict[str, Any] | None = None, **files: Any) -> Path:
        return write_config(tmp_path / "config", config, secrets, **files)

    return make


try:
    import pytest_asyncio
except ImportError:  # the hub fixture needs pytest-asyncio; the rest of the kit does not
    pass
else:
    __all__ += ["cityhub_hub"]

    @pytest_asyncio.fixture
    async def cityhub_hub() -> AsyncIterator[HubFactory]:
        """An async factory ``await cityhub_hub(config_dir)`` returning a started Hub."""
        factory = HubFactory()
        try:
            yield factory
        finally:
            await factory.async_stop_all()
