"""The PullPoint loop: subscribe, long-poll PullMessages, renew, subscribe again after faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from zeep.exceptions import Fault

from cityhub_onvif.const import (
    EVENTS_AUTH_RETRY_S,
    EVENTS_RETRY_CAP_S,
    EVENTS_RETRY_FIRST_S,
    MIN_PULL_PERIOD_S,
    NS_PULLPOINT,
    PULL_MESSAGE_LIMIT,
    PULL_TIMEOUT_S,
    RENEW_FRACTION,
    SUBSCRIPTION_S,
    UNSUBSCRIBE_TIMEOUT_S,
)
from cityhub_onvif.errors import NETWORK_ERRORS, describe, is_auth_error
from cityhub_onvif.events import OnvifMessage, parse_notification


def _duration(seconds: float) -> str:
    return f"PT{int(seconds)}S"


class PullPointLoop:
    """Keeps one PullPoint subscription alive on a device and hands over what it pulls.

    Each subscription lives ``SUBSCRIPTION_S`` and is renewed at ``RENEW_FRACTION`` of it. A
    SOAP fault (the device forgot the subscription, it rebooted) or a network error ends the
    subscription; a new one is made after a wait that doubles from ``EVENTS_RETRY_FIRST_S``
    to ``EVENTS_RETRY_CAP_S`` while failures follow each other, and starts over once a
    subscription has worked. Refused credentials wait ``EVENTS_AUTH_RETRY_S``.
    """

    def __init__(
        self,
        device: Any,
        on_message: Callable[[OnvifMessage], None],
        logger: logging.Logger,
        timeout: float,
    ) -> None:
        self._device = device
        self._on_message = on_message
        self._logger = logger
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self.attempts = 0
        """Subscriptions tried so far, made or not (counters are for diagnostics and tests)."""
        self.subscriptions = 0
        """Subscriptions made so far."""
        self.messages = 0
        """Messages pulled so far."""
        self.pulls = 0
        """PullMessages answered so far."""

    async def async_run(self) -> None:
        """Run until cancelled; never returns."""
        delay = EVENTS_RETRY_FIRST_S
        failures = 0
        while True:
            pulls_before = self.pulls
            try:
                await self._async_subscription()
            except Fault as err:
                if is_auth_error(err):
                    self._logger.warning(
                        "Events refused: the camera rejects the credentials; check username "
                        "and password (next try in %.0f s)",
                        EVENTS_AUTH_RETRY_S,
                    )
                    await asyncio.sleep(EVENTS_AUTH_RETRY_S)
                    continue
                self._log_failure(failures, "subscription ended by the camera", err)
            except NETWORK_ERRORS as err:
                self._log_failure(failures, "camera unreachable for events", err)
            if self.pulls > pulls_before:
                delay, failures = EVENTS_RETRY_FIRST_S, 0
            failures += 1
            await asyncio.sleep(delay)
            delay = min(EVENTS_RETRY_CAP_S, delay * 2)

    def _log_failure(self, failures: int, what: str, err: BaseException) -> None:
        level = logging.WARNING if failures == 0 else logging.DEBUG
        self._logger.log(level, "Events: %s (%s); subscribing again", what, describe(err))

    async def _call(self, request: Any, timeout: float | None = None) -> Any:
        return await asyncio.wait_for(request, timeout or self._timeout)

    async def _async_subscription(self) -> None:
        """One subscription from creation until it fails (it raises) or the loop is cancelled."""
        device = self._device
        self.attempts += 1
        events = await device.create_events_service()
        result = await self._call(
            events.CreatePullPointSubscription(
                {"InitialTerminationTime": _duration(SUBSCRIPTION_S)}
            )
        )
        device.xaddrs[NS_PULLPOINT] = result.SubscriptionReference.Address._value_1
        pullpoint = await device.create_pullpoint_service()
        manager = await device.create_subscription_service("PullPointSubscription")
        self.subscriptions += 1
        self._logger.debug("Events: PullPoint subscription %d made", self.subscriptions)
        renew_at = self._loop.time() + SUBSCRIPTION_S * RENEW_FRACTION
        try:
            while True:
                if self._loop.time() >= renew_at:
                    await self._call(manager.Renew({"TerminationTime": _duration(SUBSCRIPTION_S)}))
                    renew_at = self._loop.time() + SUBSCRIPTION_S * RENEW_FRACTION
                started = self._loop.time()
                response = await self._call(
                    pullpoint.PullMessages(
                        {"Timeout": _duration(PULL_TIMEOUT_S), "MessageLimit": PULL_MESSAGE_LIMIT}
                    ),
                    PULL_TIMEOUT_S + self._timeout,
                )
                self.pulls += 1
                holders = getattr(response, "NotificationMessage", None) or []
                for holder in holders:
                    message = parse_notification(holder)
                    if message is not None:
                        self.messages += 1
                        self._on_message(message)
                elapsed = self._loop.time() - started
                if not holders and elapsed < MIN_PULL_PERIOD_S:
                    await asyncio.sleep(MIN_PULL_PERIOD_S - elapsed)
        finally:
            await self._unsubscribe(manager)

    async def _unsubscribe(self, manager: Any) -> None:
        """Tell the device to drop the subscription (a courtesy: it expires anyway)."""
        try:
            await asyncio.wait_for(manager.Unsubscribe(), UNSUBSCRIBE_TIMEOUT_S)
        except Fault:
            pass
        except NETWORK_ERRORS:
            pass
