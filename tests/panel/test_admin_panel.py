"""The admin mode in real Chromium against a real hub: an admin creates an account whose
one-time password logs in (and must be changed), changes its habilitation, disables it; the
audit log is browsed a page at a time and filtered; holds are placed and released; those
without the permissions see no admin mode and the API refuses them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import TEST_PASSWORD, add_account
from cityhub.testing.hub import HubFactory

NEW_PASSWORD = "Nouveau-mot-de-passe-2026"


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre-ville"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "enabled": False},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "enabled": False},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "chef.admin", Role.ADMIN)
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    await add_account(hub, "j.martin", Role.OPERATOR)
    return hub


async def log_in(tab: Any, log: Any, hub: Hub, name: str, password: str = TEST_PASSWORD) -> None:
    """Log ``name`` in from the login form."""
    assert hub.http_url is not None
    log.allow_refusal("/api/auth/me")
    await tab.goto(hub.http_url + "/")
    await tab.fill("input[name=user]", name)
    await tab.fill("input[name=password]", password)
    await tab.click("button[type=submit]")


async def open_admin(tab: Any, sub_tab: str) -> None:
    """Switch to the admin mode, then to ``sub_tab``."""
    await tab.click("button.mode[data-mode=admin]")
    await tab.click(f".admin-tabs button[data-tab={sub_tab}]")
    await tab.wait_for_selector(f".admin-tabs button[data-tab={sub_tab}][aria-selected=true]")


async def test_an_admin_creates_changes_and_disables_an_account(
    hub: Hub, page: tuple[Any, Any], second_page: tuple[Any, Any]
) -> None:
    tab, log = page
    agent, agent_log = second_page
    await log_in(tab, log, hub, "chef.admin")
    await open_admin(tab, "users")
    await tab.wait_for_selector("tr.user[data-name='chef.admin']")
    assert await tab.locator(".admin-tabs button").all_inner_texts() == ["Users", "Audit", "Holds"]

    # A refused name: the hub's reason shows next to the field.
    await tab.click("button.user-add")
    form = tab.locator("form.user-form")
    await form.locator("input[name=name]").fill("Nadia Petit")
    await form.locator("input[name=display_name]").fill("Nadia Petit")
    await form.locator("select[name=role]").select_option("operator")
    await form.locator("input[name=zone][value='*']").uncheck()
    await form.locator("input[name=zone][value=centre]").check()
    day = date.today()
    await form.locator("input[name=habilitation_reference]").fill("Arrêté 2026-201")
    await form.locator("input[name=habilitation_expires]").fill(
        (day + timedelta(days=365)).isoformat()
    )
    log.allow_refusal("/api/users", 409)
    await form.locator("button[type=submit]").click()
    name_error = form.locator("[data-field=name] .field-error")
    await name_error.filter(has_text="invalid account name").wait_for()

    await form.locator("input[name=name]").fill("n.petit")
    await form.locator("button[type=submit]").click()
    secret = tab.locator("input.one-time-password")
    await secret.wait_for()
    one_time = await secret.input_value()
    assert len(one_time) >= 12
    row = tab.locator("tr.user[data-name='n.petit']")
    await row.wait_for()
    assert await row.locator(".user-role").inner_text() == "operator"
    assert await row.locator(".user-zones").inner_text() == "Centre-ville"
    assert await row.locator(".user-habilitation").get_attribute("data-state") == "valid"
    assert await row.locator(".user-state").inner_text() == "must change password"

    # The one-time password logs in, in another browser, and must be changed first.
    await log_in(agent, agent_log, hub, "n.petit", one_time)
    await agent.wait_for_selector("form.password")
    await agent.fill("input[name=current]", one_time)
    await agent.fill("input[name=new]", NEW_PASSWORD)
    await agent.fill("input[name=again]", NEW_PASSWORD)
    await agent.click("form.password button[type=submit]")
    await agent.wait_for_selector(".topbar .user-name:text('n.petit')")
    assert await agent.locator("button.mode[data-mode=admin]").count() == 0

    # An expired habilitation stands out.
    await row.locator("button.user-edit").click()
    form = tab.locator("form.user-form")
    await form.locator("input[name=habilitation_granted]").fill("2025-01-01")
    await form.locator("input[name=habilitation_expires]").fill("2025-12-31")
    await form.locator("button[type=submit]").click()
    await row.locator(".user-habilitation.expired:has-text('(expired)')").wait_for()
    assert hub.users is not None
    changed = await hub.users.get("n.petit")
    assert changed.habilitation is not None
    assert changed.habilitation.expires == date(2025, 12, 31)

    # Disabled: their session ends and the login is refused.
    await row.locator("button.user-toggle").click()
    await row.locator(".user-state:text('disabled')").wait_for()
    agent_log.allow_refusal("/api/auth/me")
    agent_log.allow_refusal("/api/logbook/waiting")
    agent_log.allow_refusal("/api/auth/login")
    await agent.reload()
    await agent.wait_for_selector("form.login")
    await agent.fill("input[name=user]", "n.petit")
    await agent.fill("input[name=password]", NEW_PASSWORD)
    await agent.click("button[type=submit]")
    await agent.wait_for_selector("text=Wrong account name, password or code.")

    # Enabled again and reset: a new one-time password, shown once.
    await row.locator("button.user-toggle").click()
    await row.locator(".user-state:text('active')").wait_for()
    await row.locator("button.user-reset").click()
    await row.locator(".user-reset-confirm button.primary").click()
    await row.locator(".user-state:text('must change password')").wait_for()
    reset = await tab.locator("input.one-time-password").input_value()
    assert reset not in (one_time, NEW_PASSWORD)
    assert log.errors == []
    assert agent_log.errors == []


async def test_the_audit_log_is_browsed_filtered_verified_and_exported(
    hub: Hub, page: tuple[Any, Any], tmp_path: Path
) -> None:
    tab, log = page
    assert hub.audit is not None
    assert hub.holds is not None
    # Enough entries for two pages: changes made as an automation would.
    assert hub.users is not None
    for n in range(60):
        await hub.users.set_zones("j.martin", ["centre"] if n % 2 else ["gare"], Context())
    await log_in(tab, log, hub, "chef.dupont")
    await tab.wait_for_selector(".topbar .user-name")
    await hub.audit.async_flush()
    await open_admin(tab, "audit")
    assert await tab.locator(".admin-tabs button").all_inner_texts() == ["Audit", "Holds"]
    entries = tab.locator("tr.audit-entry")
    await entries.nth(49).wait_for()
    assert await entries.count() == 50
    seqs = [int(s) for s in await entries.evaluate_all("(rows) => rows.map((r) => r.dataset.seq)")]
    assert seqs == sorted(seqs, reverse=True)
    await tab.click("button.audit-more")
    await tab.wait_for_function("() => document.querySelectorAll('tr.audit-entry').length > 50")
    more = [int(s) for s in await entries.evaluate_all("(rows) => rows.map((r) => r.dataset.seq)")]
    assert more[:50] == seqs
    assert more == sorted(more, reverse=True)

    # Filter by user: only chef.dupont's entries, the login among them, with its address.
    await tab.fill(".audit-filters input[name=actor]", "chef.dupont")
    await tab.click(".audit-filters button[type=submit]")
    await tab.wait_for_function(
        "() => [...document.querySelectorAll('tr.audit-entry')]"
        ".every((r) => r.dataset.actor === 'user:chef.dupont')"
    )
    login = tab.locator("tr.audit-entry[data-action='auth.login']")
    assert await login.count() == 1
    assert await login.locator(".audit-client").inner_text() == "127.0.0.1"
    assert await tab.get_attribute(".audit-csv", "href") == (
        "/api/audit/export.csv?actor=user%3Achef.dupont"
    )

    # The chain is intact.
    await tab.click("button.audit-verify-run")
    verdict = tab.locator(".audit-verify[data-ok=true]")
    await verdict.wait_for()
    assert "Chain intact" in await verdict.inner_text()

    # The CSV link downloads the filtered rows.
    async with tab.expect_download() as waiting:
        await tab.click(".audit-csv")
    download = await waiting.value
    saved = tmp_path / "audit.csv"
    await download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert rows
    assert {r["actor"] for r in rows} == {"user:chef.dupont"}
    assert "auth.login" in {r["action"] for r in rows}

    # A time filter in Paris time: nothing from 2030 on yet; the CSV link follows it in UTC.
    await tab.fill(".audit-filters input[name=from]", "2030-07-01T12:00:00")
    await tab.click(".audit-filters button[type=submit]")
    await tab.wait_for_selector(".admin-audit td:text('No entry')")
    assert await tab.get_attribute(".audit-csv", "href") == (
        "/api/audit/export.csv?actor=user%3Achef.dupont&from=2030-07-01T10%3A00%3A00.000Z"
    )
    assert log.errors == []


async def test_holds_are_placed_and_released_from_the_admin_mode(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    assert hub.holds is not None
    await log_in(tab, log, hub, "chef.dupont")
    await open_admin(tab, "holds")
    await tab.wait_for_selector(".admin-holds td:text('No active hold')")
    await tab.click("button.hold-add")
    form = tab.locator("form.hold-form")
    await form.locator("input[name=camera][value=mairie]").check()
    await form.locator("input[name=reason]").fill("rixe devant la mairie")
    await form.locator("button[type=submit]").click()
    await form.locator("[data-field=reference] .field-error:text('Give the reference')").wait_for()
    await form.locator("input[name=reference]").fill("MC 2026-311")
    await form.locator("button[type=submit]").click()
    row = tab.locator("tr.hold[data-reference='MC 2026-311']")
    await row.wait_for()
    assert await row.locator(".hold-expiry").inner_text() == "until released"
    assert "0 B" in await row.locator(".hold-bytes").inner_text()  # nothing recorded here
    (hold,) = await hub.holds.active()
    assert hold.cameras == ("mairie",)
    assert hold.created_by == "user:chef.dupont"
    assert hold.end_ms - hold.start_ms == 3600 * 1000

    # Release: a reason is required, then the hold is gone from the list, released on the hub.
    await row.locator("button.hold-release-open").click()
    await row.locator("form.hold-release button[type=submit]").click()
    await tab.wait_for_selector(".admin-message:text('Give the reason for the release')")
    await row.locator("input[name=release_reason]").fill("pas de suite")
    await row.locator("form.hold-release button[type=submit]").click()
    await tab.wait_for_selector(".admin-holds td:text('No active hold')")
    released = await hub.holds.get(hold.id)
    assert released.released_by == "user:chef.dupont"
    assert released.release_reason == "pas de suite"
    assert log.errors == []


async def test_without_the_permissions_there_is_no_admin_mode_and_the_api_refuses(
    hub: Hub, page: tuple[Any, Any]
) -> None:
    tab, log = page
    await log_in(tab, log, hub, "j.martin")
    await tab.wait_for_selector(".topbar .user-name:text('j.martin')")
    assert await tab.locator(".mode[data-mode=admin]").count() == 0
    for path in ("/api/users", "/api/audit", "/api/audit/verify"):
        log.allow_refusal(path, 403)
        status = await tab.evaluate(f"fetch('{path}').then((r) => r.status)")
        assert status == 403, path
    # Going to #admin by address lands on the live wall instead.
    assert hub.http_url is not None
    await tab.goto(hub.http_url + "/#admin")
    await tab.wait_for_selector("button.mode[data-mode=live][aria-current=page]")
    assert log.errors == []
