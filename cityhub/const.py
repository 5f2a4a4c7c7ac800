"""Event names, service names and tunables of the core, each with its unit and why."""

from __future__ import annotations

from typing import Final

EVENT_CAMERA_STATE_CHANGED: Final = "camera.state_changed"
"""A camera's state or recording flag changed; data: camera_id, old_state, new_state."""
EVENT_CAMERA_ONLINE: Final = "camera.online"
EVENT_CAMERA_OFFLINE: Final = "camera.offline"
EVENT_STREAM_ERROR: Final = "stream.error"
EVENT_SERVICE_CALLED: Final = "service.called"
"""Every validated service call; the audit trail is written from here, in one place."""
EVENT_HUB_STARTED: Final = "hub.started"
EVENT_HUB_STOPPING: Final = "hub.stopping"
EVENT_TASK_FAILED: Final = "hub.task_failed"
EVENT_CAMERA_CLOCK_DRIFT: Final = "camera.clock_drift"
"""A camera's clock drifted past CLOCK_DRIFT_THRESHOLD_S; data: camera_id, drift_s, threshold_s."""
ATTR_CLOCK_DRIFT_S: Final = "clock_drift_s"
"""State attribute: the camera's clock minus the hub's (seconds, positive when it runs ahead)."""

MATCH_ALL: Final = "*"

BACKOFF_FIRST_S: Final = 1.0
"""First retry after a failure (seconds): short, so a brief glitch costs about a second of video."""
BACKOFF_CAP_S: Final = 30.0
"""Longest wait between retries (seconds): a dead camera is retried twice a minute, no storm."""
BACKOFF_RESET_AFTER_S: Final = 60.0
"""A run this long (seconds) counts as healthy: the next failure starts again at the first delay."""
BACKOFF_JITTER: Final = 0.2
"""Each delay is shortened by up to 20 % so 200 cameras that failed together don't retry
together (never lengthened, so the first retry comes within BACKOFF_FIRST_S)."""
RECONNECT_OUTAGE_FRACTION: Final = 0.15
"""A camera link is retried after 15 % of the outage so far (between BACKOFF_FIRST_S and
BACKOFF_CAP_S): a camera back after 10 s loses at most 1.5 s more, one down for hours is tried
twice a minute."""

AUTH_RETRY_S: Final = 300.0
"""Wait after a camera refused the credentials (seconds): the same wrong password will not start
working by itself, and retrying every few seconds can lock the account on the device (many
cameras lock after 3 to 5 failures); every 5 minutes still notices a password fixed on the
camera side within a shift."""
CLOCK_CHECK_INTERVAL_S: Final = 600.0
"""How often the core reads a camera's clock (seconds): cameras drift by seconds a day at
worst, so ten minutes catches a drift long before it matters, for one tiny request."""
CLOCK_DRIFT_THRESHOLD_S: Final = 5.0
"""Clock drift that raises camera.clock_drift (seconds): well above the 1 s resolution of camera
clocks (ONVIF gives whole seconds) plus a request's round trip, and small enough that times
burnt into footage still match the recording index when it is produced as evidence."""

STAGE_TIMEOUT_S: Final = 3.0
"""How long one shutdown stage may take (seconds) before its tasks are abandoned."""
STREAM_JOIN_TIMEOUT_S: Final = 2.0
"""How long stopping waits for an ingest thread (seconds); readers return within ~1 s of close."""

DATABASE_FILE: Final = "cityhub.db"
CACHE_DIR: Final = "cache"
