"""Supervised tasks restart with exponential backoff and never take the loop down."""

from __future__ import annotations

import asyncio
import itertools

from cityhub.supervisor import Backoff, ReconnectBackoff, Supervisor


def test_backoff_doubles_caps_and_resets_after_healthy_run(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("cityhub.supervisor.time.monotonic", lambda: now[0])
    backoff = Backoff(first=1.0, cap=30.0, reset_after=60.0, jitter=0.0)
    backoff.started()
    delays = [backoff.next_delay() for _ in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.started()
    now[0] += 61.0
    assert backoff.next_delay() == 1.0


def test_reconnect_backoff_follows_the_outage(monkeypatch) -> None:
    now = [0.0]
    monkeypatch.setattr("cityhub.supervisor.time.monotonic", lambda: now[0])
    backoff = ReconnectBackoff(fraction=0.2, first=1.0, cap=30.0, reset_after=60.0, jitter=0.0)
    attempts = []
    while now[0] < 600:
        backoff.started()
        attempts.append(now[0])
        now[0] += backoff.next_delay()
    # retried every second at first, then a fifth of the outage so far, capped at 30 s
    assert attempts[:6] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(b - a <= max(1.0, 0.2 * a) + 1e-9 for a, b in itertools.pairwise(attempts))
    assert max(b - a for a, b in itertools.pairwise(attempts)) == 30.0
    # a camera back after a 10 s outage is retried at most 2.5 s after its return
    assert min(t for t in attempts if t >= 10.0) <= 12.5
    assert len(attempts) < 40  # not a retry storm: under 40 attempts in 10 minutes


def test_backoff_jitter_stays_within_bounds() -> None:
    backoff = Backoff(first=10.0, cap=30.0, jitter=0.2)
    first = [Backoff(first=10.0, cap=30.0, jitter=0.2).next_delay() for _ in range(200)]
    assert all(8.0 <= d <= 10.0 for d in first)
    assert len({round(d, 3) for d in first}) > 10
    assert backoff.next_delay() <= 12.0


async def test_failing_task_is_restarted_with_backoff(caplog) -> None:
    attempts: list[float] = []
    failures: list[tuple[str, float]] = []
    supervisor = Supervisor(lambda: Backoff(first=0.05, cap=0.2, jitter=0.0))
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def flaky() -> None:
        attempts.append(loop.time())
        if len(attempts) < 4:
            raise RuntimeError(f"boom {len(attempts)}")
        finished.set()

    supervisor.start("flaky", flaky, on_failure=lambda err, d: failures.append((str(err), d)))
    await asyncio.wait_for(finished.wait(), 5)

    assert [f[0] for f in failures] == ["boom 1", "boom 2", "boom 3"]
    assert [f[1] for f in failures] == [0.05, 0.1, 0.2]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.045
    assert gaps[2] >= 0.19
    assert supervisor.restarts["flaky"] == 3
    assert "Task flaky failed (RuntimeError: boom 1)" in caplog.text


async def test_cancel_by_prefix_leaves_other_tasks_running() -> None:
    supervisor = Supervisor()

    async def forever() -> None:
        await asyncio.Event().wait()

    supervisor.start("camera:a:events", forever)
    supervisor.start("camera:b:events", forever)
    await asyncio.sleep(0)
    assert await supervisor.async_cancel("camera:a:", timeout=1) == []
    assert supervisor.running() == ["camera:b:events"]
    await supervisor.async_cancel("", timeout=1)
    assert supervisor.running() == []
