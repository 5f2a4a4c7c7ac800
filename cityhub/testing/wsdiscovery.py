"""A WS-Discovery responder: makes a test device (the ONVIF simulator, a demo) discoverable.

``WsDiscoveryResponder(xaddrs=[device_url], scopes=scopes)`` multicasts a ``Hello`` when
started, answers every matching ``Probe`` by unicast to its sender after a random delay of
up to half a second (as the specification asks, so that answers do not collide), and
multicasts a ``Bye`` when stopped.

It multicasts through ``bind_address`` only, 127.0.0.1 by default, so a test that forgets to
choose an interface never announces anything beyond the machine. To be found from another
network namespace, give the address of the namespace's interface.

Run it on its own for a demo (Ctrl-C sends the Bye)::

    python -m cityhub.testing.wsdiscovery --bind 10.20.0.5 \\
        --xaddr http://10.20.0.5:8080/onvif/device_service \\
        --scope onvif://www.onvif.org/name/Demo --scope onvif://www.onvif.org/location/Millau
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
import uuid
from collections.abc import Sequence

from cityhub.discovery.wsd import (
    APP_MAX_DELAY_S,
    MULTICAST_GROUP,
    ONVIF_TYPES,
    PORT,
    Endpoint,
    Message,
    MessageKind,
    QName,
    async_open,
    build_bye,
    build_hello,
    build_probe_matches,
    multicast_receiver,
    multicast_sender,
    probe_matches_endpoint,
    try_parse,
)

__all__ = ["WsDiscoveryResponder"]

_LOGGER = logging.getLogger(__name__)

SEEN_PROBES_KEPT = 64
"""Message ids remembered to answer a repeated probe once (clients send each probe twice)."""


class WsDiscoveryResponder:
    """Answers WS-Discovery probes for one device and announces it with Hello and Bye."""

    def __init__(
        self,
        xaddrs: list[str],
        scopes: list[str],
        types: Sequence[QName] = ONVIF_TYPES,
        endpoint: str | None = None,
        bind_address: str = "127.0.0.1",
        *,
        port: int = PORT,
        max_delay: float = APP_MAX_DELAY_S,
        metadata_version: int = 1,
    ) -> None:
        self.endpoint = Endpoint(
            address=endpoint or f"urn:uuid:{uuid.uuid4()}",
            types=tuple(types),
            scopes=tuple(scopes),
            xaddrs=tuple(xaddrs),
            metadata_version=metadata_version,
        )
        self.bind_address = bind_address
        self.port = port
        self.max_delay = max_delay
        self.probes_answered = 0
        """How many probes this responder answered (a repeated probe counts once)."""
        self._instance_id = int(time.time())
        self._message_number = 0
        self._seen: list[str] = []
        self._receiver: asyncio.DatagramTransport | None = None
        self._sender: asyncio.DatagramTransport | None = None
        self._replies: set[asyncio.Task[None]] = set()

    def _next_sequence(self) -> tuple[int, int]:
        self._message_number += 1
        return self._instance_id, self._message_number

    async def start(self) -> None:
        """Listen for probes and multicast the Hello."""
        self._sender = await async_open(multicast_sender(self.bind_address), self._ignore)
        try:
            # Bound to every address: probes come both multicast and by unicast to our port.
            receiver = multicast_receiver([self.bind_address], "", self.port)
            self._receiver = await async_open(receiver, self._on_datagram)
        except OSError:
            self._sender.close()
            self._sender = None
            raise
        self._sender.sendto(build_hello(self.endpoint, self._next_sequence()), self._group)
        _LOGGER.debug("Announced %s on %s", self.endpoint.address, self.bind_address)

    async def stop(self) -> None:
        """Multicast the Bye and close the sockets."""
        for task in self._replies:
            task.cancel()
        if self._replies:
            await asyncio.gather(*self._replies, return_exceptions=True)
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None
        if self._sender is not None:
            self._sender.sendto(build_bye(self.endpoint, self._next_sequence()), self._group)
            self._sender.close()
            self._sender = None

    async def __aenter__(self) -> WsDiscoveryResponder:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def _group(self) -> tuple[str, int]:
        return MULTICAST_GROUP, self.port

    @staticmethod
    def _ignore(data: bytes, origin: tuple[str, int]) -> None:
        """Datagrams to the sending socket are not ours to handle."""

    def _on_datagram(self, data: bytes, origin: tuple[str, int]) -> None:
        message = try_parse(data, origin[0])
        if message is None or message.kind is not MessageKind.PROBE:
            return
        if message.message_id in self._seen or not probe_matches_endpoint(message, self.endpoint):
            return
        self._seen = [*self._seen[-SEEN_PROBES_KEPT + 1 :], message.message_id]
        task = asyncio.get_running_loop().create_task(self._reply(message, origin))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _reply(self, probe: Message, origin: tuple[str, int]) -> None:
        await asyncio.sleep(random.uniform(0.0, self.max_delay))
        if self._sender is None:
            return
        answer = build_probe_matches(probe.message_id, [self.endpoint], self._next_sequence())
        # By unicast to the address and port the probe came from: the prober's own socket.
        self._sender.sendto(answer, origin)
        self.probes_answered += 1


async def _serve(args: argparse.Namespace) -> None:
    responder = WsDiscoveryResponder(
        xaddrs=args.xaddr, scopes=args.scope, endpoint=args.endpoint, bind_address=args.bind
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with responder:
        print(f"ready: {responder.endpoint.address} on {args.bind}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a responder until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m cityhub.testing.wsdiscovery",
        description="Announce a device over WS-Discovery and answer probes until Ctrl-C.",
    )
    parser.add_argument("--xaddr", action="append", required=True, help="device service URL")
    parser.add_argument("--scope", action="append", default=[], help="a scope URI (repeat)")
    parser.add_argument("--endpoint", help="endpoint reference (default: a new urn:uuid)")
    parser.add_argument(
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address of the interface to announce on (default: 127.0.0.1)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
