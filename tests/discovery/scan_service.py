"""Calls the ``discovery.scan`` service as the hub registers it, inside a network namespace.

``python scan_service.py ADDR`` scans on the interface ``ADDR`` through a real service
registry and prints one JSON line: the service's result and the ``service.called`` event.
"""

from __future__ import annotations

import asyncio
import json
import sys

from cityhub.api import Context
from cityhub.bus import Event, EventBus
from cityhub.const import EVENT_SERVICE_CALLED
from cityhub.discovery import Discovery, register_discovery_services
from cityhub.plugins import Plugins
from cityhub.services import ServiceRegistry


async def main(address: str) -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    called: list[Event] = []
    bus.subscribe(EVENT_SERVICE_CALLED, called.append)
    services = ServiceRegistry(bus)
    discovery = Discovery.from_plugins(Plugins.load(), interfaces=[address])
    register_discovery_services(services, discovery)
    result = await services.async_call(
        "discovery", "scan", {"timeout": 2}, Context(user="admin.dupont")
    )
    await bus.async_drain()
    print(
        json.dumps(
            {
                "result": result,
                "kept": len(discovery.devices),
                "called": [{"origin": e.context.origin, "data": e.data} for e in called],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
