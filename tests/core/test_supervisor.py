"""Supervised tasks restart with exponential backoff and never take the loop down."""

from __future__ import annotations

import asyncio
import itertools

from cityhub.supervisor import Backoff, Supervisor


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


def test_backoff_jitter_stays_within_bounds() -> None:
    backoff = Backoff(first=10.0, cap=30.0, jitter=0.2)
    first = [Backoff(first=10.0, cap=30.0, jitter=0.2).next_delay() for _ in range(200)]
    assert all(8.0 <= d <= 12.0 for d in first)
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
