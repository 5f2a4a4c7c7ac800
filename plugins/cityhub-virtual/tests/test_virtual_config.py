"""The options schema: defaults, dependent defaults, refusals."""

from __future__ import annotations

from typing import Any

import pytest
import voluptuous as vol

from cityhub_virtual.config import CONFIG_SCHEMA, settings_from_options
from cityhub_virtual.driver import VirtualCamera
from cityhub_virtual.models import Mode, Periodic
from cityhub_virtual.plugin import cityhub_camera_drivers


def test_defaults() -> None:
    settings = settings_from_options({})
    assert settings.mode is Mode.LOOP
    main = settings.main
    assert (main.width, main.height, main.fps, main.bitrate, main.gop) == (
        640,
        360,
        25,
        1_000_000,
        50,
    )
    assert settings.sub is not None
    assert (settings.sub.name, settings.sub.width, settings.sub.height) == ("sub", 320, 180)
    assert settings.sub.gop == 50
    assert settings.clip_seconds == 4
    assert settings.clip_frames == 100
    assert settings.motion is None
    assert settings.dropout is None


def test_gop_follows_fps_and_clip_rounds_up_to_whole_gops() -> None:
    settings = settings_from_options({"fps": 10, "clip_seconds": 2.5})
    assert settings.main.gop == 20
    assert settings.clip_frames == 40


def test_sub_stream_can_be_disabled_and_periodic_defaults() -> None:
    settings = settings_from_options({"sub_stream": False, "motion": {}, "dropout": {"every": 9}})
    assert settings.sub is None
    assert settings.motion == Periodic(every=30.0, duration=5.0)
    assert settings.dropout == Periodic(every=9.0, duration=5.0)


def test_schema_is_idempotent() -> None:
    once = CONFIG_SCHEMA({"mode": "live", "motion": {"every": 3, "duration": 1}})
    assert CONFIG_SCHEMA(dict(once)) == once


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"width": 641}, "width"),
        ({"width": 8}, "width"),
        ({"height": 2162}, "height"),
        ({"fps": 0}, "fps"),
        ({"fps": 61}, "fps"),
        ({"fps": True}, "fps"),
        ({"mode": "replay"}, "mode"),
        ({"bitrate": 10}, "bitrate"),
        ({"gop": 0}, "gop"),
        ({"clip_seconds": 1, "gop": 50}, "clip_seconds"),
        ({"sub_stream": {"width": 321}}, "sub_stream"),
        ({"motion": {"every": 1, "duration": 1}}, "motion"),
        ({"dropout": {"every": -1}}, "dropout"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_refusals_name_the_key(options: dict[str, Any], key: str) -> None:
    with pytest.raises(vol.Invalid) as info:
        CONFIG_SCHEMA(options)
    assert key in str(info.value)


def test_hook_returns_the_driver() -> None:
    assert cityhub_camera_drivers() == [VirtualCamera]
    assert VirtualCamera.NAME == "virtual"
    assert VirtualCamera.CONFIG_SCHEMA is CONFIG_SCHEMA
