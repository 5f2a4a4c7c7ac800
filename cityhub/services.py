"""The service registry: ``domain.name`` services, each with a schema; calls carry a Context."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import voluptuous as vol

from cityhub.api import Context
from cityhub.bus import EventBus
from cityhub.const import EVENT_SERVICE_CALLED

_LOGGER = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of the errors a service call can raise to its caller."""


class ServiceNotFoundError(ServiceError):
    """No service is registered under that name."""


class ServiceValidationError(ServiceError):
    """The call's data does not match the service's schema."""


@attrs.frozen
class ServiceCall:
    """One validated call: the service, its data and who made it."""

    domain: str
    service: str
    data: Mapping[str, Any]
    context: Context


Handler = Callable[[ServiceCall], Awaitable[Any]]


@attrs.frozen
class Service:
    """A registered service."""

    domain: str
    name: str
    handler: Handler
    schema: vol.Schema
    description: str = ""


class ServiceRegistry:
    """Holds the services; ``async_call`` validates, announces and runs a call."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._services: dict[str, Service] = {}

    def register(
        self,
        domain: str,
        name: str,
        handler: Handler,
        schema: vol.Schema,
        description: str = "",
    ) -> Callable[[], None]:
        """Register ``domain.name``; returns a callable that removes it."""
        key = f"{domain}.{name}"
        if key in self._services:
            raise ValueError(f"service {key} is already registered")
        self._services[key] = Service(domain, name, handler, schema, description)

        def unregister() -> None:
            self._services.pop(key, None)

        return unregister

    def has(self, domain: str, name: str) -> bool:
        """Whether ``domain.name`` is registered."""
        return f"{domain}.{name}" in self._services

    def all(self) -> list[Service]:
        """Every registered service, sorted by name."""
        return [self._services[k] for k in sorted(self._services)]

    async def async_call(
        self,
        domain: str,
        name: str,
        data: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> Any:
        """Validate ``data`` against the service's schema, fire ``service.called`` and run it."""
        key = f"{domain}.{name}"
        service = self._services.get(key)
        if service is None:
            raise ServiceNotFoundError(f"unknown service {key}")
        try:
            validated = service.schema(dict(data or {}))
        except vol.Invalid as err:
            raise ServiceValidationError(f"{key}: {humanize_invalid(err)}") from err
        context = context or Context()
        call = ServiceCall(domain, name, validated, context)
        self._bus.async_fire(
            EVENT_SERVICE_CALLED,
            {"domain": domain, "service": name, "data": validated},
            context,
        )
        _LOGGER.debug("Calling %s by %s", key, context.origin)
        return await service.handler(call)


def humanize_invalid(err: vol.Invalid) -> str:
    """One line per problem: ``key.path: message``."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    parts = []
    for error in errors:
        path = ".".join(str(p) for p in error.path)
        parts.append(f"{path}: {error.msg}" if path else error.msg)
    return "; ".join(parts)
