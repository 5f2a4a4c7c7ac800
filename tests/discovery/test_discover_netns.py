"""``cityhub discover`` end to end over real multicast, between two network namespaces.

Namespace a holds the devices (announcer.py: two WS-Discovery responders, a zeroconf
``_rtsp._tcp`` service, and a rogue answering every probe with garbage); namespace b runs the
discovering side as an admin would. Nothing leaves the two namespaces.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from cityhub.testing.netns import LineReader, NamespaceEnd, netns_pair, netns_unavailable

pytestmark = pytest.mark.skipif(
    netns_unavailable() is not None, reason=netns_unavailable() or "namespaces available"
)

HERE = Path(__file__).resolve().parent
PY = sys.executable
DISCOVER = [PY, "-m", "cityhub.cli", "discover", "--timeout", "2"]
STARTUP_TIMEOUT_S = 60
"""Python and zeroconf start slowly on a loaded machine; the test waits for 'ready' lines."""

GAMBETTA_ENDPOINT = "urn:uuid:6f1b0e10-0000-4000-8000-000000000001"
GARE_ENDPOINT = "urn:uuid:6f1b0e10-0000-4000-8000-000000000003"
HELLO_ENDPOINT = "urn:uuid:6f1b0e10-0000-4000-8000-00000000he11"


@attrs.frozen
class Network:
    a: NamespaceEnd
    b: NamespaceEnd
    gambetta: str
    gare: str
    config: Path


def config_text(gare: str) -> str:
    return f"""\
zones:
  - {{id: centre, name: Centre-ville}}
  - {{id: gare, name: Quartier de la gare}}
cameras:
  - id: gare-quai
    name: Gare, quai
    driver: rtsp
    zone: gare
    options:
      url: rtsp://{gare}:554/Streaming/Channels/101
"""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    with netns_pair() as (a, b):
        gambetta = a.address
        gare = a.address.rsplit(".", 1)[0] + ".3"
        a.add_address(gare)
        spec: dict[str, Any] = {
            "responders": [
                {
                    "bind": gambetta,
                    "endpoint": GAMBETTA_ENDPOINT,
                    "xaddrs": [f"http://{gambetta}:8080/onvif/device_service"],
                    "scopes": [
                        "onvif://www.onvif.org/type/video_encoder",
                        "onvif://www.onvif.org/name/Rue%20Gambetta",
                        "onvif://www.onvif.org/hardware/ACME-X100",
                        "onvif://www.onvif.org/location/city/Millau",
                        "onvif://www.onvif.org/Profile/Streaming",
                    ],
                },
                {
                    "bind": gare,
                    "endpoint": GARE_ENDPOINT,
                    "xaddrs": [f"http://{gare}/onvif/device_service"],
                    "scopes": ["onvif://www.onvif.org/name/Gare%20PTZ"],
                },
            ],
            "zeroconf": [
                {
                    "interface": gambetta,
                    "type": "_rtsp._tcp.local.",
                    "name": "Rue Gambetta",
                    "port": 8554,
                    "server": "cam-gambetta.local.",
                    "properties": {"path": "/live/main", "vendor": "Acme"},
                }
            ],
            "rogue": gambetta,
        }
        announcer = a.spawn([PY, str(HERE / "announcer.py"), json.dumps(spec)])
        LineReader(announcer).wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)
        config = tmp_path_factory.mktemp("discover-config")
        (config / "cityhub.yaml").write_text(config_text(gare))
        yield Network(a, b, gambetta, gare, config)


def run_in(end: NamespaceEnd, *argv: str) -> subprocess.CompletedProcess[str]:
    return end.run(argv, timeout=STARTUP_TIMEOUT_S)


def test_devices_are_found_merged_and_marked_adopted(network: Network) -> None:
    result = run_in(
        network.b, *DISCOVER, "--json", "-c", str(network.config), "--interface", network.b.address
    )

    assert result.returncode == 0, result.stderr
    devices = {d["address"]: d for d in json.loads(result.stdout)["devices"]}
    # The rogue's garbage and its answer to another probe are not devices.
    assert set(devices) == {network.gambetta, network.gare}
    gambetta = devices[network.gambetta]
    assert gambetta["endpoint"] == GAMBETTA_ENDPOINT
    assert gambetta["name"] == "Rue Gambetta"
    assert gambetta["hardware"] == "ACME-X100"
    assert gambetta["location"] == "city/Millau"
    assert gambetta["profiles"] == ["Streaming"]
    assert gambetta["manufacturer"] == "Acme"  # the TXT record's vendor hint
    assert gambetta["found_by"] == ["ws-discovery", "_rtsp._tcp.local."]
    assert gambetta["onvif_url"] == f"http://{network.gambetta}:8080/onvif/device_service"
    assert gambetta["rtsp_url"] == f"rtsp://{network.gambetta}:8554/live/main"
    assert gambetta["driver"] == "onvif"  # the ONVIF plugin outbids the generic RTSP one
    assert gambetta["adopted_by"] is None
    gare = devices[network.gare]
    assert (gare["name"], gare["found_by"]) == ("Gare PTZ", ["ws-discovery"])
    assert gare["driver"] == "onvif"  # an ONVIF device: the bundled ONVIF plugin drives it
    assert gare["adopted_by"] == "gare-quai"


def test_printed_yaml_passes_check_config(network: Network, tmp_path: Path) -> None:
    # No --interface: every interface of namespace b but loopback.
    result = run_in(network.b, *DISCOVER, "-c", str(network.config))

    assert result.returncode == 0, result.stderr
    table, _, snippet = result.stdout.partition("\n\n")
    rows = table.splitlines()
    assert rows[0].split()[:3] == ["ADDRESS", "NAME", "HARDWARE"]
    assert rows[1].startswith(f"{network.gambetta}  Rue Gambetta  ACME-X100")
    assert rows[2].startswith(network.gare)
    assert rows[2].endswith("gare-quai")
    assert f"# {network.gare} (Gare PTZ): already adopted as camera gare-quai" in snippet
    assert "  - id: rue-gambetta\n" in snippet
    secrets_line = next(line for line in snippet.splitlines() if "secrets.yaml:" in line)
    secrets = secrets_line.partition("secrets.yaml: ")[2].split(", ")
    assert secrets == ["rue_gambetta_username", "rue_gambetta_password"]

    (tmp_path / "cityhub.yaml").write_text(config_text(network.gare) + snippet)
    (tmp_path / "secrets.yaml").write_text("".join(f"{s}: secret-value\n" for s in secrets))
    check = subprocess.run(
        [PY, "-m", "cityhub.cli", "check-config", "-c", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT_S,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Configuration OK: 2 camera(s)" in check.stdout


def test_scan_service_returns_the_devices(network: Network) -> None:
    result = run_in(network.b, PY, str(HERE / "scan_service.py"), network.b.address)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    addresses = sorted(d["address"] for d in answer["result"]["devices"])
    assert addresses == sorted([network.gambetta, network.gare])
    assert answer["result"]["scanned_at"] is not None
    assert answer["kept"] == 2
    (called,) = answer["called"]
    assert called["origin"] == "user:admin.dupont"
    assert called["data"] == {"domain": "discovery", "service": "scan", "data": {"timeout": 2.0}}


def test_hello_and_bye_are_tracked(network: Network) -> None:
    watcher = network.b.spawn([PY, str(HERE / "watcher.py"), network.b.address])
    changes = LineReader(watcher)
    changes.wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)
    spec = {
        "responders": [
            {
                "bind": network.a.address,
                "endpoint": HELLO_ENDPOINT,
                "xaddrs": [f"http://{network.a.address}:8000/onvif/device_service"],
                "scopes": [
                    "onvif://www.onvif.org/name/Parc%20de%20la%20Victoire",
                    "onvif://www.onvif.org/location/Millau",
                ],
            }
        ]
    }
    device = network.a.spawn([PY, str(HERE / "announcer.py"), json.dumps(spec)])
    LineReader(device).wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)

    added = json.loads(changes.wait_for(lambda line: HELLO_ENDPOINT in line, STARTUP_TIMEOUT_S))
    assert added["change"] == "added"
    assert added["name"] == "Parc de la Victoire"
    assert added["location"] == "Millau"
    assert added["host"] == network.a.address
    assert HELLO_ENDPOINT in added["listed"]

    device.terminate()
    removed = json.loads(changes.wait_for(lambda line: HELLO_ENDPOINT in line, STARTUP_TIMEOUT_S))
    assert removed["change"] == "removed"
    assert HELLO_ENDPOINT not in removed["listed"]


def test_a_wrong_interface_is_a_clear_error(network: Network) -> None:
    result = run_in(network.b, *DISCOVER, "--interface", "eth0")

    assert result.returncode == 1
    assert "interface 'eth0' is not an IPv4 address" in result.stderr


def test_live_list_follows_announcements(network: Network) -> None:
    parc = network.a.address.rsplit(".", 1)[0] + ".4"
    network.a.add_address(parc)
    live = network.b.spawn([PY, str(HERE / "live_list.py"), network.b.address])
    lines = LineReader(live)
    scanned = json.loads(lines.wait_for(lambda line: "scanned" in line, STARTUP_TIMEOUT_S))
    assert sorted(d[0] for d in scanned["devices"]) == sorted([network.gambetta, network.gare])
    lines.wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)

    spec = {
        "responders": [
            {
                "bind": parc,
                "endpoint": "urn:uuid:6f1b0e10-0000-4000-8000-000000000004",
                "xaddrs": [f"http://{parc}/onvif/device_service"],
                "scopes": ["onvif://www.onvif.org/name/Parc"],
            }
        ]
    }
    device = network.a.spawn([PY, str(HERE / "announcer.py"), json.dumps(spec)])
    LineReader(device).wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)

    joined = json.loads(lines.wait_for(lambda line: parc in line, STARTUP_TIMEOUT_S))["devices"]
    assert [parc, "Parc", ["ws-discovery"], "onvif"] in joined
    # The device found by both mechanisms in the scan is still one merged entry.
    assert [
        network.gambetta,
        "Rue Gambetta",
        ["ws-discovery", "_rtsp._tcp.local."],
        "onvif",
    ] in joined
    assert len(joined) == 3

    device.terminate()
    left = json.loads(lines.wait_for(lambda line: "changed" in line, STARTUP_TIMEOUT_S))
    assert sorted(d[0] for d in left["devices"]) == sorted([network.gambetta, network.gare])
