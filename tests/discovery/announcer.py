"""The announcing side of the discovery tests, run inside a network namespace.

``python announcer.py SPEC_JSON`` starts what the spec lists and prints ``ready`` once all of
it is up; on SIGTERM it stops everything (responders send their Bye, zeroconf services are
unregistered), prints ``stopped`` and exits. The spec is::

    {"responders": [{"bind": ADDR, "xaddrs": [...], "scopes": [...], "endpoint": URN}],
     "zeroconf": [{"interface": ADDR, "type": T, "name": N, "port": P, "server": S,
                   "properties": {...}}],
     "rogue": ADDR or null}

The rogue answers every probe with broken or unrelated datagrams (see ``ROGUE_ANSWERS``):
the discovering side must skip them all and still list the real devices.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from typing import Any

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from cityhub.discovery.wsd import (
    Endpoint,
    MessageKind,
    async_open,
    build_probe_matches,
    multicast_receiver,
    multicast_sender,
    try_parse,
)
from cityhub.testing.wsdiscovery import WsDiscoveryResponder

ROGUE_ENDPOINT = "urn:uuid:00000000-0000-4000-8000-00000000dead"


def rogue_answers(message_id: str) -> list[bytes]:
    """What the rogue sends in answer to the probe ``message_id``: none of it is a device."""
    good = build_probe_matches(
        message_id,
        [Endpoint(ROGUE_ENDPOINT, scopes=("onvif://www.onvif.org/name/Rogue",), xaddrs=())],
        (1, 1),
    )
    return [
        b"\x00\xff not XML at all",
        good[: len(good) // 2],  # cut in the middle
        # an entity declaration: refused before the parser sees it
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaa">]><e>&a;&a;&a;</e>',
        # a match without EndpointReference
        good.replace(b"<wsa:EndpointReference>", b"<wsa:Nothing>").replace(
            b"</wsa:EndpointReference>", b"</wsa:Nothing>"
        ),
        # a valid answer to some other probe
        good.replace(message_id.encode(), b"urn:uuid:11111111-1111-4111-8111-111111111111"),
        # a SOAP envelope of something else entirely
        good.replace(b"http://www.w3.org/2003/05/soap-envelope", b"urn:not-soap"),
        # MetadataVersion that is not a number
        good.replace(b"<d:MetadataVersion>0</d:MetadataVersion>", b"<d:MetadataVersion>x"
                     b"</d:MetadataVersion>"),
    ]  # fmt: skip


async def start_rogue(address: str) -> list[asyncio.DatagramTransport]:
    """Answer each probe seen on ``address`` with every one of :func:`rogue_answers`."""
    sender = await async_open(multicast_sender(address), lambda data, origin: None)

    def on_datagram(data: bytes, origin: tuple[str, int]) -> None:
        message = try_parse(data, origin[0])
        if message is not None and message.kind is MessageKind.PROBE:
            for answer in rogue_answers(message.message_id):
                sender.sendto(answer, origin)

    receiver = await async_open(multicast_receiver([address], ""), on_datagram)
    return [sender, receiver]


async def main(spec: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    responders = [
        WsDiscoveryResponder(
            xaddrs=r["xaddrs"], scopes=r["scopes"], endpoint=r["endpoint"], bind_address=r["bind"]
        )
        for r in spec.get("responders", [])
    ]
    zeroconfs: list[AsyncZeroconf] = []
    for service in spec.get("zeroconf", []):
        aiozc = AsyncZeroconf(interfaces=[service["interface"]], ip_version=IPVersion.V4Only)
        zeroconfs.append(aiozc)
        info = ServiceInfo(
            service["type"],
            f"{service['name']}.{service['type']}",
            addresses=[socket.inet_aton(service["interface"])],
            port=service["port"],
            properties=service.get("properties", {}),
            server=service["server"],
        )
        await (await aiozc.async_register_service(info))
    transports = await start_rogue(spec["rogue"]) if spec.get("rogue") else []
    for responder in responders:
        await responder.start()
    print("ready", flush=True)
    await stop.wait()
    for responder in responders:
        await responder.stop()
    for transport in transports:
        transport.close()
    for aiozc in zeroconfs:
        await aiozc.async_unregister_all_services()
        await aiozc.async_close()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
