"""PTZ commands and other audited services in the audit log of a running hub: one entry per
command, joystick bursts coalesced, dead-man and refusals recorded, the chain intact."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ptz_kit import dome, driver, hub_config, start_hub

from cityhub.api import Context
from cityhub.auth.audit import AuditEntry
from cityhub.hub import Hub
from cityhub.ptz import LockedError
from cityhub.testing.hub import HubFactory

ALICE = Context(user="alice")
BOB = Context(user="bob")

MakeConfig = Callable[..., Path]


async def audit_entries(hub: Hub, **filters: Any) -> list[AuditEntry]:
    """The audit entries matching ``filters``, less the accounts' (the first admin's creation)."""
    assert hub.audit is not None
    await hub.audit.async_flush()
    return [e for e in await hub.audit.log.entries(**filters) if not e.action.startswith("auth.")]


def summary(entries: list[AuditEntry]) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """Actor, action, camera and details of each entry (less a burst's duration)."""
    rows = []
    for e in entries:
        details = json.loads(e.details)
        details.pop("duration_ms", None)
        rows.append((e.actor, e.action, e.camera_id, details))
    return rows


async def test_a_joystick_burst_is_one_entry_and_its_stop_counts_the_moves(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    hub, _events = await start_hub(cityhub_hub, cityhub_config(hub_config(dome())), "dome")
    await hub.services.async_call(
        "ptz", "goto_preset", {"camera_id": "dome", "preset": "rue"}, ALICE
    )
    for i in range(20):
        pan = 0.5 if i < 10 else 0.75
        await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": pan}, ALICE)
    await hub.services.async_call("ptz", "stop", {"camera_id": "dome"}, ALICE)
    await hub.services.async_call("ptz", "status", {"camera_id": "dome"}, ALICE)

    assert driver().commands("move", "stop") == [
        ("move", 0.5, 0.0, 0.0),
        ("move", 0.75, 0.0, 0.0),
        ("stop",),
    ]
    assert summary(await audit_entries(hub)) == [
        ("user:alice", "ptz.goto_preset", "dome", {"preset": "rue"}),
        ("user:alice", "ptz.move", "dome", {"pan": 0.5, "tilt": 0.0, "zoom": 0.0}),
        ("user:alice", "ptz.stop", "dome", {"moves": 20, "refused": 0}),
    ]
    assert hub.audit is not None
    assert (await hub.audit.log.verify()).ok


async def test_dead_man_and_refused_bursts_are_recorded(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    config = hub_config(dome(deadman_timeout=0.3))
    hub, _events = await start_hub(cityhub_hub, cityhub_config(config), "dome")
    assert hub.audit is not None
    hub.audit.burst_gap_s = 0.5
    for _ in range(3):
        await hub.services.async_call("ptz", "move", {"camera_id": "dome", "tilt": -1}, ALICE)

    # Bob's joystick while Alice holds the camera: every move refused, one entry for them all.
    for _ in range(5):
        with pytest.raises(LockedError):
            await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 1}, BOB)
    with pytest.raises(LockedError):
        await hub.services.async_call("ptz", "home", {"camera_id": "dome"}, BOB)
    for _ in range(4):
        with pytest.raises(LockedError):
            await hub.services.async_call("ptz", "move", {"camera_id": "dome", "pan": 1}, BOB)

    async def ended() -> list[AuditEntry]:
        return await audit_entries(hub, action="ptz.move_end", actor="system")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(await ended()) < 2:
        assert loop.time() < deadline, "the bursts were never closed"
        await asyncio.sleep(0.05)
    assert driver().commands("stop") == [("stop",)]

    rows = summary(await audit_entries(hub))
    bob_move = {"pan": 1.0, "tilt": 0.0, "zoom": 0.0}
    refused = {"holder": "user:alice", "holder_priority": "operator", "priority": "operator"}
    assert rows[:5] == [
        ("user:alice", "ptz.move", "dome", {"pan": 0.0, "tilt": -1.0, "zoom": 0.0}),
        ("user:bob", "ptz.move", "dome", bob_move),
        ("user:bob", "ptz.home", "dome", {"moves": 5, "refused": 5}),
        ("user:bob", "ptz.refused", "dome", {"command": "home", **refused}),
        ("user:bob", "ptz.move", "dome", bob_move),
    ]
    # Alice's burst ends with the dead-man, Bob's (open meanwhile) only when he lets go.
    assert sorted(rows[5:], key=lambda row: str(row[3]["moved_by"])) == [
        (
            "system",
            "ptz.move_end",
            "dome",
            {"cause": "dead-man", "moved_by": "user:alice", "moves": 3, "refused": 0},
        ),
        (
            "system",
            "ptz.move_end",
            "dome",
            {"cause": "no further moves", "moved_by": "user:bob", "moves": 4, "refused": 4},
        ),
    ]
    dead_man = next(json.loads(e.details) for e in await ended() if "alice" in e.details)
    assert dead_man["duration_ms"] >= 300
    assert (await hub.audit.log.verify()).ok


async def test_holds_record_their_range_reason_and_camera(
    cityhub_config: MakeConfig, cityhub_hub: HubFactory
) -> None:
    hub, _events = await start_hub(cityhub_hub, cityhub_config(hub_config(dome())), "dome")
    officer = Context(user="officer")
    await hub.services.async_call(
        "recording",
        "hold",
        {
            "cameras": ["dome"],
            "start": "2026-11-22T10:00:00+01:00",
            "end": "2026-11-22T10:30:00+01:00",
            "reference": "PV 2026/117",
            "reason": "réquisition du parquet",
        },
        officer,
    )
    await hub.services.async_call("camera", "restart", {"camera_id": "dome"}, officer)
    entries = await audit_entries(hub, actor="user:officer")
    assert [(e.action, e.camera_id) for e in entries] == [
        ("recording.hold", "dome"),
        ("camera.restart", "dome"),
    ]
    hold = entries[0]
    assert (hold.start_ms, hold.end_ms) == (1795338000000, 1795339800000)
    assert hold.reason == "réquisition du parquet"
    assert json.loads(hold.details) == {"reference": "PV 2026/117"}
    assert await audit_entries(hub, camera_id="dome", action="recording.*") == [hold]
