"""The WS-Discovery responder of the test kit, run as ``python -m cityhub.testing.wsdiscovery``
in one network namespace and probed from another: it says Hello, answers the probes its types
and scopes match (multicast and unicast), stays silent for the others, and says Bye."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityhub.testing.netns import LineReader, NamespaceEnd, netns_pair, netns_unavailable

pytestmark = pytest.mark.skipif(
    netns_unavailable() is not None, reason=netns_unavailable() or "namespaces available"
)

PY = sys.executable
WATCHER = Path(__file__).resolve().parents[1] / "discovery" / "watcher.py"
ENDPOINT = "urn:uuid:0d5e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
STARTUP_TIMEOUT_S = 60

# Several probes at once from namespace b; prints {probe name: [endpoint references found]}.
PROBES = """
import asyncio, json, sys
from cityhub.discovery.wsd import QName, async_probe

here, device = sys.argv[1], sys.argv[2]

async def main():
    probes = {
        "onvif": async_probe(interfaces=[here], timeout=1.5),
        "in city": async_probe(
            interfaces=[here], timeout=1.5, scopes=["onvif://www.onvif.org/location/city"]),
        "half a segment": async_probe(
            interfaces=[here], timeout=1.5, scopes=["onvif://www.onvif.org/location/cit"]),
        "printers": async_probe(
            interfaces=[here], timeout=1.5, types=[QName("urn:printers", "Printer")]),
        "unicast": async_probe(interfaces=[], targets=[device], timeout=1.5),
    }
    found = await asyncio.gather(*probes.values())
    print(json.dumps({name: [s.endpoint.address for s in sightings]
                      for name, sightings in zip(probes, found)}))

asyncio.run(main())
"""


@pytest.fixture
def pair() -> Iterator[tuple[NamespaceEnd, NamespaceEnd]]:
    with netns_pair() as ends:
        yield ends


def test_responder_announces_answers_and_leaves(pair: tuple[NamespaceEnd, NamespaceEnd]) -> None:
    a, b = pair
    watcher = b.spawn([PY, str(WATCHER), b.address])
    changes = LineReader(watcher)
    changes.wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)

    responder = a.spawn(
        [
            PY, "-m", "cityhub.testing.wsdiscovery",
            "--bind", a.address,
            "--endpoint", ENDPOINT,
            "--xaddr", f"http://{a.address}:8080/onvif/device_service",
            "--scope", "onvif://www.onvif.org/name/Demo%20camera",
            "--scope", "onvif://www.onvif.org/location/city/Millau",
        ]
    )  # fmt: skip
    ready = LineReader(responder).wait_for(lambda s: s.startswith("ready"), STARTUP_TIMEOUT_S)
    assert ready == f"ready: {ENDPOINT} on {a.address}"
    hello = json.loads(changes.wait_for(lambda line: ENDPOINT in line, STARTUP_TIMEOUT_S))
    assert (hello["change"], hello["name"], hello["host"]) == ("added", "Demo camera", a.address)

    probes = b.run([PY, "-c", PROBES, b.address, a.address], timeout=STARTUP_TIMEOUT_S)
    assert probes.returncode == 0, probes.stderr
    assert json.loads(probes.stdout) == {
        "onvif": [ENDPOINT],
        "in city": [ENDPOINT],
        "half a segment": [],
        "printers": [],
        "unicast": [ENDPOINT],
    }

    responder.terminate()
    bye = json.loads(changes.wait_for(lambda line: ENDPOINT in line, STARTUP_TIMEOUT_S))
    assert bye["change"] == "removed"
    assert responder.wait(STARTUP_TIMEOUT_S) == 0


def test_default_responder_stays_on_loopback(pair: tuple[NamespaceEnd, NamespaceEnd]) -> None:
    # As the ONVIF simulator starts it: no bind address, so 127.0.0.1.
    a, b = pair
    responder = a.spawn(
        [
            PY, "-m", "cityhub.testing.wsdiscovery",
            "--xaddr", "http://127.0.0.1:8080/onvif/device_service",
            "--scope", "onvif://www.onvif.org/name/Simulator",
        ]
    )  # fmt: skip
    LineReader(responder).wait_for(lambda s: s.startswith("ready"), STARTUP_TIMEOUT_S)
    discover = [PY, "-m", "cityhub.cli", "discover", "--json", "--timeout", "1.5"]

    same_machine = a.run([*discover, "--interface", "127.0.0.1"], timeout=STARTUP_TIMEOUT_S)
    other_machine = b.run(discover, timeout=STARTUP_TIMEOUT_S)

    assert same_machine.returncode == 0, same_machine.stderr
    (device,) = json.loads(same_machine.stdout)["devices"]
    assert (device["address"], device["name"]) == ("127.0.0.1", "Simulator")
    assert other_machine.returncode == 0, other_machine.stderr
    assert json.loads(other_machine.stdout)["devices"] == []
