"""Defaults and tunables of the ONVIF driver, each with its unit and why."""

from __future__ import annotations

from typing import Final

DEFAULT_PORT: Final = 80
"""ONVIF's device service listens on the camera's HTTP port."""
DEFAULT_TIMEOUT_S: Final = 10.0
"""How long one ONVIF request may take (seconds): cameras answer in well under a second, but a
busy one on a loaded uplink can take a few; past ten it is not coming."""
SNAPSHOT_MAX_BYTES: Final = 16 * 1024 * 1024
"""Largest snapshot accepted (bytes): a 4K JPEG is 1 to 3 MB; anything bigger is not a JPEG."""

SUBSCRIPTION_S: Final = 60
"""Lifetime asked for a PullPoint subscription (seconds): short, so a subscription the hub lost
(restart, network cut) expires on the camera within a minute instead of filling its few slots."""
RENEW_FRACTION: Final = 0.5
"""Renew a subscription after this fraction of its lifetime: half leaves time for one long poll
and one slow request before it expires."""
PULL_TIMEOUT_S: Final = 10
"""Long-poll time of PullMessages (seconds): the camera answers at once when an event comes, so
this only sets how often an idle camera is asked (6 requests a minute)."""
PULL_MESSAGE_LIMIT: Final = 100
"""Most messages taken per PullMessages: a burst larger than this waits for the next poll."""
MIN_PULL_PERIOD_S: Final = 0.5
"""A PullMessages that comes back empty sooner than this (seconds) is from a device ignoring the
long poll; the loop waits out the rest so it never turns into a tight loop."""
EVENTS_RETRY_FIRST_S: Final = 1.0
"""First wait (seconds) before subscribing again after the camera dropped the subscription or
could not be reached: a camera reboot costs about a second of events after it is back."""
EVENTS_RETRY_CAP_S: Final = 30.0
"""Longest wait (seconds) between subscription attempts while the camera stays unreachable."""
EVENTS_AUTH_RETRY_S: Final = 300.0
"""Wait (seconds) after the camera refused the credentials for events: retrying sooner cannot
help and can lock the account on the camera."""
UNSUBSCRIBE_TIMEOUT_S: Final = 1.0
"""How long stopping waits for the courtesy Unsubscribe (seconds); the subscription expires on
the camera by itself anyway."""

NS_MEDIA: Final = "http://www.onvif.org/ver10/media/wsdl"
NS_MEDIA2: Final = "http://www.onvif.org/ver20/media/wsdl"
NS_PTZ: Final = "http://www.onvif.org/ver20/ptz/wsdl"
NS_EVENTS: Final = "http://www.onvif.org/ver10/events/wsdl"
NS_PULLPOINT: Final = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
NS_SCHEMA: Final = "http://www.onvif.org/ver10/schema"
