"""Voluptuous schemas of the core sections, with validators whose messages an administrator reads.

Every validator here raises :class:`Problem` with the final text, "what is wrong (what is
allowed)"; :mod:`cityhub.config.messages` translates voluptuous' own errors (a missing or
unknown key, a mapping where a list belongs) and those of plugin schemas.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import voluptuous as vol

from cityhub.api import CameraKind
from cityhub.config.loader import suggest
from cityhub.model import (
    DEFAULT_CRITICAL_FREE_PERCENT,
    DEFAULT_HTTP_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_MIN_FREE_PERCENT,
    DEFAULT_MIN_RETENTION_DAYS,
    DEFAULT_POST_ROLL_S,
    DEFAULT_PRE_ROLL_S,
    DEFAULT_PTZ_DEADMAN_S,
    DEFAULT_PTZ_LOCK_TIMEOUT_S,
    DEFAULT_PURGE_INTERVAL_S,
    DEFAULT_SEGMENT_SECONDS,
    MAX_PTZ_DEADMAN_S,
    MAX_PTZ_LOCK_TIMEOUT_S,
    MAX_RETENTION_DAYS,
    MAX_RETURN_HOME_AFTER_S,
    MAX_ROLL_S,
    MAX_SEGMENT_SECONDS,
    MAX_TOUR_DWELL_S,
    MIN_PTZ_DEADMAN_S,
    MIN_SEGMENT_SECONDS,
    MIN_TOUR_DWELL_S,
    Permission,
    RecordingMode,
)

Validator = Callable[[Any], Any]

DEFAULT_HUB_NAME = "cityhub"
DEFAULT_TIME_ZONE = "Europe/Paris"
DEFAULT_DATA_DIR = "data"
DEFAULT_STORAGE_BACKEND = "local"
EMPLACEMENT_KINDS = ("mast", "wall", "building", "other")
DEFAULT_EMPLACEMENT_KIND = "mast"

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_DIGITS = re.compile(r"[+-]?[0-9]+")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class Problem(vol.Invalid):
    """A validation failure whose message is already written for the administrator."""


def describe(value: Any) -> str:
    """How a value found in YAML is named in messages: ``a list``, ``the text 'x'``..."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, datetime):
        return f"the date and time {value.isoformat(sep=' ')}"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a value that could not be read"


def as_text(value: Any) -> str | None:
    """``value`` as a name or id: text as is, whole numbers as text, anything else ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def text(value: Any) -> str:
    """Any text; numbers are taken as text (``order: 2024-117`` or ``order: 117``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise Problem(f"expected text (got {describe(value)})")
    return value


def name(value: Any) -> str:
    """A name or reference: non-empty text, or a whole number taken as text."""
    found = as_text(value)
    if found is None:
        raise Problem(f"expected a name (got {describe(value)})")
    if not found.strip():
        raise Problem("expected a name (got an empty text)")
    return found


def slug(value: Any) -> str:
    """An id: lowercase letters, digits, '-' and '_', starting with a letter or digit."""
    found = name(value)
    if not _SLUG.fullmatch(found):
        raise Problem(
            f"{found!r} is not a valid id (use lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit)"
        )
    return found


def one_of(choices: Sequence[str]) -> Validator:
    """A validator accepting exactly one of ``choices``."""
    listed = ", ".join(choices)

    def validate(value: Any) -> str:
        found = as_text(value)
        if found is None or found not in choices:
            shown = repr(found) if found is not None else describe(value)
            hint = suggest(found, choices) if found is not None else ""
            raise Problem(f"{shown} is not allowed (one of: {listed}{hint})")
        return found

    return validate


def _whole_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    raise Problem(f"expected a whole number (got {describe(value)})")


def integer(minimum: int, maximum: int | None = None) -> Validator:
    """A validator of whole numbers within ``minimum..maximum`` (text of digits accepted)."""
    allowed = f"{minimum}..{maximum}" if maximum is not None else f"at least {minimum}"

    def validate(value: Any) -> int:
        number = _whole_number(value)
        if number < minimum or (maximum is not None and number > maximum):
            raise Problem(f"{number} is out of range ({allowed})")
        return number

    return validate


def port(value: Any) -> int:
    """A TCP port, 1..65535, or 0 for any free port (chosen when the hub starts; for tests)."""
    number = _whole_number(value)
    if not 0 <= number <= 65535:
        raise Problem(f"{number} is out of range (1..65535, or 0 for any free port)")
    return number


def retention_days(value: Any) -> int:
    """Days footage is kept: 1..30, the ceiling set by law (CSI L252-5)."""
    days = _whole_number(value)
    if days > MAX_RETENTION_DAYS:
        raise Problem(
            f"{days} is above the legal maximum of {MAX_RETENTION_DAYS} days "
            f"(set 1..{MAX_RETENTION_DAYS}; Code de la sécurité intérieure, art. L252-5)"
        )
    if days < 1:
        raise Problem(f"{days} is below the minimum of 1 day (set 1..{MAX_RETENTION_DAYS})")
    return days


def coordinate(limit: float) -> Validator:
    """A validator of decimal degrees within ``-limit..limit``."""

    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise Problem(f"expected a number of degrees (got {describe(value)})")
        try:
            degrees = float(value)
        except ValueError:
            raise Problem(f"expected a number of degrees (got {describe(value)})") from None
        if not -limit <= degrees <= limit:
            raise Problem(f"{value} is out of range (-{limit:g}..{limit:g})")
        return degrees

    return validate


def number(minimum: float, maximum: float, unit: str) -> Validator:
    """A validator of a decimal number within ``minimum..maximum`` (``unit`` in messages)."""

    def validate(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise Problem(f"expected a number of {unit} (got {describe(value)})")
        try:
            result = float(value)
        except ValueError:
            raise Problem(f"expected a number of {unit} (got {describe(value)})") from None
        if not minimum <= result <= maximum:
            raise Problem(f"{value} is out of range ({minimum:g}..{maximum:g} {unit})")
        return result

    return validate


def seconds(maximum: float) -> Validator:
    """A validator of a duration in seconds, ``0..maximum`` (decimals allowed)."""
    return number(0, maximum, "seconds")


def boolean(value: Any) -> bool:
    """``true`` or ``false`` (``yes``/``no``, ``on``/``off`` as text too, for ``!env_var``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Problem(f"expected true or false (got {describe(value)})")


def a_date(value: Any) -> date:
    """A calendar date written ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        raise Problem(f"expected a date like 2024-03-31, without a time (got {describe(value)})")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Problem(f"expected a date like 2024-03-31 (got {describe(value)})")


def time_zone(value: Any) -> str:
    """An IANA time zone name known to this system, such as ``Europe/Paris``."""
    found = name(value)
    try:
        zoneinfo.ZoneInfo(found)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = suggest(found, sorted(zoneinfo.available_timezones()))
        raise Problem(
            f"unknown time zone {found!r} (an IANA name such as 'Europe/Paris'{hint})"
        ) from None
    return found


def mapping(value: Any) -> dict[Any, Any]:
    """A mapping of keys to values; an empty value is an empty mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Problem(f"expected a mapping of keys to values (got {describe(value)})")
    return value


def listing(item: Validator) -> Validator:
    """A validator of a list whose items each pass ``item``; an empty value is an empty list."""
    schema = vol.Schema([item])

    def validate(value: Any) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise Problem(f"expected a list (got {describe(value)})")
        result: list[Any] = schema(value)
        return result

    return validate


def _dates(reference_key: str) -> dict[Any, Validator]:
    return {
        vol.Required(reference_key): text,
        vol.Required("date"): a_date,
        vol.Required("expires"): a_date,
    }


HUB_SCHEMA = vol.Schema(
    {
        vol.Optional("name", default=DEFAULT_HUB_NAME): text,
        vol.Optional("time_zone", default=DEFAULT_TIME_ZONE): time_zone,
        vol.Optional("data_dir", default=DEFAULT_DATA_DIR): text,
    }
)


def _tls_pair(http: dict[str, Any]) -> dict[str, Any]:
    given = [key for key in ("tls_certificate", "tls_key") if key in http]
    if len(given) == 1:
        missing = "tls_key" if given[0] == "tls_certificate" else "tls_certificate"
        raise Problem(
            f"{given[0]} is set but {missing} is not: give both (PEM files) to serve HTTPS, "
            f"or neither",
            path=[given[0]],
        )
    return http


HTTP_SCHEMA = vol.Schema(
    vol.All(
        vol.Schema(
            {
                vol.Optional("host", default=DEFAULT_HTTP_HOST): name,
                vol.Optional("port", default=DEFAULT_HTTP_PORT): port,
                vol.Optional("tls_certificate"): text,
                vol.Optional("tls_key"): text,
            }
        ),
        _tls_pair,
    )
)


def _critical_under_high_water(storage: dict[str, Any]) -> dict[str, Any]:
    if storage["critical_free_percent"] > storage["min_free_percent"]:
        raise Problem(
            f"{storage['critical_free_percent']:g} is above min_free_percent "
            f"({storage['min_free_percent']:g}): the critical mark must be the lower one",
            path=["critical_free_percent"],
        )
    return storage


STORAGE_SCHEMA = vol.Schema(
    vol.All(
        vol.Schema(
            {
                vol.Optional("backend", default=DEFAULT_STORAGE_BACKEND): name,
                vol.Optional("options", default=dict): mapping,
                vol.Optional("purge_interval", default=DEFAULT_PURGE_INTERVAL_S): number(
                    1, 3600, "seconds"
                ),
                vol.Optional("min_free_percent", default=DEFAULT_MIN_FREE_PERCENT): number(
                    0, 90, "percent"
                ),
                vol.Optional("min_free_gb"): number(0, 1e6, "GB"),
                vol.Optional(
                    "critical_free_percent", default=DEFAULT_CRITICAL_FREE_PERCENT
                ): number(0, 90, "percent"),
                vol.Optional("min_retention_days", default=DEFAULT_MIN_RETENTION_DAYS): integer(
                    0, MAX_RETENTION_DAYS
                ),
            }
        ),
        _critical_under_high_water,
    )
)

RETENTION_SCHEMA = vol.Schema(retention_days)

_RECORDING_VALIDATORS: dict[str, Validator] = {
    "mode": one_of([m.value for m in RecordingMode]),
    "segment_seconds": integer(MIN_SEGMENT_SECONDS, MAX_SEGMENT_SECONDS),
    "pre_roll": seconds(MAX_ROLL_S),
    "post_roll": seconds(MAX_ROLL_S),
}
_RECORDING_DEFAULTS: dict[str, Any] = {
    "mode": RecordingMode.CONTINUOUS.value,
    "segment_seconds": DEFAULT_SEGMENT_SECONDS,
    "pre_roll": DEFAULT_PRE_ROLL_S,
    "post_roll": DEFAULT_POST_ROLL_S,
}

RECORDING_SCHEMA = vol.Schema(
    {
        vol.Optional(key, default=_RECORDING_DEFAULTS[key]): validator
        for key, validator in _RECORDING_VALIDATORS.items()
    }
)
"""The top-level ``recording:`` section: how every camera records unless it says otherwise."""

CAMERA_RECORDING_SCHEMA = vol.Schema(
    {vol.Optional(key): validator for key, validator in _RECORDING_VALIDATORS.items()}
)
"""A camera's ``recording:`` mapping: overrides of the top-level section, no defaults."""


def camera_recording(value: Any) -> bool | dict[str, Any]:
    """``true``/``false``, or a mapping overriding the ``recording:`` section for one camera."""
    if not isinstance(value, dict):
        try:
            return boolean(value)
        except Problem:
            raise Problem(
                f"expected true, false or a mapping of recording settings (got {describe(value)})"
            ) from None
    try:
        result: dict[str, Any] = CAMERA_RECORDING_SCHEMA(value)
    except vol.MultipleInvalid as errors:
        keys = list(_RECORDING_VALIDATORS)
        raise vol.MultipleInvalid(
            [
                Problem(
                    f"unknown key '{error.path[-1]}' (allowed: {', '.join(keys)}"
                    f"{suggest(str(error.path[-1]), keys)})",
                    path=error.path,
                )
                if error.msg == "extra keys not allowed" and error.path
                else error
                for error in errors.errors
            ]
        ) from None
    return result


_PTZ_VALIDATORS: dict[str, Validator] = {
    "deadman_timeout": number(MIN_PTZ_DEADMAN_S, MAX_PTZ_DEADMAN_S, "seconds"),
    "lock_timeout": number(1, MAX_PTZ_LOCK_TIMEOUT_S, "seconds"),
    "return_home_after": number(1, MAX_RETURN_HOME_AFTER_S, "seconds"),
}

PTZ_SCHEMA = vol.Schema(
    {
        vol.Optional("deadman_timeout", default=DEFAULT_PTZ_DEADMAN_S): _PTZ_VALIDATORS[
            "deadman_timeout"
        ],
        vol.Optional("lock_timeout", default=DEFAULT_PTZ_LOCK_TIMEOUT_S): _PTZ_VALIDATORS[
            "lock_timeout"
        ],
        vol.Optional("return_home_after"): _PTZ_VALIDATORS["return_home_after"],
    }
)
"""The top-level ``ptz:`` section: timeouts of every PTZ camera unless it says otherwise."""


_MONITOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def monitor_names(value: Any) -> list[str]:
    """Wall monitor names: each letters, digits, '_', '.', '-' (at most 40), none twice."""
    names: list[str] = listing(name)(value)
    for found in names:
        if not _MONITOR.fullmatch(found):
            raise Problem(
                f"{found!r} is not a valid monitor name (letters, digits, '_', '.', '-', "
                "at most 40, starting with a letter or digit: it goes in the window's address)"
            )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise Problem(f"monitor {twice[0]!r} is declared twice")
    return names


WALL_SCHEMA = vol.Schema({vol.Optional("monitors", default=list): monitor_names})
"""The top-level ``wall:`` section: the monitors automations may push cameras and layouts to."""


class Each(vol.Schema):
    """A list whose items are each validated by ``item``, every item's problems reported.

    (A plain ``[item]`` stops at the first item whose problem lies deeper than the item.)
    The schema it shows is ``[item]``, so messages about unknown keys list the allowed ones.
    """

    def __init__(self, item: vol.Schema) -> None:
        super().__init__([item])
        self._item = item

    def __call__(self, data: Any) -> list[Any]:
        """Each item validated; all problems raised together."""
        if data is None:
            return []
        if not isinstance(data, list):
            raise Problem(f"expected a list (got {describe(data)})")
        errors: list[vol.Invalid] = []
        result = []
        for index, value in enumerate(data):
            try:
                result.append(self._item(value))
            except vol.MultipleInvalid as invalid:
                for error in invalid.errors:
                    error.prepend([index])
                    errors.append(error)
            except vol.Invalid as error:
                error.prepend([index])
                errors.append(error)
        if errors:
            raise vol.MultipleInvalid(errors)
        return result


def _steps(value: list[Any]) -> list[Any]:
    if not value:
        raise Problem("a tour needs at least one step (a list of {preset, dwell})")
    return value


TOUR_STEP_SCHEMA = vol.Schema(
    {
        vol.Required("preset"): name,
        vol.Required("dwell"): number(MIN_TOUR_DWELL_S, MAX_TOUR_DWELL_S, "seconds"),
    }
)

TOUR_SCHEMA = vol.Schema(
    {
        vol.Required("name"): name,
        vol.Required("steps"): vol.All(Each(TOUR_STEP_SCHEMA), _steps),
    }
)

CAMERA_PTZ_SCHEMA = vol.Schema(
    {
        **{vol.Optional(key): validator for key, validator in _PTZ_VALIDATORS.items()},
        vol.Optional("home_preset"): name,
        vol.Optional("tours", default=list): Each(TOUR_SCHEMA),
        vol.Optional("patrol"): name,
    }
)
"""A camera's ``ptz:`` mapping: timeouts overriding the ``ptz:`` section, home, tours."""

SITE_SCHEMA = vol.Schema({vol.Required("id"): slug, vol.Required("name"): text})

ZONE_SCHEMA = vol.Schema(
    {
        vol.Required("id"): slug,
        vol.Required("name"): text,
        vol.Optional("site"): name,
        vol.Optional("retention_days"): retention_days,
    }
)

EMPLACEMENT_SCHEMA = vol.Schema(
    {
        vol.Required("id"): slug,
        vol.Required("name"): text,
        vol.Required("zone"): name,
        vol.Optional("kind", default=DEFAULT_EMPLACEMENT_KIND): one_of(EMPLACEMENT_KINDS),
        vol.Optional("latitude"): coordinate(90),
        vol.Optional("longitude"): coordinate(180),
        vol.Optional("address"): text,
        vol.Optional("phase"): integer(1),
    }
)

CAMERA_SCHEMA = vol.Schema(
    {
        vol.Required("id"): slug,
        vol.Required("name"): text,
        vol.Optional("kind", default=CameraKind.FIXED.value): one_of([k.value for k in CameraKind]),
        vol.Required("driver"): name,
        vol.Required("zone"): name,
        vol.Optional("emplacement"): name,
        vol.Optional("phase"): integer(1),
        vol.Optional("purpose"): text,
        vol.Optional("retention_days"): retention_days,
        vol.Optional("authorisation"): vol.Schema(_dates("order")),
        vol.Optional("enabled", default=True): boolean,
        vol.Optional("recording", default=True): camera_recording,
        vol.Optional("options", default=dict): mapping,
        vol.Optional("ptz"): CAMERA_PTZ_SCHEMA,
    }
)

NOTIFIER_SCHEMA = vol.Schema(
    {
        vol.Required("id"): slug,
        vol.Required("type"): name,
        vol.Optional("options", default=dict): mapping,
    }
)

USER_SCHEMA = vol.Schema(
    {
        vol.Required("username"): name,
        vol.Optional("full_name"): text,
        vol.Required("role"): name,
        vol.Optional("zones", default=list): listing(name),
        vol.Optional("habilitation"): vol.Schema(_dates("reference")),
    }
)

ROLE_NAME_SCHEMA = vol.Schema(slug)

ROLE_SCHEMA = vol.Schema(
    {vol.Optional("permissions", default=list): listing(one_of([p.value for p in Permission]))}
)

SINGLE_SECTIONS: dict[str, vol.Schema] = {
    "hub": HUB_SCHEMA,
    "http": HTTP_SCHEMA,
    "storage": STORAGE_SCHEMA,
    "recording": RECORDING_SCHEMA,
    "ptz": PTZ_SCHEMA,
    "wall": WALL_SCHEMA,
}
"""Sections that are one mapping."""

LIST_SECTIONS: dict[str, vol.Schema] = {
    "sites": SITE_SCHEMA,
    "zones": ZONE_SCHEMA,
    "emplacements": EMPLACEMENT_SCHEMA,
    "cameras": CAMERA_SCHEMA,
    "notifiers": NOTIFIER_SCHEMA,
    "users": USER_SCHEMA,
}
"""Sections that are a list of mappings, each validated on its own."""

TOP_LEVEL_KEYS = (
    "hub",
    "http",
    "storage",
    "recording",
    "ptz",
    "wall",
    "retention_days",
    *LIST_SECTIONS,
    "roles",
)
"""Every key ``cityhub.yaml`` may hold, in the order the documentation gives them."""
