"""``cityhub discover`` refuses bad arguments and a broken configuration before it scans
(so these run in the machine's own namespace: nothing is sent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "cityhub.cli", "discover"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, check=False)


def test_broken_configuration_is_reported_before_scanning(tmp_path: Path) -> None:
    (tmp_path / "cityhub.yaml").write_text("cameras:\n  - {id: x, name: X, driver: nope}\n")

    result = run("-c", str(tmp_path), "--timeout", "1")

    assert result.returncode == 2
    assert "cityhub.yaml:2: cameras[0]" in result.stderr
    assert f"discover: fix the configuration in {tmp_path} first (or leave out -c)" in result.stderr
    assert result.stdout == ""


def test_timeout_out_of_range_is_refused() -> None:
    result = run("--timeout", "0.1")

    assert result.returncode == 2
    assert "0.1 s is out of range (0.5 to 30 seconds)" in result.stderr
