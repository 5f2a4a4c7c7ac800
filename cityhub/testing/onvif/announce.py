"""Making a simulator discoverable as a real camera is: WS-Discovery and zeroconf.

    async with Announcement(sim):
        ...  # `cityhub discover` on the same network finds the device

WS-Discovery: a responder bound to the simulator's address answers probes, says Hello when
the device comes up and Bye when it goes down (a restart sends both), with the simulator's
scopes and its device service address. Zeroconf: with video, the main stream is also
published as an ``_rtsp._tcp`` service (path and vendor in its TXT record), as many cameras
do. Announcements are multicast on the simulator's own interface: give the simulator an
address in a network namespace of the test's (``cityhub.testing.netns``), never a real LAN.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Self

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from cityhub.testing.wsdiscovery import WsDiscoveryResponder

if TYPE_CHECKING:
    from cityhub.testing.onvif.simulator import OnvifSimulator

__all__ = ["RTSP_SERVICE_TYPE", "Announcement"]

_LOGGER = logging.getLogger(__name__)

RTSP_SERVICE_TYPE = "_rtsp._tcp.local."


class Announcement:
    """WS-Discovery (and, with video, zeroconf) announcements of one simulator."""

    def __init__(self, sim: OnvifSimulator, *, zeroconf: bool = True) -> None:
        self.sim = sim
        self.zeroconf = zeroconf
        endpoint = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, sim.device_url)}"
        self.responder = WsDiscoveryResponder(
            xaddrs=[sim.device_url], scopes=sim.scopes, endpoint=endpoint, bind_address=sim.host
        )
        self._zeroconf: AsyncZeroconf | None = None
        self._online = False
        self._changes: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Announce the (started) simulator and follow its restarts."""
        await self.responder.start()
        self._online = True
        self.sim.listeners.append(self._on_state)
        server = self.sim.rtsp_server
        if self.zeroconf and self.sim.video and server is not None:
            self._zeroconf = AsyncZeroconf(interfaces=[self.sim.host], ip_version=IPVersion.V4Only)
            info = ServiceInfo(
                RTSP_SERVICE_TYPE,
                f"{self.sim.model} {self.sim.serial}.{RTSP_SERVICE_TYPE}",
                addresses=[socket.inet_aton(self.sim.host)],
                port=server.port,
                properties={"path": self.sim.rtsp_path("main"), "vendor": self.sim.manufacturer},
                server=f"{self.sim.hostname}.local.",
            )
            await (await self._zeroconf.async_register_service(info))

    async def stop(self) -> None:
        """Say Bye and withdraw the zeroconf service."""
        if self._on_state in self.sim.listeners:
            self.sim.listeners.remove(self._on_state)
        if self._changes is not None:
            await asyncio.gather(self._changes, return_exceptions=True)
        if self._online:
            await self.responder.stop()
            self._online = False
        if self._zeroconf is not None:
            await self._zeroconf.async_unregister_all_services()
            await self._zeroconf.async_close()
            self._zeroconf = None

    def _on_state(self, state: str) -> None:
        previous = self._changes
        self._changes = asyncio.ensure_future(self._follow(state, previous))

    async def _follow(self, state: str, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            if state == "offline" and self._online:
                await self.responder.stop()
                self._online = False
            elif state == "online" and not self._online:
                await self.responder.start()
                self._online = True
        except OSError:
            _LOGGER.exception("Could not announce the simulator going %s", state)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
