"""What can go wrong talking to an ONVIF device, sorted into what the hub does about it."""

from __future__ import annotations

import asyncio

import aiohttp
from zeep.exceptions import Fault, TransportError, XMLParseError

from cityhub_onvif.client import ONVIFAuthError, ONVIFError

NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    aiohttp.ClientError,
    TransportError,
    XMLParseError,
    ONVIFError,
)
"""Errors of the link or of a device that is starting: retried with backoff."""

_AUTH_SUBCODES = frozenset({"NotAuthorized", "FailedAuthentication", "InvalidSecurity"})
"""SOAP fault subcodes devices use for refused credentials (ONVIF Core, WS-Security)."""


class OnvifError(Exception):
    """A device answered but not as ONVIF says it should (bad snapshot, missing field)."""


class CapabilityNotSupportedError(NotImplementedError):
    """The device lacks what was asked (no PTZ head, no Media2 masks, no home position).

    The driver class implements every capability protocol so that the core finds them, and
    each device tells at set-up which it really has (``OnvifCamera.supported``); a call to one
    it lacks raises this error, whose message names the missing ONVIF feature.
    """


def _local_name(qname: object) -> str:
    text = getattr(qname, "localname", None) or str(qname)
    return text.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def is_auth_error(err: BaseException) -> bool:
    """Whether ``err`` says the device refused the credentials."""
    if isinstance(err, ONVIFAuthError):
        return True
    if isinstance(err, TransportError):
        return bool(err.status_code == 401)
    if isinstance(err, Fault):
        subcodes = {_local_name(code) for code in (err.subcodes or [])}
        if subcodes & _AUTH_SUBCODES:
            return True
        message = (err.message or "").lower()
        return "not authorized" in message or "authentication" in message
    return False


def describe(err: BaseException) -> str:
    """A short description of ``err`` for a log line or a camera's reason (no credentials)."""
    if isinstance(err, Fault):
        subcodes = ", ".join(_local_name(code) for code in (err.subcodes or []))
        detail = f" ({subcodes})" if subcodes else ""
        return f"SOAP fault{detail}: {err.message}"
    if isinstance(err, TimeoutError | asyncio.TimeoutError):
        return "no answer in time"
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}"
