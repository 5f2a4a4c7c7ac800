"""Tests of the built-in plugin module."""

from __future__ import annotations

import pluggy

from cityhub import builtin, hookspecs
from cityhub.api import PROJECT_NAME
from cityhub.storage import LocalStorage


def test_builtin_plugin_provides_local_storage_through_the_hook() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(builtin)
    assert manager.hook.cityhub_storage_backends() == [[LocalStorage]]
