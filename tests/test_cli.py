"""The command line as an admin uses it: check-config, run, plugins, --version."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from cityhub import __version__

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cityhub.cli"]

GOOD_CAMERA = {"id": "cam-1", "name": "One", "driver": "virtual", "zone": "centre"}


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_version_and_help() -> None:
    assert run_cli("--version").stdout.strip() == f"cityhub {__version__}"
    helptext = run_cli("--help").stdout
    for command in ("run", "check-config", "plugins"):
        assert command in helptext
    assert "file:line: key.path" in run_cli("check-config", "--help").stdout


def test_check_config_prints_five_mistakes_in_two_files(tmp_path: Path) -> None:
    (tmp_path / "cityhub.yaml").write_text(
        "hub:\n"
        "  name: Test\n"
        "zones:\n"
        "  - id: centre\n"
        "    name: Centre\n"
        "    retention_days: 45\n"  # line 6: above the legal maximum
        "cameras: !include cameras.yaml\n"
        "htp:\n"  # line 8: unknown key (typo of http)
        "  port: 80\n"
    )
    (tmp_path / "cameras.yaml").write_text(
        "- id: cam-1\n"
        "  name: One\n"
        "  driver: virtual\n"
        "  zone: centre\n"
        "- id: cam-1\n"  # line 5: duplicate id
        "  name: Two\n"
        "  driver: virtual\n"
        "  zone: centr\n"  # line 8: unknown zone
        "- id: cam-3\n"
        "  name: Three\n"
        "  driver: acme\n"  # line 11: unknown driver
        "  zone: centre\n"
    )
    proc = run_cli("check-config", "-c", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.split(":")[0].endswith(".yaml")]
    assert len(lines) == 5, proc.stderr
    located = [":".join(ln.split(":")[:3]) for ln in lines]
    assert located == [
        "cityhub.yaml:6: zones[0].retention_days",
        "cityhub.yaml:8: htp",
        "cameras.yaml:5: cameras[1].id",
        "cameras.yaml:8: cameras[1].zone",
        "cameras.yaml:11: cameras[2].driver",
    ]
    assert "30" in lines[0]
    assert "http" in lines[1]
    assert "line 1" in lines[2] or "cameras.yaml:1" in lines[2]
    assert "centre" in lines[3]
    assert "virtual" in lines[4]
    assert proc.stderr.rstrip().endswith(f"5 errors in the configuration in {tmp_path}")


def test_run_refuses_a_bad_configuration(tmp_path: Path) -> None:
    (tmp_path / "cityhub.yaml").write_text(
        yaml.safe_dump({"cameras": [{**GOOD_CAMERA, "retention_days": 31}]})
    )
    proc = run_cli("run", "-c", str(tmp_path))
    assert proc.returncode == 2
    assert "cityhub.yaml:" in proc.stderr
    assert "retention_days" in proc.stderr
    assert "did not start" in proc.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("name", "summary"),
    [("demo", "4 camera(s), 2 zone(s)"), ("example-city", "8 camera(s), 3 zone(s)")],
)
def test_shipped_configurations_are_valid(name: str, summary: str) -> None:
    proc = run_cli("check-config", "-c", str(REPO / "config" / name))
    assert proc.returncode == 0, proc.stderr
    assert summary in proc.stdout


class _Api:
    """A logged-in client of the hub's API over urllib (cookie and CSRF token kept)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.csrf = ""
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def call(self, path: str, body: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data)
        request.add_header("Content-Type", "application/json")
        if self.csrf:
            request.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(request, timeout=15) as r:  # argon2 is slow on purpose
                return r.status, json.load(r)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)


def test_demo_runs_four_cameras_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """The demo as a new user runs it (on a free port, in a copy): first admin, online in 20 s,
    Ctrl-C < 5 s."""
    config_dir = tmp_path / "demo"
    shutil.copytree(REPO / "config" / "demo", config_dir, ignore=shutil.ignore_patterns("data"))
    config_file = config_dir / "cityhub.yaml"
    port = free_port()
    config_file.write_text(config_file.read_text().replace("port: 8123", f"port: {port}"))

    proc = subprocess.Popen(
        [*CLI, "run", "-c", str(config_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        started = time.monotonic()
        password = None
        while password is None and time.monotonic() - started < 20:
            found = re.search(r"Log in and change it: +(\S+)", "".join(lines))
            password = found.group(1) if found else None
            time.sleep(0.1)
        assert password is not None, "".join(lines)
        api = _Api(f"http://127.0.0.1:{port}")
        while api.call("/api/auth/login", {"user": "admin", "password": password})[0] != 200:
            assert time.monotonic() - started < 20
            time.sleep(0.2)
        status, me = api.call("/api/auth/me")
        assert status == 200
        assert me["must_change_password"]
        api.csrf = me["csrf_token"]
        # A one-time password opens nothing but the door to change it.
        status, refused = api.call("/api/health")
        assert (status, refused["error"]) == (403, "password_change_required")
        new = {"current": password, "new": "Mon-nouveau-mot-de-passe"}
        assert api.call("/api/auth/password", new)[0] == 200

        states: dict[str, str] = {}
        while time.monotonic() - started < 20:
            status, health = api.call("/api/health")
            assert status == 200, health
            states = {c["id"]: c["state"] for c in health["cameras"]}
            if list(states.values()) == ["online"] * 4:
                break
            time.sleep(0.2)
        assert list(states.values()) == ["online"] * 4, states

        stopping = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
        assert time.monotonic() - stopping < 5
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=5)
    output = "".join(lines)
    assert f"HTTP server listening on http://127.0.0.1:{port}" in output
    assert "Hub stopped" in output
    assert "Traceback" not in output
    # The one-time password appears once, on the terminal, never in a log line.
    assert output.count(password) == 1
    assert "created 'admin' with a one-time password" in output


def test_run_refuses_a_database_newer_than_the_code(tmp_path: Path) -> None:
    import sqlite3

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    port = free_port()
    (config_dir / "cityhub.yaml").write_text(
        yaml.safe_dump({"http": {"port": port}, "zones": [{"id": "centre", "name": "C"}]})
    )
    data = config_dir / "data"
    data.mkdir()
    with sqlite3.connect(data / "cityhub.db") as db:
        db.execute("PRAGMA user_version = 999")
    before = (data / "cityhub.db").read_bytes()

    proc = run_cli("run", "-c", str(config_dir))
    assert proc.returncode == 1
    assert "start-up stage database failed" in proc.stderr
    assert "999" in proc.stderr
    assert (data / "cityhub.db").read_bytes() == before
