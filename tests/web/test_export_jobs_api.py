"""What the export dialog and the holds screen read from the API: the range limit and time zone,
the job's integrity (package SHA-256, signing key, hold) and the storage holds keep from purge."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import CameraState
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.media.export import verify_package
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory, wait_for_state

OPTIONS = {"width": 320, "height": 180, "fps": 25, "gop": 12, "bitrate": 200_000}


@pytest.fixture
async def recorded(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> tuple[Hub, datetime, datetime]:
    """A hub that has recorded two closed segments of 'mairie'; their start and end."""
    config = {
        "http": {"port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [{"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
                     "options": OPTIONS}],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    await wait_for_state(hub, "mairie", CameraState.ONLINE)
    deadline = time.monotonic() + 30
    while len(closed) < 2:
        assert time.monotonic() < deadline, "no two segments recorded in 30 s"
        await asyncio.sleep(0.1)
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    start = datetime.fromtimestamp(closed[0]["start_ms"] / 1000, UTC)
    end = datetime.fromtimestamp(closed[1]["end_ms"] / 1000, UTC)
    return hub, start, end


async def test_an_export_job_reports_its_integrity_and_hold(
    recorded: tuple[Hub, datetime, datetime], tmp_path: Path
) -> None:
    hub, start, end = recorded
    assert hub.http_url is not None
    # Ends short of the next segment (a hold includes its ends), which is still being written.
    inside = end - timedelta(milliseconds=200)
    body = {"cameras": ["mairie"], "start": start.isoformat(), "end": inside.isoformat(),
            "reference": "PV 2026/77", "legal_basis": "art. 60 CPP", "reason": "vol"}  # fmt: skip
    async with ApiClient(hub.http_url) as api:
        await api.login("chef.dupont")
        limits = await api.get_json("/api/exports")
        assert limits == {"max_seconds": 86400, "time_zone": "Europe/Paris", "jobs": []}
        with pytest.raises(ApiResponseError) as too_long:
            await api.post_json(
                "/api/exports", {**body, "end": (start + timedelta(hours=25)).isoformat()}
            )
        assert (too_long.value.status, too_long.value.code) == (400, "too_long")
        assert "25.0 h" in too_long.value.message
        assert (await api.get_json("/api/exports"))["jobs"] == []  # nothing started
        job = await api.post_json("/api/exports", body)
        deadline = time.monotonic() + 60
        while job["state"] == "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
            job = await api.get_json(f"/api/exports/{job['id']}")
        assert job["state"] == "done", job
        assert job["fraction"] == 1.0
        assert job["camera"] is None
        result = job["result"]
        url = f"{hub.http_url}/api/exports/{job['id']}/package.zip"
        downloads = []
        for _ in range(2):
            async with api.session.get(url) as got:
                assert got.headers["Content-Type"] == "application/zip"
                downloads.append(await got.read())
        archive = downloads[0]
        assert downloads[1] == archive  # streamed, yet the same file every time
        assert hashlib.sha256(archive).hexdigest() == result["package_sha256"]
        assert len(archive) == result["package_bytes"]
        (tmp_path / "package.zip").write_bytes(archive)
        with zipfile.ZipFile(tmp_path / "package.zip") as opened:
            assert opened.testzip() is None
            opened.extractall(tmp_path / "unpacked")
        assert verify_package(next((tmp_path / "unpacked").iterdir())).ok
        if shutil.which("unzip"):  # Info-ZIP reads the streamed entries (data descriptors) too
            tested = subprocess.run(
                ["unzip", "-t", str(tmp_path / "package.zip")],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert tested.returncode == 0, tested.stdout + tested.stderr
            assert "No errors detected" in tested.stdout
        assert len(result["public_key_sha256"]) == 64
        assert {f["name"] for f in result["files"]} >= {"mairie.mp4", "public_key.pem"}
        assert result["hold"]["hold_id"] == result["hold_id"]
        assert result["hold"]["reference"] == "PV 2026/77"
        assert [j["id"] for j in (await api.get_json("/api/exports"))["jobs"]] == [job["id"]]

        # The hold keeps the two recorded segments (at least) from purge; the total counts
        # each segment once, even under two holds.
        (listed,) = await api.get_json("/api/holds")
        assert listed["held_segments"] == 2
        assert listed["held_bytes"] > 0
        freeze = {k: v for k, v in body.items() if k != "legal_basis"}
        second = await api.post_json("/api/holds", {**freeze, "reason": "gel"})
        holds = await api.get_json("/api/holds")
        assert [h["hold_id"] for h in holds] == [listed["hold_id"], second["hold_id"]]
        assert [h["held_bytes"] for h in holds] == [listed["held_bytes"]] * 2
        total = await api.get_json("/api/holds/storage")
        assert total == {"segments": 2, "bytes": listed["held_bytes"]}
        for hold in holds:
            await api.post_json(f"/api/holds/{hold['hold_id']}/release", {"reason": "classé"})
        assert await api.get_json("/api/holds") == []
        assert await api.get_json("/api/holds/storage") == {"segments": 0, "bytes": 0}
