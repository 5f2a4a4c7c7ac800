"""The health report's index walks are shared: many screens asking at once read the index once
per period, and the figures follow the recording once the period is over."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cityhub.health
from cityhub.api import CameraState
from cityhub.health import HealthReporter
from cityhub.hub import Hub
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing.hub import HubFactory, wait_for_state

OPTIONS = {"width": 320, "height": 180, "fps": 25, "gop": 12, "bitrate": 200_000}


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config = {
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "options": OPTIONS},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await wait_for_state(hub, "mairie", CameraState.ONLINE)
    return hub


async def closed_segments(hub: Hub, count: int) -> None:
    closed: list[Any] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, closed.append)
    deadline = time.monotonic() + 20
    while len(closed) < count:
        assert time.monotonic() < deadline, f"no {count} segments recorded in 20 s"
        await asyncio.sleep(0.05)


async def test_screens_asking_together_share_one_walk_and_later_ones_see_new_footage(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks = {"gaps": 0, "sums": 0}
    gaps, sums = cityhub.health._gaps, cityhub.health._segment_sums

    async def counted_gaps(*args: Any) -> Any:
        walks["gaps"] += 1
        return await gaps(*args)

    async def counted_sums(*args: Any) -> Any:
        walks["sums"] += 1
        return await sums(*args)

    monkeypatch.setattr(cityhub.health, "_gaps", counted_gaps)
    monkeypatch.setattr(cityhub.health, "_segment_sums", counted_sums)
    monkeypatch.setattr(cityhub.health, "GAPS_TTL_S", 0.5)
    monkeypatch.setattr(cityhub.health, "STORAGE_TTL_S", 0.5)
    await closed_segments(hub, 1)
    reporter = HealthReporter(hub)

    reports = await asyncio.gather(*(reporter.report() for _ in range(8)))
    assert walks == {"gaps": 1, "sums": 1}
    first = reports[0]["storage"]["footage"]
    assert first > 0
    assert {r["storage"]["footage"] for r in reports} == {first}
    # Live figures are not reused: each report has the stream counters of its own moment.
    assert all(r["cameras"][0]["streams"]["main"]["fps"] > 0 for r in reports)

    # Within the period, the walks are reused; after it, new footage shows.
    await reporter.report()
    assert walks == {"gaps": 1, "sums": 1}
    await closed_segments(hub, 2)
    await asyncio.sleep(0.5)
    later = await reporter.report()
    assert walks == {"gaps": 2, "sums": 2}
    assert later["storage"]["footage"] > first
