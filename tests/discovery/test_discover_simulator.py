"""Discover, paste, run: the ONVIF simulator announced in one namespace, adopted from another.

Namespace a runs the simulator as an integrator would for a demo (``python -m
cityhub.testing.onvif --announce``: WS-Discovery and a zeroconf ``_rtsp._tcp`` service, video
over the RTSP test server on a's address). Namespace b runs ``cityhub discover``, then a hub
with the YAML it printed: the camera comes online through the ONVIF driver and its recording
plays. Nothing leaves the two namespaces.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityhub.testing import ffprobe
from cityhub.testing.netns import LineReader, NamespaceEnd, netns_pair, netns_unavailable

pytestmark = pytest.mark.skipif(
    netns_unavailable() is not None, reason=netns_unavailable() or "namespaces available"
)

PY = sys.executable
STARTUP_TIMEOUT_S = 60
"""Python, GStreamer and zeroconf start slowly on a loaded machine."""


@pytest.fixture(scope="module")
def network() -> Iterator[tuple[NamespaceEnd, NamespaceEnd]]:
    with netns_pair() as (a, b):
        simulator = a.spawn(
            [PY, "-m", "cityhub.testing.onvif", "--host", a.address, "--port", "8080",
             "--announce", "--password", "onvif-secret", "--main", "320x180",
             "--sub", "160x96"]
        )  # fmt: skip
        LineReader(simulator).wait_for(lambda line: line == "ready", STARTUP_TIMEOUT_S)
        yield a, b


def test_discover_finds_the_simulator_by_ws_discovery_and_zeroconf(
    network: tuple[NamespaceEnd, NamespaceEnd],
) -> None:
    a, b = network
    result = b.run(
        [PY, "-m", "cityhub.cli", "discover", "--timeout", "3", "--json",
         "--interface", b.address],
        timeout=STARTUP_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (device,) = json.loads(result.stdout)["devices"]
    assert device["address"] == a.address
    assert device["found_by"] == ["ws-discovery", "_rtsp._tcp.local."]
    assert device["onvif_url"] == f"http://{a.address}:8080/onvif/device_service"
    assert device["hardware"] == "SimCam PTZ"
    assert device["driver"] == "onvif"  # the ONVIF plugin's matcher outbids the RTSP one
    assert device["adopted_by"] is None


def test_the_printed_yaml_adopts_the_camera_and_it_records(
    network: tuple[NamespaceEnd, NamespaceEnd], tmp_path: Path
) -> None:
    _a, b = network
    result = b.run(
        [PY, "-m", "cityhub.cli", "discover", "--timeout", "3", "--interface", b.address],
        timeout=STARTUP_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    snippet = result.stdout.partition("\n\n")[2]
    secrets_line = next(line for line in snippet.splitlines() if "secrets.yaml:" in line)
    user_key, password_key = secrets_line.partition("secrets.yaml: ")[2].split(", ")
    camera_id = next(
        line.split("id: ")[1] for line in snippet.splitlines() if line.startswith("  - id: ")
    )
    config = tmp_path / "config"
    config.mkdir()
    (config / "cityhub.yaml").write_text(
        "hub: {name: Test, data_dir: " + str(tmp_path / "data") + "}\n"
        "http: {host: 127.0.0.1, port: 0}\n"
        "recording: {segment_seconds: 2}\n"
        "zones:\n  - {id: centre, name: Centre}\ncameras:\n"
        + snippet.replace("zone: set-me", "zone: centre")
    )
    (config / "secrets.yaml").write_text(f"{user_key}: admin\n{password_key}: onvif-secret\n")
    check = b.run([PY, "-m", "cityhub.cli", "check-config", "-c", str(config)], timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    hub = b.spawn([PY, "-m", "cityhub.cli", "run", "-c", str(config)], stderr=subprocess.STDOUT)
    lines = LineReader(hub)
    try:
        lines.wait_for(lambda line: f"Camera {camera_id} online" in line, STARTUP_TIMEOUT_S)
        recordings = tmp_path / "data" / "recordings" / camera_id
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        closed: list[Path] = []
        while len(closed) < 2 and time.monotonic() < deadline:
            closed = sorted(recordings.rglob("*.mp4")) if recordings.exists() else []
            time.sleep(0.5)
        assert len(closed) >= 2, f"no recording under {recordings}"
    finally:
        hub.send_signal(signal.SIGINT)
        hub.wait(timeout=30)
    probe = ffprobe(closed[0])
    assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
    assert probe.errors == ""
