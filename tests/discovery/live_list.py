"""The hub's live list of devices, run inside a network namespace.

``python live_list.py ADDR`` scans on the interface ``ADDR``, prints the devices found, then
follows Hello and Bye and prints the whole list after each change (one JSON line each), until
SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from cityhub.discovery import DiscoveredDevice, Discovery
from cityhub.plugins import Plugins


def show(event: str, devices: list[DiscoveredDevice]) -> None:
    listed = [[d.address, d.name, d.found_by, d.driver] for d in devices]
    print(json.dumps({"event": event, "devices": listed}), flush=True)


async def main(address: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    discovery = Discovery.from_plugins(Plugins.load(), interfaces=[address])
    show("scanned", await discovery.async_scan(2))
    await discovery.async_start_listening(lambda devices: show("changed", devices))
    print("ready", flush=True)
    await stop.wait()
    await discovery.async_stop_listening()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
