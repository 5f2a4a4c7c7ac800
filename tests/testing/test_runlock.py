"""The run lock of the test kit: shared holds together, an exclusive one alone and not starved.

Threads stand in for the test run's processes: ``flock`` locks belong to each opening of the
file, so two threads opening it conflict exactly as two processes do.
"""

from __future__ import annotations

import threading
from pathlib import Path

from cityhub.testing.runlock import RunLock

WAIT_S = 10.0


def test_shared_holds_run_together(tmp_path: Path) -> None:
    lock = RunLock(tmp_path)
    inside = threading.Barrier(2, timeout=WAIT_S)

    def shared() -> None:
        with lock.hold(exclusive=False):
            inside.wait()  # breaks (BrokenBarrierError) unless both are inside at once

    other = threading.Thread(target=shared)
    other.start()
    shared()
    other.join(WAIT_S)
    assert not inside.broken


def test_an_exclusive_hold_waits_for_a_shared_one_and_blocks_later_ones(tmp_path: Path) -> None:
    lock = RunLock(tmp_path)
    order: list[str] = []
    exclusive_waiting = threading.Event()

    def exclusive() -> None:
        exclusive_waiting.set()
        with lock.hold(exclusive=True):
            order.append("exclusive")

    def late_shared() -> None:
        with lock.hold(exclusive=False):
            order.append("late shared")

    with lock.hold(exclusive=False):
        writer = threading.Thread(target=exclusive)
        writer.start()
        assert exclusive_waiting.wait(WAIT_S)
        writer.join(0.3)
        assert writer.is_alive(), "the exclusive hold did not wait for the shared one"
        reader = threading.Thread(target=late_shared)
        reader.start()
        reader.join(0.3)
        assert reader.is_alive(), "a later shared hold went ahead of the waiting exclusive one"
        order.append("first shared")
    writer.join(WAIT_S)
    reader.join(WAIT_S)
    assert order == ["first shared", "exclusive", "late shared"]
