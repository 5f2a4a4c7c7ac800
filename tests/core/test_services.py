"""Services: validated by their schema, carrying the caller's Context, announced on the bus."""

from __future__ import annotations

import pytest
import voluptuous as vol

from cityhub.api import Context
from cityhub.bus import Event, EventBus
from cityhub.const import EVENT_SERVICE_CALLED
from cityhub.services import (
    ServiceCall,
    ServiceNotFoundError,
    ServiceRegistry,
    ServiceValidationError,
)

SCHEMA = vol.Schema({vol.Required("camera_id"): str, vol.Optional("speed", default=0.5): float})


async def test_call_is_validated_and_carries_context() -> None:
    bus = EventBus()
    registry = ServiceRegistry(bus)
    calls: list[ServiceCall] = []
    announced: list[Event] = []
    bus.subscribe(EVENT_SERVICE_CALLED, announced.append)

    async def handler(call: ServiceCall) -> str:
        calls.append(call)
        return "done"

    registry.register("ptz", "move", handler, SCHEMA)
    ctx = Context(user="agent.martin")
    result = await registry.async_call("ptz", "move", {"camera_id": "c1"}, ctx)

    assert result == "done"
    assert calls[0].data == {"camera_id": "c1", "speed": 0.5}
    assert calls[0].context is ctx
    assert announced[0].data == {"domain": "ptz", "service": "move", "data": calls[0].data}
    assert announced[0].context is ctx


async def test_invalid_data_is_refused_with_the_key() -> None:
    registry = ServiceRegistry(EventBus())

    async def handler(call: ServiceCall) -> None:
        raise AssertionError("must not run")

    registry.register("ptz", "move", handler, SCHEMA)
    with pytest.raises(ServiceValidationError, match=r"ptz\.move: speed: expected float"):
        await registry.async_call("ptz", "move", {"camera_id": "c1", "speed": "fast"})
    with pytest.raises(ServiceValidationError, match="camera_id: required key not provided"):
        await registry.async_call("ptz", "move", {})


async def test_unknown_service_and_duplicates() -> None:
    registry = ServiceRegistry(EventBus())

    async def handler(call: ServiceCall) -> None:
        return None

    unregister = registry.register("a", "b", handler, vol.Schema({}))
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", "b", handler, vol.Schema({}))
    assert registry.has("a", "b")
    unregister()
    assert not registry.has("a", "b")
    with pytest.raises(ServiceNotFoundError, match=r"unknown service a\.b"):
        await registry.async_call("a", "b")
