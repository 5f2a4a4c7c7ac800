"""The logbook through the API of a real hub: events in scope, acknowledgements, notes, CSV,
and the live list."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory, fire_logged


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    cameras = [
        {"id": cid, "name": cid, "driver": "virtual", "zone": zone, "enabled": False}
        for cid, zone in (("mairie", "centre"), ("quai-1", "gare"))
    ]
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras,
    }
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    return hub


async def test_events_in_scope_acknowledged_once_notes_and_csv(hub: Hub) -> None:
    assert hub.http_url is not None
    await fire_logged(
        hub, "camera.motion", camera_id="mairie", active=True, raw="tns1:VideoSource/MotionAlarm"
    )
    await fire_logged(hub, "camera.motion", camera_id="quai-1", active=True)
    await fire_logged(hub, "storage.low", free_gb=12)
    await fire_logged(hub, "camera.state_changed", camera_id="mairie")  # not a logbook event
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        events = await api.get_json("/api/logbook/events")
        assert [(e["event_type"], e["camera_id"]) for e in events] == [
            ("storage.low", None),
            ("camera.motion", "mairie"),  # quai-1 is in another zone
        ]
        motion = events[1]
        assert motion["data"]["raw"] == "tns1:VideoSource/MotionAlarm"
        acked = await api.post_json(
            f"/api/logbook/events/{motion['id']}/ack",
            {"comment": "Passant, rien à signaler", "false_alarm": True},
        )
        assert acked["acknowledged"]["by"] == "user:j.martin"
        assert acked["acknowledged"]["false_alarm"] is True
        with pytest.raises(ApiResponseError) as twice:
            await api.post_json(f"/api/logbook/events/{motion['id']}/ack", {"comment": "encore"})
        assert twice.value.status == 409
        assert "already acknowledged by user:j.martin" in twice.value.message
        hidden = (await hub.logbook.entries(cameras=["quai-1"]))[0]  # type: ignore[union-attr]
        with pytest.raises(ApiResponseError) as other_zone:
            await api.post_json(f"/api/logbook/events/{hidden.id}/ack", {"comment": "x"})
        assert other_zone.value.status == 404
        assert await api.get_json("/api/logbook/events?unacknowledged=1") == [events[0]]
        assert await api.get_json("/api/logbook/waiting") == {"count": 1}

        note = await api.post_json(
            "/api/logbook/notes",
            {"text": "Patrouille envoyée place de la mairie", "camera_id": "mairie",
             "event_id": motion["id"]},
        )  # fmt: skip
        assert note["zone"] == "centre"
        correction = await api.post_json(
            "/api/logbook/notes", {"text": "Patrouille arrivée 21 h 14", "corrects": note["id"]}
        )
        assert correction["corrects"] == note["id"]
        with pytest.raises(ApiResponseError) as out_of_scope:
            await api.post_json("/api/logbook/notes", {"text": "x", "camera_id": "quai-1"})
        assert out_of_scope.value.status == 403
        with pytest.raises(ApiResponseError):
            await api.post_json("/api/logbook/notes", {"text": "   "})
        notes = await api.get_json("/api/logbook/notes")
        assert [n["id"] for n in notes] == [correction["id"], note["id"]]

        async with api.session.get(f"{hub.http_url}/api/logbook/export.csv") as response:
            assert response.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert [r["kind"] for r in rows] == ["event", "event", "note", "note"]
        assert rows[0]["comment"] == "Passant, rien à signaler"
        assert rows[0]["false_alarm"] == "yes"
        assert "quai-1" not in {r["camera"] for r in rows}
    assert hub.audit is not None
    await hub.audit.async_flush()
    actions = [e.action for e in await hub.audit.log.entries(actor="user:j.martin")]
    assert actions.count("logbook.note_added") == 2
    assert "logbook.acknowledged" in actions


async def test_the_live_list_pushes_new_events_in_scope_with_their_id(hub: Hub) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        async with api.session.ws_connect(
            hub.http_url.replace("http", "ws") + "/api/logbook/live"
        ) as ws:
            await fire_logged(
                hub, "camera.tampering", camera_id="quai-1", active=True
            )  # other zone
            await fire_logged(hub, "camera.tampering", camera_id="mairie", active=True)
            message = json.loads((await ws.receive(timeout=5)).data)
            assert message["type"] == "event"
            pushed = message["event"]
            assert (pushed["event_type"], pushed["camera_id"]) == ("camera.tampering", "mairie")
            await api.post_json(f"/api/logbook/events/{pushed['id']}/ack", {"comment": "vu"})
