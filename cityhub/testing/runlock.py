"""A readers-writer lock between the processes of a test run (e.g. pytest-xdist's workers).

    lock = RunLock(folder)
    with lock.hold(exclusive=False):  # beside every other shared hold
        ...
    with lock.hold(exclusive=True):  # alone: waits for the shared holds to end
        ...

Two files in ``folder``: the lock itself (``flock``, shared or exclusive) and a gate an
exclusive hold keeps while it waits, so that later shared holds queue behind it instead of
starving it.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RunLock"]


class RunLock:
    """Shared and exclusive holds of one lock, between processes and threads alike."""

    def __init__(self, folder: Path) -> None:
        self.gate = folder / "run.gate"
        self.lock = folder / "run.lock"

    @contextlib.contextmanager
    def hold(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the lock for the block: alone when ``exclusive``, else beside other shared
        holds; blocks until it can."""
        with self.gate.open("a") as gate, self.lock.open("a") as lock:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            finally:
                if not exclusive:
                    fcntl.flock(gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
                if exclusive:
                    fcntl.flock(gate, fcntl.LOCK_UN)
