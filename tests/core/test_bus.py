"""The event bus: exact, prefix and wildcard listeners, unsubscribe, isolation of failures."""

from __future__ import annotations

import asyncio
import threading

from cityhub.api import Context
from cityhub.bus import Event, EventBus


async def test_exact_prefix_and_wildcard_listeners() -> None:
    bus = EventBus()
    seen: dict[str, list[str]] = {"exact": [], "prefix": [], "all": []}
    bus.subscribe("camera.motion", lambda e: seen["exact"].append(e.event_type))
    bus.subscribe("camera.*", lambda e: seen["prefix"].append(e.event_type))
    bus.subscribe("*", lambda e: seen["all"].append(e.event_type))

    bus.async_fire("camera.motion", {"camera_id": "c1"})
    bus.async_fire("camera.offline")
    bus.async_fire("storage.low")

    assert seen["exact"] == ["camera.motion"]
    assert seen["prefix"] == ["camera.motion", "camera.offline"]
    assert seen["all"] == ["camera.motion", "camera.offline", "storage.low"]


async def test_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    seen: list[Event] = []
    unsubscribe = bus.subscribe("x", seen.append)
    bus.async_fire("x")
    unsubscribe()
    unsubscribe()  # a second call is harmless
    bus.async_fire("x")
    assert len(seen) == 1


async def test_event_carries_context_and_data() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe("ptz.move", seen.append)
    ctx = Context(user="agent.dupont")
    returned = bus.async_fire("ptz.move", {"camera_id": "c1"}, ctx)
    assert seen == [returned]
    assert returned.context.user == "agent.dupont"
    assert returned.context.origin == "user:agent.dupont"
    assert returned.as_dict()["data"] == {"camera_id": "c1"}


async def test_failing_listener_does_not_stop_others(caplog) -> None:
    bus = EventBus()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe("x", broken)
    bus.subscribe("x", lambda e: seen.append("ok"))
    bus.async_fire("x")
    assert seen == ["ok"]
    assert "listener bug" in caplog.text


async def test_coroutine_listeners_run_as_tasks() -> None:
    bus = EventBus()
    done = asyncio.Event()

    async def listener(event: Event) -> None:
        await asyncio.sleep(0)
        done.set()

    bus.subscribe("x", listener)
    bus.async_fire("x")
    await asyncio.wait_for(done.wait(), 1)
    await bus.async_drain()


async def test_fire_threadsafe_from_another_thread() -> None:
    bus = EventBus()
    bus.bind(asyncio.get_running_loop())
    got = asyncio.Event()
    threads: list[str] = []

    def listener(event: Event) -> None:
        threads.append(threading.current_thread().name)
        got.set()

    bus.subscribe("camera.online", listener)
    thread = threading.Thread(target=bus.fire_threadsafe, args=("camera.online",), name="ingest")
    thread.start()
    thread.join()
    await asyncio.wait_for(got.wait(), 1)
    assert threads == [threading.main_thread().name]
