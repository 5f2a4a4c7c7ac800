"""recording.timeline and recording.export as services of a running hub, with the Context."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import CameraState, Context
from cityhub.bus import Event
from cityhub.media.export import verify_package
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.services import ServiceValidationError
from cityhub.testing.hub import HubFactory, wait_for_state

CAMERA = {
    "id": "cam",
    "name": "Place de la mairie",
    "driver": "virtual",
    "zone": "centre",
    "options": {"width": 320, "height": 180, "fps": 25, "gop": 12, "bitrate": 200_000},
}


async def test_timeline_and_export_services(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    config = {
        "http": {"port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [CAMERA],
    }
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []

    def on_closed(event: Event) -> None:
        closed.append(dict(event.data))

    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, on_closed)
    await wait_for_state(hub, "cam", CameraState.ONLINE)
    deadline = time.monotonic() + 15
    while len(closed) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    start = datetime.fromtimestamp(closed[0]["start_ms"] / 1000, UTC)
    end = datetime.fromtimestamp(closed[1]["end_ms"] / 1000, UTC)
    timeline = await hub.services.async_call(
        "recording",
        "timeline",
        {"camera_id": "cam", "start": start.isoformat(), "end": end.isoformat()},
    )
    assert len(timeline["recordings"]) == 1
    assert timeline["gaps"] == []

    agent = Context(user="agent.durand")
    result = await hub.services.async_call(
        "recording",
        "export",
        {
            "cameras": ["cam"],
            "start": (start + timedelta(milliseconds=500)).isoformat(),
            "end": (end - timedelta(milliseconds=500)).isoformat(),
            "reference": "PV 2026/1142",
            "legal_basis": "Réquisition judiciaire (art. 77-1 CPP)",
            "reason": "Vol à l'arraché, place de la mairie",
        },
        agent,
    )
    package = Path(result["path"])
    assert package.parent == hub.data_dir / "exports"
    assert package.name.endswith("-PV-2026-1142")
    assert verify_package(package).ok
    assert hub.holds is not None
    holds = await hub.holds.active("cam")
    assert [h.id for h in holds] == [result["hold_id"]]
    assert hub.db is not None
    row = await hub.db.fetchone(
        "SELECT requested_by, reference FROM exports WHERE id = ?", (result["export_id"],)
    )
    assert row is not None
    assert tuple(row) == ("user:agent.durand", "PV 2026/1142")

    with pytest.raises(ServiceValidationError, match="reference"):
        await hub.services.async_call(
            "recording",
            "export",
            {"cameras": ["cam"], "start": start.isoformat(), "end": end.isoformat(),
             "legal_basis": "x", "reason": "y"},
        )  # fmt: skip
    with pytest.raises(ServiceValidationError, match="unknown camera"):
        await hub.services.async_call(
            "recording",
            "timeline",
            {"camera_id": "nope", "start": start.isoformat(), "end": end.isoformat()},
        )
