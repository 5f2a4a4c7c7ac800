"""The PullPoint loop against the simulator, with short lifetimes so it shows in seconds:
subscriptions renewed before they expire, a subscription the camera forgot made again, and
waits that grow while the camera is away (never a tight loop)."""

from __future__ import annotations

import asyncio

import pytest
from onvif_support import DriverFactory, SimFactory, wait_until

from cityhub.api import CameraEvent
from cityhub_onvif import pullpoint


@pytest.fixture
def short_lifetimes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Subscriptions of 3 s renewed every second, with 1 s long polls."""
    monkeypatch.setattr(pullpoint, "SUBSCRIPTION_S", 3)
    monkeypatch.setattr(pullpoint, "RENEW_FRACTION", 1 / 3)
    monkeypatch.setattr(pullpoint, "PULL_TIMEOUT_S", 1)


async def motion_arrives(sim, events: list[CameraEvent]) -> None:  # type: ignore[no-untyped-def]
    events.clear()
    sim.fire_motion(active=True)
    await wait_until(lambda: any(e.event_type == "camera.motion" for e in events), timeout=5)


@pytest.mark.usefixtures("short_lifetimes")
async def test_the_subscription_is_renewed_before_it_expires(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    sim = await make_sim()
    driver = await make_driver(sim)
    events: list[CameraEvent] = []
    task = asyncio.create_task(driver.run_events(events.append))
    try:
        await wait_until(lambda: sim.calls["Subscription.Renew"] >= 4, timeout=15)
        await motion_arrives(sim, events)  # 4 s on, past the 3 s first asked for
        assert sim.calls["Events.CreatePullPointSubscription"] == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.usefixtures("short_lifetimes")
async def test_a_subscription_the_camera_forgot_is_made_again(
    make_sim: SimFactory, make_driver: DriverFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pullpoint, "RENEW_FRACTION", 100.0)  # never renewed: it expires
    sim = await make_sim()
    driver = await make_driver(sim)
    events: list[CameraEvent] = []
    task = asyncio.create_task(driver.run_events(events.append))
    try:
        await wait_until(lambda: sim.calls["Events.CreatePullPointSubscription"] >= 2, timeout=15)
        await motion_arrives(sim, events)
        assert driver.pullpoint is not None
        assert driver.pullpoint.subscriptions >= 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_absent_camera_is_retried_ever_more_slowly(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    sim = await make_sim()
    driver = await make_driver(sim, timeout=2)
    events: list[CameraEvent] = []
    task = asyncio.create_task(driver.run_events(events.append))
    try:
        await wait_until(lambda: sim.calls["Subscription.PullMessages"] >= 1)
        await sim.go_offline()
        assert driver.pullpoint is not None
        attempts = driver.pullpoint.attempts
        await asyncio.sleep(4.5)
        # Waits of 1, 2 and 4 s: three tries at most in 4.5 s, where a tight loop makes hundreds.
        assert 1 <= driver.pullpoint.attempts - attempts <= 3
        await sim.go_online()
        await wait_until(lambda: sim.calls["Events.CreatePullPointSubscription"] >= 2, timeout=15)
        await motion_arrives(sim, events)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
