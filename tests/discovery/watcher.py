"""The listening side of the Hello/Bye test, run inside a network namespace.

``python watcher.py ADDR`` follows WS-Discovery announcements on the interface ``ADDR``,
prints ``ready`` once it listens, then one JSON line per change of its list, until SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from cityhub.discovery.wsd import ListenerChange, Sighting, WsdListener


async def main(address: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def on_change(change: ListenerChange, sighting: Sighting) -> None:
        line = {
            "change": str(change),
            "endpoint": sighting.endpoint.address,
            "host": sighting.host,
            "name": sighting.onvif_scopes.name,
            "location": sighting.onvif_scopes.location,
            "listed": sorted(listener.devices),
        }
        print(json.dumps(line), flush=True)

    listener = WsdListener(interfaces=[address], on_change=on_change)
    await listener.async_start()
    print("ready", flush=True)
    await stop.wait()
    await listener.async_stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
