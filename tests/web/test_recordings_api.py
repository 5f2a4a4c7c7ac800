"""Timelines, playback, holds and exports through the API of a hub that really records."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cityhub.api import CameraState
from cityhub.auth.roles import Role
from cityhub.bus import Event
from cityhub.hub import Hub
from cityhub.media.export import verify_package
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing import ffprobe
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
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "options": OPTIONS},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "enabled": False},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    await wait_for_state(hub, "mairie", CameraState.ONLINE)
    deadline = time.monotonic() + 20
    while len(closed) < 2:
        assert time.monotonic() < deadline, "no two segments recorded in 20 s"
        await asyncio.sleep(0.1)
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    start = datetime.fromtimestamp(closed[0]["start_ms"] / 1000, UTC)
    end = datetime.fromtimestamp(closed[1]["end_ms"] / 1000, UTC)
    return hub, start, end


def span(start: datetime, end: datetime) -> str:
    return urlencode({"from": start.isoformat(), "to": end.isoformat()})


async def test_an_operator_sees_the_timeline_and_plays_the_footage_back(
    recorded: tuple[Hub, datetime, datetime], tmp_path: Path
) -> None:
    hub, start, end = recorded
    assert hub.http_url is not None
    events: list[Event] = []
    hub.bus.subscribe("playback.*", events.append)
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        timeline = await api.get_json(f"/api/cameras/mairie/timeline?{span(start, end)}")
        assert len(timeline["recordings"]) == 1
        assert timeline["gaps"] == []
        assert timeline["holds"] == []
        url = f"{hub.http_url}/api/cameras/mairie/recording?{span(start, end)}"
        async with api.session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "video/mp4"
            (tmp_path / "played.mp4").write_bytes(await response.read())
        probe = ffprobe(tmp_path / "played.mp4")
        assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
        assert probe.duration == pytest.approx((end - start).total_seconds(), abs=0.6)
        assert probe.errors == ""
        for path, status, code in (
            ("/api/cameras/quai-1/timeline?" + span(start, end), 403, "out_of_scope"),
            ("/api/cameras/nowhere/timeline?" + span(start, end), 404, "unknown_camera"),
            ("/api/cameras/mairie/timeline?from=2026-11-22T10:00:00&to=2026-11-22T11:00:00Z",
             400, "bad_request"),
            ("/api/cameras/mairie/timeline?" + span(end, start), 400, "bad_request"),
            ("/api/cameras/mairie/recording?" + span(end + timedelta(hours=1),
                                                    end + timedelta(hours=2)),
             404, "no_footage"),
        ):  # fmt: skip
            with pytest.raises(ApiResponseError) as refused:
                await api.get_json(path)
            assert (refused.value.status, refused.value.code) == (status, code), path
    await asyncio.sleep(0.1)
    assert [e.event_type for e in events] == ["playback.started", "playback.stopped"]
    assert events[0].context.user == "j.martin"
    assert events[1].data["bytes"] > 0
    # the audit trail has the login and the playback, with who, camera, range and address
    assert hub.audit is not None
    await hub.audit.async_flush()
    entries = {e.action: e for e in await hub.audit.log.entries(actor="user:j.martin")}
    assert {"auth.login", "playback.started", "playback.stopped"} <= set(entries)
    played = entries["playback.started"]
    assert played.camera_id == "mairie"
    assert played.client == "127.0.0.1"
    assert (played.start_ms, played.end_ms) == (
        round(start.timestamp() * 1000),
        round(end.timestamp() * 1000),
    )
    assert (await hub.audit.log.verify()).ok


async def test_holds_and_exports_follow_the_roles(
    recorded: tuple[Hub, datetime, datetime], tmp_path: Path
) -> None:
    hub, start, end = recorded
    assert hub.http_url is not None
    called: list[Event] = []
    hub.bus.subscribe("service.called", called.append)
    freeze = {"cameras": ["mairie"], "start": start.isoformat(), "end": end.isoformat(),
              "reference": "Main courante 2026-311", "reason": "rixe devant la mairie"}  # fmt: skip
    async with ApiClient(hub.http_url) as operator:
        await operator.login("j.martin")
        hold = await operator.post_json("/api/holds", freeze)
        assert hold["created_by"] == "user:j.martin"
        assert [h["hold_id"] for h in await operator.get_json("/api/holds")] == [hold["hold_id"]]
        with pytest.raises(ApiResponseError) as refused:
            await operator.post_json(f"/api/holds/{hold['hold_id']}/release", {"reason": "x"})
        assert refused.value.status == 403
        with pytest.raises(ApiResponseError) as no_export:
            await operator.post_json("/api/exports", {**freeze, "legal_basis": "art. 60 CPP"})
        assert no_export.value.status == 403
        with pytest.raises(ApiResponseError) as invalid:
            await operator.post_json("/api/holds", {**freeze, "reason": " "})
        assert (invalid.value.status, invalid.value.code) == (400, "invalid")
    async with ApiClient(hub.http_url) as supervisor:
        await supervisor.login("chef.dupont")
        job = await supervisor.post_json(
            "/api/exports",
            {**freeze, "reference": "PV 2026/1142", "legal_basis": "art. 77-1 CPP"},
        )
        assert job["state"] == "running"
        deadline = asyncio.get_running_loop().time() + 60
        while job["state"] == "running":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
            job = await supervisor.get_json(f"/api/exports/{job['id']}")
        assert job["state"] == "done", job
        assert job["fraction"] == 1.0
        assert verify_package(Path(job["result"]["path"])).ok
        async with supervisor.session.get(
            f"{hub.http_url}/api/exports/{job['id']}/package.zip"
        ) as response:
            assert response.status == 200
            archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        names = archive.namelist()
        assert any(n.endswith("manifest.json") for n in names)
        assert any(n.endswith(".mp4") for n in names)
        unpacked = tmp_path / "unpacked"
        archive.extractall(unpacked)
        assert verify_package(next(unpacked.iterdir())).ok  # the download is the package
        released = await supervisor.post_json(
            f"/api/holds/{hold['hold_id']}/release", {"reason": "pas de suite"}
        )
        assert released["released_by"] == "user:chef.dupont"
    services = [(e.data["domain"], e.data["service"], e.context.user) for e in called]
    assert ("recording", "hold", "j.martin") in services
    assert ("recording", "export", "chef.dupont") in services
    assert ("recording", "release", "chef.dupont") in services


async def test_the_health_report_shows_scope_gaps_and_the_retention_forecast(
    recorded: tuple[Hub, datetime, datetime],
) -> None:
    hub, _start, _end = recorded
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        report = await api.get_json("/api/health/report")
    assert [c["id"] for c in report["cameras"]] == ["mairie"]  # quai-1 is in another zone
    mairie = report["cameras"][0]
    assert mairie["state"] == "online"
    assert mairie["recording"] is True
    assert mairie["streams"]["main"]["fps"] > 0
    assert mairie["streams"]["main"]["last_frame"] is not None
    # recording began at the hub's start: today's only gap, if any, ends there
    assert len(mairie["gaps_today"]) <= 1
    storage = report["storage"]
    assert storage["footage"] > 0
    assert storage["recorded_last_24h"] == storage["footage"]
    assert storage["forecast_days"] > storage["longest_retention_days"] == 14
    assert storage["forecast_short"] is False
    assert storage["level"] == "ok"
    assert report["alarms"] == {"unacknowledged": 0}


async def test_the_playback_stream_says_the_instant_of_its_first_frame(
    recorded: tuple[Hub, datetime, datetime], tmp_path: Path
) -> None:
    hub, start, end = recorded
    assert hub.http_url is not None
    start_ms = round(start.timestamp() * 1000)
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        # From a segment's start: its first frame, a keyframe, is media time 0.
        url = f"{hub.http_url}/api/cameras/mairie/recording?{span(start, end)}"
        async with api.session.get(url) as response:
            assert response.status == 200
            assert float(response.headers["X-First-Frame-Ms"]) == start_ms
            await response.read()
        # From 500 ms in: the keyframe before it (one every 12 frames at 25 fps, 480 ms).
        later = start + timedelta(milliseconds=500)
        url = f"{hub.http_url}/api/cameras/mairie/recording?{span(later, end)}"
        async with api.session.get(url) as response:
            assert response.status == 200
            first_ms = float(response.headers["X-First-Frame-Ms"])
            (tmp_path / "later.mp4").write_bytes(await response.read())
    assert first_ms == pytest.approx(start_ms + 480, abs=1)
    probe = ffprobe(tmp_path / "later.mp4")
    # Media time 0 is that frame: the file lasts from it to the end of the range.
    assert probe.duration == pytest.approx((end - start).total_seconds() - 0.48, abs=0.1)
