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

EVENT_PTZ_LOCK_CHANGED: Final = "ptz.lock_changed"
"""A camera's PTZ control lock changed hands; data: camera_id, holder, priority, since,
previous_holder, previous_priority, cause (take, takeover, release, idle, tour)."""
EVENT_PTZ_MOVE_ENDED: Final = "ptz.move_ended"
"""A continuous PTZ move ended; data: camera_id, cause (stop, dead-man, command, takeover,
release, tour), moved_by (the holder whose move it was)."""
EVENT_PTZ_REFUSED: Final = "ptz.refused"
"""A PTZ command was refused because another holds the camera; data: camera_id, command,
holder, holder_priority, priority. The Context is the refused caller's."""
EVENT_PTZ_RETURNED_HOME: Final = "ptz.returned_home"
"""A PTZ camera went back home after inactivity; data: camera_id, preset (None: the
camera's own home position)."""
EVENT_PTZ_TOUR_CHANGED: Final = "ptz.tour_changed"
"""A tour started, paused, resumed or stopped; data: camera_id, tour, state, step."""

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

AUDIT_MOVE_BURST_GAP_S: Final = 5.0
"""The audit log ends a burst of ptz.move calls after this long (seconds) without one, when
no stop or dead-man ended it first (moves refused to a caller, say): a joystick repeats every
100-200 ms, so 5 s of silence means the operator let go."""

PTZ_COMMAND_TIMEOUT_S: Final = 10.0
"""Longest a PTZ driver call may take (seconds): calls of a camera run one at a time, so a
device that never answers must not hold back the dead-man's stop for ever."""
PTZ_MOVE_REFRESH_S: Final = 0.5
"""While a joystick repeats the same ptz.move, the driver is told again at most this often
(seconds): 2 device calls a second instead of 10, and a device-side move timeout of 1 s or
more (a second dead-man in the camera itself) never cuts a move that is kept alive."""
PTZ_STOP_RETRY_S: Final = 1.0
"""A dead-man stop the camera refused is tried again after this long (seconds), until it
succeeds: a runaway head is the worst PTZ failure."""
PTZ_TOUR_OFFLINE_RETRY_S: Final = 5.0
"""A tour whose camera is offline tries its step again this often (seconds), logging once:
a camera back from an outage resumes its patrol within 5 s."""

DATABASE_FILE: Final = "cityhub.db"
CACHE_DIR: Final = "cache"

SUB_STREAM_LINGER_S: Final = 30.0
"""How long a sub-stream nobody watches keeps being ingested (seconds): a wall that switches
layouts or pages reuses it instead of reconnecting to the camera."""
