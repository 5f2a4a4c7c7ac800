"""The event bus: attrs events, each with the Context that caused it; wildcard listeners."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from cityhub.api import Context
from cityhub.const import MATCH_ALL

_LOGGER = logging.getLogger(__name__)


@attrs.frozen
class Event:
    """Something that happened in the hub."""

    event_type: str
    data: Mapping[str, Any] = attrs.field(factory=dict)
    context: Context = attrs.field(factory=Context)
    time_fired: datetime = attrs.field(factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering (for the API and the event log)."""
        return {
            "event_type": self.event_type,
            "data": dict(self.data),
            "time_fired": self.time_fired.isoformat(timespec="milliseconds"),
            "context": {
                "id": self.context.id,
                "user": self.context.user,
                "automation": self.context.automation,
            },
        }


Listener = Callable[[Event], Awaitable[None] | None]


def _matches(pattern: str, event_type: str) -> bool:
    if pattern in (MATCH_ALL, event_type):
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


class EventBus:
    """Delivers events to listeners: exact type, ``domain.*`` prefix, or ``*`` for all.

    Plain callables run inline in the loop; coroutine functions run as tasks. A listener that
    raises is logged and the others still run.
    """

    def __init__(self) -> None:
        self._listeners: list[tuple[str, Listener]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach the loop that ``fire_threadsafe`` delivers to."""
        self._loop = loop

    def subscribe(self, event_type: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for matching events; returns a callable that unsubscribes."""
        entry = (event_type, listener)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    def async_fire(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> Event:
        """Fire an event from the loop; returns it."""
        event = Event(event_type, dict(data or {}), context or Context())
        for pattern, listener in list(self._listeners):
            if _matches(pattern, event_type):
                self._deliver(listener, event)
        return event

    def fire_threadsafe(
        self,
        event_type: str,
        data: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> None:
        """Fire an event from any thread (ingest threads use this)."""
        if self._loop is None:
            raise RuntimeError("event bus is not bound to a loop")
        self._loop.call_soon_threadsafe(self.async_fire, event_type, data, context)

    def _deliver(self, listener: Listener, event: Event) -> None:
        try:
            result = listener(event)
        except Exception:
            _LOGGER.exception("Listener %r failed on %s", listener, event.event_type)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Listener task failed", exc_info=task.exception())

    async def async_drain(self) -> None:
        """Wait for listener tasks still running (used at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
