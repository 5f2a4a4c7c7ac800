"""The schema of a virtual camera's ``options:`` and its conversion to settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from cityhub_virtual.const import (
    CONF_BITRATE,
    CONF_CLIP_SECONDS,
    CONF_DROPOUT,
    CONF_DURATION,
    CONF_EVERY,
    CONF_FPS,
    CONF_GOP,
    CONF_HEIGHT,
    CONF_MODE,
    CONF_MOTION,
    CONF_SUB_STREAM,
    CONF_WIDTH,
    DEFAULT_BITRATE,
    DEFAULT_CLIP_SECONDS,
    DEFAULT_DROPOUT_DURATION,
    DEFAULT_DROPOUT_EVERY,
    DEFAULT_FPS,
    DEFAULT_GOP_SECONDS,
    DEFAULT_HEIGHT,
    DEFAULT_MODE,
    DEFAULT_MOTION_DURATION,
    DEFAULT_MOTION_EVERY,
    DEFAULT_SUB_BITRATE,
    DEFAULT_SUB_HEIGHT,
    DEFAULT_SUB_WIDTH,
    DEFAULT_WIDTH,
    MAX_BITRATE,
    MAX_CLIP_SECONDS,
    MAX_FPS,
    MAX_GOP,
    MAX_HEIGHT,
    MAX_WIDTH,
    MIN_BITRATE,
    MIN_FPS,
    MIN_HEIGHT,
    MIN_WIDTH,
    MODE_LIVE,
    MODE_LOOP,
    PROFILE_MAIN,
    PROFILE_SUB,
)
from cityhub_virtual.models import EncodingProfile, Mode, Periodic, VirtualSettings

__all__ = ["CONFIG_SCHEMA", "settings_from_options"]


def _integer(value: Any) -> int:
    """Accept a whole number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid(f"expected a whole number, got {value!r}")
    return value


def _seconds(value: Any) -> float:
    """Accept a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid(f"expected a number of seconds, got {value!r}")
    if value <= 0:
        raise vol.Invalid(f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _even(value: int) -> int:
    """Accept an even number (H.264 4:2:0 needs even dimensions)."""
    if value % 2:
        raise vol.Invalid(f"must be even (H.264 4:2:0 needs it), got {value}")
    return value


def _width(value: Any) -> int:
    return _even(vol.Range(min=MIN_WIDTH, max=MAX_WIDTH)(_integer(value)))


def _height(value: Any) -> int:
    return _even(vol.Range(min=MIN_HEIGHT, max=MAX_HEIGHT)(_integer(value)))


def _bitrate(value: Any) -> int:
    return int(vol.Range(min=MIN_BITRATE, max=MAX_BITRATE)(_integer(value)))


def _periodic(default_every: float, default_duration: float) -> vol.Schema:
    """A ``{every, duration}`` mapping where the event ends before the next one starts."""

    def _check(value: dict[str, float]) -> dict[str, float]:
        if value[CONF_DURATION] >= value[CONF_EVERY]:
            raise vol.Invalid(
                f"duration ({value[CONF_DURATION]} s) must be shorter than every "
                f"({value[CONF_EVERY]} s)",
                path=[CONF_DURATION],
            )
        return value

    return vol.Schema(
        vol.All(
            {
                vol.Optional(CONF_EVERY, default=default_every): _seconds,
                vol.Optional(CONF_DURATION, default=default_duration): _seconds,
            },
            _check,
        )
    )


SUB_STREAM_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_WIDTH, default=DEFAULT_SUB_WIDTH): _width,
        vol.Optional(CONF_HEIGHT, default=DEFAULT_SUB_HEIGHT): _height,
        vol.Optional(CONF_BITRATE, default=DEFAULT_SUB_BITRATE): _bitrate,
    }
)


def _complete(value: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults that depend on other keys and check keys against each other."""
    fps = value[CONF_FPS]
    value.setdefault(CONF_GOP, DEFAULT_GOP_SECONDS * fps)
    gop_seconds = value[CONF_GOP] / fps
    if value[CONF_CLIP_SECONDS] < gop_seconds:
        raise vol.Invalid(
            f"clip_seconds ({value[CONF_CLIP_SECONDS]}) must hold at least one GOP "
            f"({value[CONF_GOP]} frames at {fps} fps = {gop_seconds:g} s)",
            path=[CONF_CLIP_SECONDS],
        )
    return value


CONFIG_SCHEMA = vol.Schema(
    vol.All(
        {
            vol.Optional(CONF_MODE, default=DEFAULT_MODE): vol.In([MODE_LIVE, MODE_LOOP]),
            vol.Optional(CONF_WIDTH, default=DEFAULT_WIDTH): _width,
            vol.Optional(CONF_HEIGHT, default=DEFAULT_HEIGHT): _height,
            vol.Optional(CONF_FPS, default=DEFAULT_FPS): vol.All(
                _integer, vol.Range(min=MIN_FPS, max=MAX_FPS)
            ),
            vol.Optional(CONF_BITRATE, default=DEFAULT_BITRATE): _bitrate,
            vol.Optional(CONF_GOP): vol.All(_integer, vol.Range(min=1, max=MAX_GOP)),
            vol.Optional(CONF_CLIP_SECONDS, default=DEFAULT_CLIP_SECONDS): vol.All(
                _seconds, vol.Range(max=MAX_CLIP_SECONDS)
            ),
            vol.Optional(CONF_SUB_STREAM, default=dict): vol.Any(False, SUB_STREAM_SCHEMA),
            vol.Optional(CONF_MOTION): _periodic(DEFAULT_MOTION_EVERY, DEFAULT_MOTION_DURATION),
            vol.Optional(CONF_DROPOUT): _periodic(DEFAULT_DROPOUT_EVERY, DEFAULT_DROPOUT_DURATION),
        },
        _complete,
    )
)
"""Validates a virtual camera's ``options:``; every key is optional."""


def _periodic_from(value: Mapping[str, float] | None) -> Periodic | None:
    if value is None:
        return None
    return Periodic(every=value[CONF_EVERY], duration=value[CONF_DURATION])


def settings_from_options(options: Mapping[str, Any]) -> VirtualSettings:
    """Validate ``options`` and turn them into settings; raises ``vol.Invalid``."""
    value = CONFIG_SCHEMA(dict(options))
    fps = value[CONF_FPS]
    gop = value[CONF_GOP]
    main = EncodingProfile(
        name=PROFILE_MAIN,
        width=value[CONF_WIDTH],
        height=value[CONF_HEIGHT],
        fps=fps,
        bitrate=value[CONF_BITRATE],
        gop=gop,
    )
    sub_value = value[CONF_SUB_STREAM]
    sub = None
    if sub_value is not False:
        sub = EncodingProfile(
            name=PROFILE_SUB,
            width=sub_value[CONF_WIDTH],
            height=sub_value[CONF_HEIGHT],
            fps=fps,
            bitrate=sub_value[CONF_BITRATE],
            gop=gop,
        )
    return VirtualSettings(
        mode=Mode(value[CONF_MODE]),
        main=main,
        sub=sub,
        clip_seconds=value[CONF_CLIP_SECONDS],
        motion=_periodic_from(value.get(CONF_MOTION)),
        dropout=_periodic_from(value.get(CONF_DROPOUT)),
    )
