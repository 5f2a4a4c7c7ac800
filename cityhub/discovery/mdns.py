"""zeroconf (mDNS / DNS-SD) browsing: which services of the wanted types answer, and where."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
from zeroconf import BadTypeInNameException, InterfaceChoice, IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

RTSP_TYPE: Final = "_rtsp._tcp.local."
ONVIF_TYPE: Final = "_onvif._tcp.local."
BASE_TYPES: Final = (RTSP_TYPE, ONVIF_TYPE)
"""Browsed whatever the plugins claim: generic RTSP cameras and ONVIF devices that use mDNS."""

RESOLVE_TIMEOUT_S: Final = 3.0
"""How long one service's address, port and TXT record may take to resolve (seconds)."""
RESOLVE_GRACE_S: Final = 1.0
"""How long resolutions still running at the end of the browsing window may finish (seconds)."""


@attrs.frozen
class ZeroconfService:
    """One resolved DNS-SD service instance."""

    type: str
    name: str
    """The full instance name, ``Rue Gambetta._rtsp._tcp.local.``."""
    server: str | None
    """The host name the service points at (``cam-12.local.``)."""
    addresses: tuple[str, ...]
    port: int
    properties: Mapping[str, str] = attrs.field(factory=dict)
    """The TXT record, decoded as text (a key without a value maps to ``""``)."""

    @property
    def instance(self) -> str:
        """The instance name without the type (``Rue Gambetta``)."""
        suffix = "." + self.type
        return self.name[: -len(suffix)] if self.name.endswith(suffix) else self.name

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "type": self.type,
            "name": self.name,
            "server": self.server,
            "addresses": list(self.addresses),
            "port": self.port,
            "properties": dict(self.properties),
        }


def valid_types(types: Sequence[str]) -> list[str]:
    """``types`` without duplicates and without the names DNS-SD cannot browse (logged)."""
    kept: list[str] = []
    for type_ in types:
        if not (type_.startswith("_") and type_.endswith(("._tcp.local.", "._udp.local."))):
            _LOGGER.warning(
                "Ignoring zeroconf type %r: a type looks like _name._tcp.local. (or ._udp)", type_
            )
        elif type_ not in kept:
            kept.append(type_)
    return kept


def _decode_properties(raw: Mapping[bytes, bytes | None]) -> dict[str, str]:
    return {
        key.decode("utf-8", "replace"): (value or b"").decode("utf-8", "replace")
        for key, value in raw.items()
    }


async def async_browse(
    types: Sequence[str],
    *,
    interfaces: Sequence[str] | None = None,
    timeout: float = 3.0,
) -> list[ZeroconfService]:
    """Browse ``types`` for ``timeout`` seconds on ``interfaces`` (every one when ``None``)."""
    wanted = valid_types(types)
    if not wanted:
        return []
    aiozc = AsyncZeroconf(
        interfaces=list(interfaces) if interfaces else InterfaceChoice.All,
        ip_version=IPVersion.V4Only,
    )
    found: dict[tuple[str, str], ZeroconfService] = {}
    resolving: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    async def resolve(type_: str, name: str) -> None:
        info = AsyncServiceInfo(type_, name)
        budget = min(RESOLVE_TIMEOUT_S, max(deadline + RESOLVE_GRACE_S - loop.time(), 0.1))
        if not await info.async_request(aiozc.zeroconf, budget * 1000):
            _LOGGER.debug("zeroconf: %s did not resolve within %.1f s", name, budget)
            return
        addresses = tuple(info.parsed_addresses(IPVersion.V4Only))
        if not addresses or info.port is None:
            _LOGGER.debug("zeroconf: %s has no IPv4 address or port", name)
            return
        found[(type_, name)] = ZeroconfService(
            type=type_,
            name=name,
            server=info.server,
            addresses=addresses,
            port=info.port,
            properties=_decode_properties(info.properties),
        )

    def on_change(
        zeroconf: Any, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            found.pop((service_type, name), None)
            return
        task = loop.create_task(resolve(service_type, name))
        resolving.add(task)
        task.add_done_callback(resolving.discard)

    try:
        try:
            browser = AsyncServiceBrowser(aiozc.zeroconf, wanted, handlers=[on_change])
        except BadTypeInNameException as err:
            _LOGGER.warning("zeroconf refused a service type: %s", err)
            return []
        await asyncio.sleep(timeout)
        await browser.async_cancel()
        if resolving:
            _done, late = await asyncio.wait(set(resolving), timeout=RESOLVE_GRACE_S)
            for task in late:
                task.cancel()
    finally:
        for task in resolving:
            task.cancel()
        await aiozc.async_close()
    return sorted(found.values(), key=lambda s: (s.addresses, s.type, s.name))
