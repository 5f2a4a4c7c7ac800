"""Bookmarks and the logbook's statistics per zone through the API of a real hub."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory, fire_logged


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    cameras = [
        {"id": cid, "name": cid, "driver": "virtual", "zone": zone, "enabled": False}
        for cid, zone in (("mairie", "centre"), ("parvis", "centre"), ("quai-1", "gare"))
    ]
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras,
    }
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    await add_account(hub, "p.leroy", Role.OPERATOR, zones=["centre", "gare"])
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    await add_account(hub, "v.durand", Role.VIEWER)
    return hub


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def test_bookmarks_in_scope_removed_by_author_or_supervisor_and_audited(hub: Hub) -> None:
    assert hub.http_url is not None
    now = datetime.now(UTC).replace(microsecond=0)
    async with ApiClient(hub.http_url) as julie, ApiClient(hub.http_url) as paul:
        await julie.login("j.martin")
        await paul.login("p.leroy")
        instant = await julie.post_json(
            "/api/bookmarks",
            {"camera_id": "mairie", "time": iso(now - timedelta(minutes=5)),
             "name": "Scooter sans plaque", "note": "vers la rue Gambetta",
             "tags": ["Véhicule", "véhicule", "scooter"]},
        )  # fmt: skip
        assert instant["start"] == instant["end"]
        assert instant["tags"] == ["véhicule", "scooter"]  # lower-cased, once each
        assert (instant["author"], instant["zone"]) == ("user:j.martin", "centre")
        ranged = await paul.post_json(
            "/api/bookmarks",
            {"camera_id": "quai-1", "start": iso(now - timedelta(minutes=30)),
             "end": iso(now - timedelta(minutes=20)), "name": "Rixe quai 1", "tags": ["rixe"]},
        )  # fmt: skip

        # Julie sees only her zone; a camera filter outside it is refused.
        listed = await julie.get_json("/api/bookmarks")
        assert [b["name"] for b in listed["bookmarks"]] == ["Scooter sans plaque"]
        with pytest.raises(ApiResponseError) as out:
            await julie.get_json("/api/bookmarks?camera=quai-1")
        assert out.value.code == "out_of_scope"
        window = urlencode({"from": iso(now - timedelta(minutes=25)), "to": iso(now)})
        overlapping = (await paul.get_json(f"/api/bookmarks?{window}"))["bookmarks"]
        assert [b["id"] for b in overlapping] == [instant["id"], ranged["id"]]
        tagged = (await paul.get_json("/api/bookmarks?tag=RIXE"))["bookmarks"]
        assert [b["id"] for b in tagged] == [ranged["id"]]

        # Bad requests say what is wrong.
        for body, words in (
            ({"camera_id": "mairie", "name": "x"}, "give 'start'"),
            ({"camera_id": "mairie", "time": "2026-11-22T10:00:00", "name": "x"}, "offset"),
            ({"camera_id": "mairie", "time": iso(now), "name": "  "}, "needs a name"),
            ({"camera_id": "mairie", "start": iso(now), "end": iso(now - timedelta(1)),
              "name": "x"}, "ends before it starts"),
            ({"camera_id": "mairie", "start": iso(now - timedelta(days=2)), "end": iso(now),
              "name": "x"}, "at most 24 hours"),
            ({"camera_id": "mairie", "time": iso(now), "name": "x", "tags": "a"}, "list of texts"),
        ):  # fmt: skip
            with pytest.raises(ApiResponseError) as bad:
                await julie.post_json("/api/bookmarks", body)
            assert bad.value.status == 400
            assert words in bad.value.message
        with pytest.raises(ApiResponseError) as unknown:
            await julie.post_json("/api/bookmarks", {"camera_id": "nope", "time": iso(now),
                                                     "name": "x"})  # fmt: skip
        assert unknown.value.status == 404

        # Paul may not remove Julie's bookmark; she may; a supervisor may remove Paul's.
        with pytest.raises(ApiResponseError) as not_his:
            await paul.post_json(f"/api/bookmarks/{instant['id']}/remove")
        assert not_his.value.status == 403
        assert "j.martin" in not_his.value.message
        removed = await julie.post_json(f"/api/bookmarks/{instant['id']}/remove")
        assert removed["removed"]["by"] == "user:j.martin"
        with pytest.raises(ApiResponseError) as twice:
            await julie.post_json(f"/api/bookmarks/{instant['id']}/remove")
        assert twice.value.status == 409
        assert (await julie.get_json("/api/bookmarks"))["bookmarks"] == []
        kept = await julie.get_json("/api/bookmarks?removed=1")
        assert [b["id"] for b in kept["bookmarks"]] == [instant["id"]]
    async with ApiClient(hub.http_url) as chief, ApiClient(hub.http_url) as viewer:
        await chief.login("chef.dupont")
        await chief.post_json(f"/api/bookmarks/{ranged['id']}/remove")
        await viewer.login("v.durand")
        with pytest.raises(ApiResponseError) as no_logbook:
            await viewer.get_json("/api/bookmarks")
        assert no_logbook.value.status == 403

    # A bookmark is never rewritten nor deleted, whatever writes to the database.
    assert hub.db is not None
    for sql in ("UPDATE bookmarks SET name = 'autre' WHERE id = ?",
                "UPDATE bookmarks SET removed_at = NULL WHERE id = ?",
                "DELETE FROM bookmarks WHERE id = ?"):  # fmt: skip
        with pytest.raises(sqlite3.IntegrityError):
            await hub.db.execute(sql, (instant["id"],))
    # Every addition and removal is in the audit trail, with who did it.
    assert hub.audit is not None
    await hub.audit.async_flush()
    audited = await hub.audit.log.entries(action="bookmark.*")
    assert sorted((e.action, e.actor, e.camera_id) for e in audited) == [
        ("bookmark.added", "user:j.martin", "mairie"),
        ("bookmark.added", "user:p.leroy", "quai-1"),
        ("bookmark.removed", "user:chef.dupont", "quai-1"),
        ("bookmark.removed", "user:j.martin", "mairie"),
    ]


async def test_statistics_per_zone_for_the_security_council(hub: Hub) -> None:
    assert hub.http_url is not None
    assert hub.logbook is not None
    await fire_logged(hub, "camera.motion", camera_id="mairie", active=True)
    await fire_logged(hub, "camera.motion", camera_id="parvis", active=True)
    await fire_logged(hub, "camera.tampering", camera_id="parvis", active=True)
    await fire_logged(hub, "camera.offline", camera_id="quai-1")
    await fire_logged(hub, "camera.online", camera_id="quai-1")
    await fire_logged(hub, "storage.low", free_gb=12)
    events = {(e.event_type, e.camera_id): e for e in await hub.logbook.entries()}
    async with ApiClient(hub.http_url) as julie, ApiClient(hub.http_url) as chief:
        await julie.login("j.martin")
        await chief.login("chef.dupont")
        motion = events[("camera.motion", "mairie")]
        await julie.post_json(f"/api/logbook/events/{motion.id}/ack",
                              {"comment": "Chat", "false_alarm": True})  # fmt: skip
        tampering = events[("camera.tampering", "parvis")]
        await julie.post_json(f"/api/logbook/events/{tampering.id}/ack",
                              {"comment": "Caméra tagguée, service technique prévenu"})  # fmt: skip
        await julie.post_json("/api/logbook/notes", {"text": "Ronde à 22 h", "camera_id": "mairie"})
        await chief.post_json("/api/logbook/notes", {"text": "Relève de 6 h"})
        await julie.post_json("/api/bookmarks", {"camera_id": "parvis", "name": "Tag",
                                                 "time": iso(datetime.now(UTC))})  # fmt: skip

        mine = await julie.get_json("/api/logbook/statistics")
        by_zone = {z["zone"]: z for z in mine["zones"]}
        assert set(by_zone) == {"centre", None}  # not the station's zone: not in her scope
        centre = by_zone["centre"]
        assert centre["events"] == {"camera.motion": 2, "camera.tampering": 1}
        counts = [centre[k] for k in ("total_events", "acknowledged", "false_alarms", "waiting",
                                      "notes", "bookmarks")]  # fmt: skip
        assert counts == [3, 2, 1, 1, 1, 1]
        assert centre["mean_ack_seconds"] is not None
        assert 0 <= centre["mean_ack_seconds"] < 60
        assert by_zone[None]["events"] == {"storage.low": 1}

        every = {z["zone"]: z for z in (await chief.get_json("/api/logbook/statistics"))["zones"]}
        assert every["gare"]["events"] == {"camera.offline": 1, "camera.online": 1}
        assert every["gare"]["waiting"] == 1  # coming back online waits for nobody
        assert every[None]["notes"] == 1  # the chief's note, about no camera
        # A range before all this counts nothing, but still lists the zones.
        past = urlencode({"from": "2026-01-01T00:00:00+01:00", "to": "2026-02-01T00:00:00+01:00"})
        empty = await chief.get_json(f"/api/logbook/statistics?{past}")
        assert [(z["zone"], z["total_events"]) for z in empty["zones"]] == [
            ("centre", 0), ("gare", 0)]  # fmt: skip
        for query, words in (
            ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "after 'from'"),
            ({"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "366 days"),
            ({"from": "yesterday"}, "ISO-8601"),
        ):
            with pytest.raises(ApiResponseError) as bad:
                await chief.get_json(f"/api/logbook/statistics?{urlencode(query)}")
            assert words in bad.value.message

        async with chief.session.get(f"{hub.http_url}/api/logbook/statistics.csv") as response:
            assert response.status == 200
            assert "attachment" in response.headers["Content-Disposition"]
            rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["zone", "zone_name", "what", "count"]
    assert ["centre", "Centre-ville", "camera.motion", "2"] in rows
    assert ["centre", "Centre-ville", "false alarms", "1"] in rows
    assert ["gare", "Gare", "camera.offline", "1"] in rows
    assert ["", "whole installation", "storage.low", "1"] in rows
