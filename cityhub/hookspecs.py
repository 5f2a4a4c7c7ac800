"""Every hook a cityhub plugin can implement, in one place.

The core calls each hook once, at start-up (and again for ``cityhub plugins``), on every plugin
registered in the entry-point group ``cityhub`` and on the built-in plugins. Each returns a
sequence of *kinds*: classes the core instantiates from YAML configuration. A kind's ``NAME``
must be unique across all plugins; a clash is reported and the later one is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from cityhub.api import PROJECT_NAME, CameraDriver, DiscoveryMatcher, Notifier, StorageBackend

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def cityhub_camera_drivers() -> Sequence[type[CameraDriver]]:  # type: ignore[empty-body]
    """Return the camera driver classes this plugin provides.

    Called by the plugin manager when the hub starts and when ``cityhub plugins`` lists what
    is installed. Each class needs a ``NAME`` (the value of a camera's ``driver:`` key) and a
    ``CONFIG_SCHEMA`` (voluptuous, validating the camera's ``options:``).
    """


@hookspec
def cityhub_storage_backends() -> Sequence[type[StorageBackend]]:  # type: ignore[empty-body]
    """Return the storage backend classes this plugin provides.

    Called at start-up. ``NAME`` is the value of ``storage.backend`` in YAML and
    ``CONFIG_SCHEMA`` validates ``storage.options``. The local-disk backend is built in.
    """


@hookspec
def cityhub_notifiers() -> Sequence[type[Notifier]]:  # type: ignore[empty-body]
    """Return the notifier classes this plugin provides.

    Called at start-up. ``NAME`` is the value of a notifier's ``type:`` key in YAML and
    ``CONFIG_SCHEMA`` validates its ``options:``. Each configured notifier becomes the
    service ``notify.<id>``.
    """


@hookspec
def cityhub_discovery_matchers() -> Sequence[DiscoveryMatcher]:  # type: ignore[empty-body]
    """Return what this plugin's drivers can drive among discovered devices.

    Called by discovery (``cityhub discover`` and the panel's list of devices) before it
    browses: the zeroconf service types of every matcher are browsed besides ``_rtsp._tcp``
    and ``_onvif._tcp``, and each discovered device is offered to the matching driver with
    the highest ``priority``.
    """
