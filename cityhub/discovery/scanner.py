"""The hub's discovery: a scan (WS-Discovery probe and zeroconf browsing at once) on demand,
its last results, and the ``discovery.scan`` service that returns them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import voluptuous as vol

from cityhub.api import DiscoveryMatcher
from cityhub.discovery.devices import DiscoveredDevice, collect_matchers, merge, resolve
from cityhub.discovery.mdns import BASE_TYPES, ZeroconfService, async_browse
from cityhub.discovery.wsd import (
    DEFAULT_PROBE_TIMEOUT_S,
    ListenerChange,
    Sighting,
    WsdListener,
    async_probe,
)
from cityhub.model import CameraConfig
from cityhub.plugins import Plugins
from cityhub.services import ServiceCall, ServiceRegistry

_LOGGER = logging.getLogger(__name__)

MAX_SCAN_TIMEOUT_S: Final = 30.0
"""The longest scan a caller may ask for (seconds): devices answer within a second or two."""

SCAN_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("timeout", default=DEFAULT_PROBE_TIMEOUT_S): vol.All(
            vol.Coerce(float), vol.Range(min=0.5, max=MAX_SCAN_TIMEOUT_S)
        ),
    }
)
"""Data of ``discovery.scan``: how long to listen for answers, in seconds."""


class DiscoveryError(Exception):
    """Neither WS-Discovery nor zeroconf could run (no usable interface, ports refused...)."""


class Discovery:
    """Finds devices on demand and keeps the last list; one scan runs at a time."""

    def __init__(
        self,
        matchers: Sequence[DiscoveryMatcher],
        cameras: Sequence[CameraConfig] = (),
        *,
        interfaces: Sequence[str] | None = None,
        targets: Sequence[str] = (),
    ) -> None:
        self.matchers = list(matchers)
        self.cameras = list(cameras)
        self.interfaces = list(interfaces) if interfaces is not None else None
        self.targets = list(targets)
        self.devices: list[DiscoveredDevice] = []
        """The devices the last scan found, kept up to date while listening."""
        self.scanned_at: datetime | None = None
        """When the last scan ended (UTC)."""
        self._lock = asyncio.Lock()
        self._sightings: dict[str, Sighting] = {}
        self._services: list[ZeroconfService] = []
        self._listener: WsdListener | None = None
        self._on_change: Callable[[list[DiscoveredDevice]], None] | None = None

    @classmethod
    def from_plugins(
        cls,
        plugins: Plugins,
        cameras: Sequence[CameraConfig] = (),
        *,
        interfaces: Sequence[str] | None = None,
        targets: Sequence[str] = (),
    ) -> Discovery:
        """A discovery using every installed plugin's matchers."""
        return cls(collect_matchers(plugins), cameras, interfaces=interfaces, targets=targets)

    @property
    def zeroconf_types(self) -> list[str]:
        """``_rtsp._tcp`` and ``_onvif._tcp``, then every type a matcher claims."""
        types = list(BASE_TYPES)
        for matcher in self.matchers:
            types += [t for t in matcher.zeroconf_types if t not in types]
        return types

    async def async_scan(self, timeout: float = DEFAULT_PROBE_TIMEOUT_S) -> list[DiscoveredDevice]:
        """Probe and browse for ``timeout`` seconds; return (and keep) the devices found."""
        async with self._lock:
            probed, browsed = await asyncio.gather(
                async_probe(interfaces=self.interfaces, targets=self.targets, timeout=timeout),
                async_browse(self.zeroconf_types, interfaces=self.interfaces, timeout=timeout),
                return_exceptions=True,
            )
            failures = [r for r in (probed, browsed) if isinstance(r, BaseException)]
            for failure in failures:
                if not isinstance(failure, Exception):
                    raise failure
                _LOGGER.warning("Discovery: %s", failure)
            if len(failures) == 2:
                raise DiscoveryError(
                    f"neither WS-Discovery nor zeroconf could run ({probed}; {browsed}); "
                    "check the interface addresses given"
                )
            sightings: list[Sighting] = [] if isinstance(probed, BaseException) else probed
            services: list[ZeroconfService] = [] if isinstance(browsed, BaseException) else browsed
            self._sightings = {s.endpoint.address: s for s in sightings}
            self._services = services
            self._rebuild()
            self.scanned_at = datetime.now(UTC)
            _LOGGER.info(
                "Discovery found %d device(s) (%d by WS-Discovery, %d zeroconf service(s))",
                len(self.devices),
                len(sightings),
                len(services),
            )
            return self.devices

    def _rebuild(self) -> None:
        merged = merge(list(self._sightings.values()), self._services)
        self.devices = resolve(merged, self.matchers, self.cameras)

    @property
    def listening(self) -> bool:
        """Whether Hello and Bye announcements are being followed."""
        return self._listener is not None

    async def async_start_listening(
        self, on_change: Callable[[list[DiscoveredDevice]], None] | None = None
    ) -> None:
        """Follow Hello and Bye: announced devices join ``devices``, departing ones leave it.

        ``on_change(devices)`` is called in the loop after each change. Joining the multicast
        group sends IGMP reports on the chosen interfaces: start this when a user asks for a
        live list, and stop it with :meth:`async_stop_listening`.
        """
        if self._listener is not None:
            raise RuntimeError("discovery is already listening for announcements")
        listener = WsdListener(self.interfaces, self._on_announcement)
        await listener.async_start()
        self._listener, self._on_change = listener, on_change

    async def async_stop_listening(self) -> None:
        """Stop following announcements; ``devices`` stays as it was."""
        if self._listener is not None:
            await self._listener.async_stop()
            self._listener, self._on_change = None, None

    def _on_announcement(self, change: ListenerChange, sighting: Sighting) -> None:
        if change is ListenerChange.REMOVED:
            self._sightings.pop(sighting.endpoint.address, None)
        else:
            self._sightings[sighting.endpoint.address] = sighting
        self._rebuild()
        if self._on_change is not None:
            self._on_change(self.devices)

    def as_dict(self) -> dict[str, Any]:
        """The last results, JSON-ready."""
        return {
            "scanned_at": self.scanned_at.isoformat() if self.scanned_at else None,
            "devices": [device.as_dict() for device in self.devices],
        }


def register_discovery_services(
    services: ServiceRegistry, discovery: Discovery
) -> Callable[[], None]:
    """Register ``discovery.scan``, which scans and returns the devices; returns its remover."""

    async def scan(call: ServiceCall) -> dict[str, Any]:
        _LOGGER.info("Scanning for devices (asked by %s)", call.context.origin)
        await discovery.async_scan(call.data["timeout"])
        return discovery.as_dict()

    return services.register(
        "discovery",
        "scan",
        scan,
        SCAN_SCHEMA,
        "Look for cameras on the network (WS-Discovery and zeroconf) and return them.",
    )
