"""Settings of the whole test run (tests/ and the bundled plugins' tests).

The suite runs under pytest-xdist with ``--dist loadfile`` (``pyproject.toml``): each test
file goes whole to one worker, so a module-scoped fixture (a network of namespaces, a
recorded clip) is set up once. Here the panel's browser tests (``tests/panel``) are one unit
more: every file there runs on the same worker, one after the other, so a single Chromium and
its hub run at a time, as their real-time checks (video playing, a PTZ head moving) need the
machine's attention.

A custom scheduler rather than ``xdist_group`` marks and ``--dist loadgroup``: with pytest 9.2
loadgroup silently ignores the marks (pytest-xdist issue 1386).

A test marked ``realtime`` checks pacing or latency against the wall clock with a tolerance
a busy machine can break (a live encoder's drift, a pre-roll to 100 ms). Under pytest-xdist
it runs alone: it waits for the test running on each other worker to end, and the other
workers wait for it before starting their next test (a lock file shared by the run's
workers, :class:`cityhub.testing.runlock.RunLock`). Its set-up, fixtures included, is inside
the lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from cityhub.testing.runlock import RunLock

BROWSER_TESTS = "tests/panel/"
"""Test files under this folder (relative to the root) run as one unit on one worker."""


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the browser tests' folder."""
    path = nodeid.split("::", 1)[0]
    return BROWSER_TESTS if path.startswith(BROWSER_TESTS) else path


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown when it is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with the browser tests' files as one unit."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SuiteScheduling(LoadFileScheduling):
        """Whole files to the workers, the browser tests' folder as one of them."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SuiteScheduling(config, log)


def run_lock(config: pytest.Config) -> RunLock | None:
    """The lock of this run's xdist workers (in their common temporary folder), or ``None``
    outside a worker."""
    if not hasattr(config, "workerinput") or not config.option.basetemp:
        return None
    return RunLock(Path(config.option.basetemp).parent)  # the workers' folders' parent


def is_realtime(item: pytest.Item | None) -> bool:
    """Whether ``item`` is marked ``realtime``."""
    return item is not None and item.get_closest_marker("realtime") is not None


class ExclusiveHold:
    """This worker's exclusive hold of the run lock, kept from one realtime test to the next
    one that follows it."""

    def __init__(self) -> None:
        self._stack: contextlib.ExitStack | None = None

    def take(self, lock: RunLock) -> None:
        """Hold ``lock`` exclusively unless this worker does already."""
        if self._stack is None:
            stack = contextlib.ExitStack()
            stack.enter_context(lock.hold(exclusive=True))
            self._stack = stack

    def release(self) -> None:
        """Let the other workers go on."""
        if self._stack is not None:
            self._stack.close()
            self._stack = None


_exclusive = ExclusiveHold()


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: the wait is not the test's time
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, Any, Any]:
    """Run a ``realtime`` test alone among the workers; any other test beside the others.

    A shared hold ends with its test (a realtime test waiting on another worker goes next);
    an exclusive one lasts while realtime tests follow one another on this worker.
    """
    lock = run_lock(item.config)
    if lock is None:
        return (yield)
    if not is_realtime(item):
        with lock.hold(exclusive=False):
            return (yield)
    _exclusive.take(lock)
    try:
        return (yield)
    finally:
        if not is_realtime(nextitem):
            _exclusive.release()
