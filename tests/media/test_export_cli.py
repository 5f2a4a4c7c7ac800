"""``cityhub export`` end to end, in a subprocess, on the data folder of a stopped hub.

Here the real legal holds are used: the CLI plugs ``Holds.create`` into the exporter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playback_kit import T0_MS, record

from cityhub.db import Database
from cityhub.storage.local import LocalStorage
from cityhub.testing.hub import write_config

CONFIG = {
    "hub": {"name": "CSU de test", "time_zone": "Europe/Paris", "data_dir": "data"},
    "http": {"port": 0},
    "zones": [{"id": "centre", "name": "Centre-ville"}],
    "emplacements": [
        {
            "id": "place-mairie",
            "name": "Place de la mairie",
            "zone": "centre",
            "latitude": 44.098,
            "longitude": 3.0776,
        }
    ],
    "cameras": [
        {
            "id": camera_id,
            "name": name,
            "driver": "virtual",
            "zone": "centre",
            "emplacement": "place-mairie",
            "options": {"mode": "loop"},
        }
        for camera_id, name in (("cam-a", "Mairie nord"), ("cam-b", "Mairie sud"))
    ],
}
# T0 is 10:20:00 in Paris; times without an offset are read in the hub's time zone.
RANGE = ["--from", "2026-11-18T10:20:02.500", "--to", "2026-11-18T09:20:14.200Z"]
WHY = ["--legal-basis", "Réquisition, art. 60-1 CPP", "--reason", "Rixe devant la mairie"]


def cityhub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cityhub.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
async def config_dir(tmp_path: Path) -> Path:
    """A configuration whose data folder holds cam-a 0-8 s and 12-20 s, cam-b 0-20 s."""
    config_dir = write_config(tmp_path / "config", CONFIG)
    data_dir = config_dir / "data"
    db = await Database.open(data_dir / "cityhub.db")
    storage = LocalStorage({}, data_dir)
    try:
        await record(db, storage, "cam-a", T0_MS, 8)
        await record(db, storage, "cam-a", T0_MS + 12_000, 8)
        await record(db, storage, "cam-b", T0_MS, 20, shade=90)
    finally:
        await db.close()
    return config_dir


async def test_export_then_verify_then_tamper(config_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "PV-2026-00042"
    cameras = ["--camera", "cam-a", "--camera", "cam-b"]

    done = cityhub(
        "export", "-c", config_dir, *cameras, *RANGE, "--reference", "PV-2026-00042", *WHY,
        "--out", out, "--user", "agent.dupont",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Export 1 (PV-2026-00042) written to" in done.stdout
    assert "cam-a: 100%" in done.stderr
    assert "cam-b: 100%" in done.stderr
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["requested"]["start"]["utc"] == "2026-11-18T09:20:02.500Z"
    assert manifest["export"]["requested_by"] == "agent.dupont"
    assert [len(c["gaps"]) for c in manifest["cameras"]] == [1, 0]
    db = await Database.open(config_dir / "data" / "cityhub.db")
    try:
        row = await db.fetchone("SELECT state, reference, hold_id FROM exports")
        assert row is not None
        assert (row["state"], row["reference"]) == ("complete", "PV-2026-00042")
        assert row["hold_id"] == manifest["export"]["hold_id"]
        hold = await db.fetchone("SELECT reference FROM holds WHERE id = ?", (row["hold_id"],))
        assert hold is not None
        assert hold["reference"] == "PV-2026-00042"
    finally:
        await db.close()

    verified = cityhub("export", "verify", out)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("OK: ")

    key = cityhub("export", "key", "-c", config_dir)
    assert key.returncode == 0, key.stderr
    fingerprint = manifest["signature"]["public_key_sha256"]
    assert fingerprint in key.stdout
    assert "PRIVATE" not in key.stdout
    assert cityhub("export", "verify", out, "--fingerprint", fingerprint).returncode == 0

    data = bytearray((out / "cam-b.mp4").read_bytes())
    data[len(data) // 3] ^= 0x80
    (out / "cam-b.mp4").write_bytes(bytes(data))
    failed = cityhub("export", "verify", out)
    assert failed.returncode == 1
    assert failed.stderr.startswith("FAILED: ")
    assert "cam-b.mp4: SHA-256 differs" in failed.stderr
    assert "cam-a.mp4" not in failed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--camera", "cam-a", *RANGE, *WHY], "--reference missing"),
        (
            ["--camera", "cam-a", "--from", "2026-11-18T10:20:05", "--to", "2026-11-18T10:20:01"],
            "the range is empty",
        ),
        (
            ["--camera", "cam-a", "--from", "2025-01-01T00:00", "--to", "2025-01-01T01:00"],
            "cam-a (Mairie nord) has no footage",
        ),
        (["--camera", "cam-a", "--from", "yesterday", "--to", "today"], "not an ISO-8601 time"),
    ],
)
async def test_refusals_are_clear(
    config_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    if "--reference" not in args and "--reference missing" not in message:
        args = [*args, "--reference", "PV-1", *WHY]
    refused = cityhub("export", "-c", config_dir, *args, "--out", tmp_path / "out")
    assert refused.returncode == 1
    assert message in refused.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
