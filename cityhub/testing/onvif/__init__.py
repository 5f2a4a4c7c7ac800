"""An ONVIF camera simulator for tests and demos (Profile S/T subset).

Real ONVIF clients (such as onvif-zeep-async) talk to it unmodified over SOAP 1.2 on
loopback: Device, Media, Media2 (privacy masks), PTZ and PullPoint Events, WS-Security
UsernameToken, a JPEG snapshot behind HTTP digest authentication and, with ``video=True``,
live H.264 over RTSP of a street scene that follows the PTZ position.

    async with OnvifSimulator(video=False) as sim:
        camera = ONVIFCamera(sim.host, sim.port, "admin", "onvif-secret")
        ...
        sim.fire_motion(active=True)

From a shell: ``python -m cityhub.testing.onvif --port 8080`` (Ctrl-C to stop).
"""

from __future__ import annotations

from cityhub.testing.onvif.announce import Announcement
from cityhub.testing.onvif.events import TOPICS, EventMessage
from cityhub.testing.onvif.media import Mask, MediaProfile
from cityhub.testing.onvif.ptz import Preset, PtzPosition
from cityhub.testing.onvif.simulator import OPEN_OPERATIONS, OnvifSimulator

__all__ = [
    "OPEN_OPERATIONS",
    "TOPICS",
    "Announcement",
    "EventMessage",
    "Mask",
    "MediaProfile",
    "OnvifSimulator",
    "Preset",
    "PtzPosition",
]
