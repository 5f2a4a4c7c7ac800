"""Supervised tasks: a task that raises is logged, isolated and restarted with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from cityhub.const import (
    BACKOFF_CAP_S,
    BACKOFF_FIRST_S,
    BACKOFF_JITTER,
    BACKOFF_RESET_AFTER_S,
    RECONNECT_OUTAGE_FRACTION,
)

_LOGGER = logging.getLogger(__name__)


class Backoff:
    """Exponential backoff with jitter, reset after a healthy run (see the BACKOFF_* tunables)."""

    def __init__(
        self,
        first: float = BACKOFF_FIRST_S,
        cap: float = BACKOFF_CAP_S,
        reset_after: float = BACKOFF_RESET_AFTER_S,
        jitter: float = BACKOFF_JITTER,
    ) -> None:
        self.first = first
        self.cap = cap
        self.reset_after = reset_after
        self.jitter = jitter
        self.failures = 0
        self._started = time.monotonic()

    def started(self) -> None:
        """Mark the start of an attempt (to judge whether it ran long enough to be healthy)."""
        self._started = time.monotonic()

    def next_delay(self) -> float:
        """Record a failure and return how long to wait (seconds) before the next attempt."""
        if time.monotonic() - self._started >= self.reset_after:
            self.failures = 0
        delay = min(self.cap, self.first * (2**self.failures))
        self.failures += 1
        return self._jittered(delay)

    def _jittered(self, delay: float) -> float:
        """``delay`` shortened by up to ``jitter`` (never lengthened: the first retry stays within
        ``first``, and cameras that failed together spread out)."""
        factor: float = 1.0 - random.uniform(0.0, self.jitter)
        return delay * factor


class ReconnectBackoff(Backoff):
    """Backoff for a camera link: each wait is a fraction of the outage so far (at least
    ``first``, at most ``cap``), so the wait grows geometrically while the camera stays
    unreachable, yet a camera back after an outage of T seconds is reconnected within about
    ``fraction`` x T of its return, and the gap in the recording stays close to the outage.
    """

    def __init__(self, fraction: float = RECONNECT_OUTAGE_FRACTION, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.fraction = fraction
        self._outage_started = time.monotonic()

    def next_delay(self) -> float:
        """Record a failure and return how long to wait (seconds) before reconnecting."""
        now = time.monotonic()
        if self.failures == 0 or now - self._started >= self.reset_after:
            self.failures = 0
            self._outage_started = now
        self.failures += 1
        delay = min(self.cap, max(self.first, self.fraction * (now - self._outage_started)))
        return self._jittered(delay)


class Supervisor:
    """Runs named long-lived coroutines; restarts each one that raises, after a backoff delay."""

    def __init__(self, backoff_factory: Callable[[], Backoff] = Backoff) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff_factory = backoff_factory
        self.restarts: dict[str, int] = {}

    def start(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        *,
        on_failure: Callable[[BaseException, float], None] | None = None,
    ) -> None:
        """Run ``factory()`` as task ``name`` until it returns, restarting it when it raises.

        ``on_failure(error, delay)`` is called before each restart (for states and events).
        """
        if name in self._tasks and not self._tasks[name].done():
            raise ValueError(f"task {name} is already running")
        self._tasks[name] = asyncio.create_task(
            self._run(name, factory, on_failure), name=f"cityhub:{name}"
        )

    async def _run(
        self,
        name: str,
        factory: Callable[[], Awaitable[None]],
        on_failure: Callable[[BaseException, float], None] | None,
    ) -> None:
        backoff = self._backoff_factory()
        while True:
            backoff.started()
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                delay = backoff.next_delay()
                self.restarts[name] = self.restarts.get(name, 0) + 1
                _LOGGER.error(
                    "Task %s failed (%s: %s); restarting in %.1f s",
                    name,
                    type(err).__name__,
                    err,
                    delay,
                    exc_info=backoff.failures == 1 or _LOGGER.isEnabledFor(logging.DEBUG),
                )
                if on_failure is not None:
                    try:
                        on_failure(err, delay)
                    except Exception:
                        _LOGGER.exception("Failure callback of task %s failed", name)
                await asyncio.sleep(delay)
            else:
                return

    def running(self) -> list[str]:
        """Names of the tasks still running."""
        return [name for name, task in self._tasks.items() if not task.done()]

    async def async_cancel(self, prefix: str = "", timeout: float | None = None) -> list[str]:
        """Cancel the tasks whose name starts with ``prefix``; returns those that did not end."""
        tasks = {n: t for n, t in self._tasks.items() if n.startswith(prefix) and not t.done()}
        for task in tasks.values():
            task.cancel()
        if not tasks:
            return []
        _done, pending = await asyncio.wait(tasks.values(), timeout=timeout)
        for name in list(tasks):
            if tasks[name].done():
                self._tasks.pop(name, None)
        return [n for n, t in tasks.items() if t in pending]
