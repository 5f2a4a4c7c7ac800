"""The evidence export dialog in real Chromium against a hub that really records: a reference
is required, the progress reaches 100 %, the ZIP downloaded through the browser is the package
(its SHA-256 as shown, valid for the verifier), and the hold it placed is shown; an operator is
refused clearly; local times convert through the daylight-saving changes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cityhub.api import CameraState
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.media.export import verify_package
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory, wait_for_state

OPTIONS = {"width": 320, "height": 180, "fps": 25, "gop": 12, "bitrate": 200_000}


def config_of(recording: bool) -> dict[str, Any]:
    """Two zones, 'mairie' in the centre (recording 2 s segments, or disabled) and 'quai-1'."""
    return {
        "http": {"host": "127.0.0.1", "port": 0},
        "recording": {"segment_seconds": 2},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "enabled": recording, "options": OPTIONS},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "enabled": False},
        ],
    }  # fmt: skip


async def with_accounts(hub: Hub) -> Hub:
    """The hub with a supervisor (may export) and an operator (may not)."""
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    await add_account(hub, "j.martin", Role.OPERATOR)
    return hub


@pytest.fixture
async def recorded(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> tuple[Hub, datetime, datetime]:
    """A hub that has recorded two closed segments of 'mairie'; their start and end."""
    hub = await cityhub_hub(cityhub_config(config_of(recording=True)))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    await wait_for_state(hub, "mairie", CameraState.ONLINE, timeout=30)
    deadline = time.monotonic() + 30
    while len(closed) < 2:
        assert time.monotonic() < deadline, "no two segments recorded in 30 s"
        await asyncio.sleep(0.1)
    await with_accounts(hub)
    start = datetime.fromtimestamp(closed[0]["start_ms"] / 1000, UTC)
    end = datetime.fromtimestamp(closed[1]["end_ms"] / 1000, UTC)
    return hub, start, end


@pytest.fixture
async def idle(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    """The same hub with nothing recorded (its cameras disabled): quicker to start."""
    return await with_accounts(await cityhub_hub(cityhub_config(config_of(recording=False))))


async def log_in(tab: Any, log: Any, hub: Hub, name: str) -> None:
    """Log ``name`` in and wait for the top bar."""
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    await tab.fill("input[name=user]", name)
    await tab.fill("input[name=password]", TEST_PASSWORD)
    await tab.click("button[type=submit]")
    await tab.wait_for_selector(".topbar .user-name")


async def open_dialog(tab: Any, cameras: list[str], start: datetime, end: datetime) -> None:
    """Open the dialog as the playback mode does."""
    args = json.dumps({"cameras": cameras, "from": start.isoformat(), "to": end.isoformat()})
    await tab.evaluate(
        f"import('/static/js/export.js').then((m) => m.openExportDialog({args})).then(() => null)"
    )
    await tab.wait_for_selector("ch-export-dialog dialog[open]")


async def test_a_supervisor_exports_downloads_and_verifies_the_package(
    recorded: tuple[Hub, datetime, datetime], page: tuple[Any, Any], tmp_path: Path
) -> None:
    hub, start, end = recorded
    tab, log = page
    await log_in(tab, log, hub, "chef.dupont")
    await open_dialog(tab, ["mairie"], start, end)
    dialog = tab.locator("ch-export-dialog dialog")
    await dialog.locator("input[name=reference]").wait_for()
    assert await dialog.locator("input[name=camera][value=mairie]").is_checked()
    assert not await dialog.locator("input[name=camera][value=quai-1]").is_checked()
    # The range is shown in Paris time with its offset and duration.
    paris = start.astimezone(ZoneInfo("Europe/Paris"))
    hours = int(paris.utcoffset().total_seconds() // 3600)  # type: ignore[union-attr]
    assert f"UTC+{hours:02d}:00" in await dialog.locator(".export-offset >> nth=0").inner_text()
    duration = await dialog.locator(".export-duration").inner_text()
    assert duration.startswith("Duration: "), duration
    assert duration.endswith(" s"), duration
    local_start = await dialog.locator("input[name=start]").input_value()
    assert local_start == paris.strftime("%Y-%m-%dT%H:%M:%S")

    # Without a reference: refused in the page, nothing sent.
    jobs_before = await hub_jobs(tab)
    await dialog.locator("textarea[name=reason]").fill("rixe devant la mairie")
    await dialog.locator("button[type=submit]").click()
    message = dialog.locator(".export-message")
    await message.filter(has_text="The reference is mandatory").wait_for()
    assert await hub_jobs(tab) == jobs_before == 0

    await dialog.locator("input[name=reference]").fill("PV 2026/1142")
    await dialog.locator("select[name=legal_basis]").select_option(index=1)
    await dialog.locator("input[name=legal_basis_detail]").fill(
        "OPJ Durand, commissariat de Millau"
    )
    # The dialog's view of the job changes only when a status answer arrives: holding those
    # answers back keeps it "running" however fast the hub is, to try Esc meanwhile.
    gate = asyncio.Event()

    async def held_back(route: Any) -> None:
        await gate.wait()
        await route.continue_()

    await tab.route("**/api/exports/*", held_back)
    await dialog.locator("button[type=submit]").click()
    await dialog.locator(".export-progress[data-state=running]").wait_for()
    await tab.keyboard.press("Escape")
    confirm = dialog.locator(".export-confirm")
    await confirm.wait_for()
    assert "keeps running on the hub" in await confirm.inner_text()
    await confirm.locator("button.primary").click()  # keep watching
    await confirm.wait_for(state="detached")
    assert await dialog.get_attribute("open") == ""
    gate.set()
    await dialog.locator(".export-progress[data-state=done]").wait_for(timeout=60_000)
    await tab.unroute("**/api/exports/*", held_back)
    assert await dialog.locator(".export-percent").inner_text() == "100 %"
    assert await message.inner_text() == ""
    shown_sha = await dialog.locator(".export-sha256").inner_text()
    fingerprint = await dialog.locator(".export-fingerprint").inner_text()
    hold_text = await dialog.locator(".export-hold").inner_text()
    assert "PV 2026/1142" in hold_text
    assert "kept until released" in hold_text

    # The download through the browser is the package: its SHA-256 as shown, and valid.
    async with tab.expect_download() as waiting:
        await dialog.locator("a.export-download").click()
    download = await waiting.value
    saved = tmp_path / "package.zip"
    await download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == shown_sha
    with zipfile.ZipFile(saved) as archive:
        archive.extractall(tmp_path / "unpacked")
    (folder,) = (tmp_path / "unpacked").iterdir()
    report = verify_package(folder, expected_fingerprint=fingerprint)
    assert report.ok, report.problems
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["export"]["reference"] == "PV 2026/1142"
    assert manifest["export"]["legal_basis"].endswith(": OPJ Durand, commissariat de Millau")
    assert manifest["export"]["requested_by"] == "chef.dupont"
    assert [c["id"] for c in manifest["cameras"]] == ["mairie"]

    # The check in the browser agrees.
    await dialog.locator("button.export-check").click()
    await dialog.locator(".export-checked[data-ok=true]").wait_for()

    # The hold the export placed is on the hub, as the dialog said.
    assert hub.holds is not None
    (hold,) = await hub.holds.active("mairie")
    assert hold.reference == "PV 2026/1142"
    assert f"hold {hold.id} " in hold_text

    # Esc closes a finished dialog at once.
    await tab.keyboard.press("Escape")
    await tab.wait_for_selector("ch-export-dialog", state="detached")

    # The hold is in Admin > Holds, with the storage it keeps; it is released with a reason.
    await tab.click("button.mode[data-mode=admin]")
    await tab.click(".admin-tabs button[data-tab=holds]")
    row = tab.locator(f"tr.hold[data-id='{hold.id}']")
    await row.wait_for()
    assert await row.locator(".hold-reference").inner_text() == "PV 2026/1142"
    kept_text = await row.locator(".hold-bytes").inner_text()
    kept = re.fullmatch(r"\S+ \S?B \((\d+) segments\)", kept_text)
    assert kept, "the storage kept reads e.g. '195 kB (3 segments)'"
    assert int(kept[1]) >= 2  # the two recorded, and the next one, which touches the range's end
    assert int(await tab.get_attribute(".holds-total", "data-bytes") or 0) > 0
    await row.locator("button.hold-release-open").click()
    await row.locator("input[name=release_reason]").fill("scellés remis à l'OPJ")
    await row.locator("form.hold-release button[type=submit]").click()
    await tab.wait_for_selector(".admin-holds td:text('No active hold')")
    assert (await hub.holds.get(hold.id)).release_reason == "scellés remis à l'OPJ"

    # The audit log has the export with its camera, range and reason, then the release.
    assert hub.audit is not None
    await hub.audit.async_flush()
    await tab.click(".admin-tabs button[data-tab=audit]")
    await tab.fill(".audit-filters input[name=actor]", "chef.dupont")
    await tab.click(".audit-filters button[type=submit]")
    exported = tab.locator("tr.audit-entry[data-action='recording.export']")
    await exported.wait_for()
    assert await exported.locator(".audit-camera").inner_text() == "Mairie"
    assert await exported.locator(".audit-reason").inner_text() == "rixe devant la mairie"
    assert localised(start) in await exported.locator(".audit-range").inner_text()
    # one login, two downloads (the link, the check in the browser), one release
    for action, count in (("auth.login", 1), ("export.downloaded", 2), ("recording.release", 1)):
        found = await tab.locator(f"tr.audit-entry[data-action='{action}']").count()
        assert found == count, action
    await tab.click("button.audit-verify-run")
    await tab.wait_for_selector(".audit-verify[data-ok=true]")
    assert log.errors == []


def localised(instant: datetime) -> str:
    """How the panel writes an instant: Paris time, to the second."""
    return instant.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M:%S")


async def hub_jobs(tab: Any) -> int:
    """How many export jobs the hub knows for the logged-in user."""
    result: int = await tab.evaluate(
        "fetch('/api/exports').then((r) => r.json()).then((d) => d.jobs.length)"
    )
    return result


async def test_the_range_is_checked_before_sending_and_server_errors_show(
    idle: Hub, page: tuple[Any, Any]
) -> None:
    hub, tab, log = idle, *page
    end = datetime.now(UTC)
    start = end - timedelta(minutes=5)
    await log_in(tab, log, hub, "chef.dupont")
    dialog = tab.locator("ch-export-dialog dialog")
    await open_dialog(tab, ["mairie"], start, end)
    for field in ("reference", "legal_basis_detail"):
        await dialog.locator(f"input[name={field}]").fill("RGPD-2026-17")
    await dialog.locator("textarea[name=reason]").fill("demande de droit d'accès")
    message = dialog.locator(".export-message")

    # End before start: refused in the page.
    await dialog.locator("input[name=end]").fill("2020-01-01T10:00:00")
    await dialog.locator("button[type=submit]").click()
    await message.filter(has_text="The end must come after the start").wait_for()
    # Longer than the hub allows (a day): refused in the page, with the way out.
    await dialog.locator("input[name=start]").fill("2026-03-28T10:00:00")
    await dialog.locator("input[name=end]").fill("2026-03-30T10:00:00")
    assert "47 h" in await dialog.locator(".export-duration").inner_text()  # DST: 47 h, not 48
    await dialog.locator("button[type=submit]").click()
    await message.filter(has_text="at most 24 h").wait_for()
    # A range without footage: the hub's message shows in the dialog.
    await dialog.locator("input[name=start]").fill("2026-03-29T10:00:00")
    await dialog.locator("input[name=end]").fill("2026-03-29T10:05:00")
    assert "UTC+02:00" in await dialog.locator(".export-offset >> nth=0").inner_text()
    await dialog.locator("button[type=submit]").click()
    await message.filter(has_text="no footage").wait_for(timeout=30_000)
    assert await message.get_attribute("data-error") == "no_footage"
    assert await dialog.locator("button[type=submit]").is_enabled()  # free to correct and retry

    # A wall time the clocks skip, and one that happens twice, in Paris.
    converted = await tab.evaluate(
        "import('/static/js/export.js').then((m) => ["
        " m.fromLocalInput('2026-03-29T02:30:00', 'Europe/Paris'),"
        " m.fromLocalInput('2026-10-25T02:30:00', 'Europe/Paris'),"
        " m.fromLocalInput('2026-11-22T14:05:09', 'Europe/Paris')])"
    )
    assert converted[0] is None
    assert converted[1]["ambiguous"] is True
    assert converted[1]["ms"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp() * 1000
    assert converted[2] == {
        "ms": datetime(2026, 11, 22, 13, 5, 9, tzinfo=UTC).timestamp() * 1000,
        "ambiguous": False,
    }
    assert log.errors == []


async def test_an_operator_is_refused_clearly(idle: Hub, page: tuple[Any, Any]) -> None:
    hub, tab, log = idle, *page
    await log_in(tab, log, hub, "j.martin")
    end = datetime.now(UTC)
    await open_dialog(tab, ["mairie"], end - timedelta(minutes=5), end)
    refused = tab.locator("ch-export-dialog .export-refused")
    await refused.wait_for()
    assert "may not export footage" in await refused.inner_text()
    assert await tab.locator("ch-export-dialog input[name=reference]").count() == 0
    # The hub refuses too, whatever the page does.
    log.allow_refusal("/api/exports", 403)
    status = await tab.evaluate("fetch('/api/exports', {method: 'GET'}).then((r) => r.status)")
    assert status == 403
    await tab.keyboard.press("Escape")
    await tab.wait_for_selector("ch-export-dialog", state="detached")
    assert log.errors == []
