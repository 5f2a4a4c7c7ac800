"""The ONVIF driver against the ONVIF simulator, through the real onvif-zeep-async client:
device information, profiles and stream URLs, snapshots, PTZ, masks, clock, and what a
device without PTZ or masks answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import voluptuous as vol
from onvif_support import PASSWORD, DriverFactory, SimFactory, options_for, wait_until

from cityhub.api import (
    PTZ,
    AuthenticationError,
    Clock,
    Events,
    NotReadyError,
    PrivacyMask,
    PrivacyMasks,
    PTZPositioning,
    Snapshot,
    Streams,
    capabilities_of,
)
from cityhub.testing import RecordingDriverHost
from cityhub_onvif.driver import CONFIG_SCHEMA, OnvifCamera, with_credentials
from cityhub_onvif.errors import CapabilityNotSupportedError, OnvifError


def test_schema_defaults_and_messages() -> None:
    options = CONFIG_SCHEMA({"host": "10.0.0.5", "username": "u", "password": "p"})
    assert options["port"] == 80
    assert options["main_profile"] == 0
    assert options["sub_profile"] == 1
    assert options["events"] is True
    assert options["timeout"] == 10.0
    assert (
        CONFIG_SCHEMA({"host": "h", "username": "u", "password": "p", "sub_profile": False})[
            "sub_profile"
        ]
        is None
    )
    with pytest.raises(vol.Invalid, match="a profile index starts at 0"):
        CONFIG_SCHEMA({"host": "h", "username": "u", "password": "p", "main_profile": -1})
    with pytest.raises(vol.Invalid, match="expected a profile index"):
        CONFIG_SCHEMA({"host": "h", "username": "u", "password": "p", "main_profile": True})
    with pytest.raises(vol.Invalid, match="between 1 and 65535"):
        CONFIG_SCHEMA({"host": "h", "username": "u", "password": "p", "port": 0})


def test_credentials_replace_those_in_the_device_url_percent_encoded() -> None:
    url = with_credentials("rtsp://old:pw@10.0.0.5:554/main?x=1", "op érateur", "p@ss:w/rd")
    assert url == "rtsp://op%20%C3%A9rateur:p%40ss%3Aw%2Frd@10.0.0.5:554/main?x=1"


def test_the_class_offers_every_capability_to_the_core() -> None:
    assert capabilities_of(OnvifCamera) == [
        "streams",
        "snapshot",
        "ptz",
        "ptz_position",
        "events",
        "privacy_masks",
        "clock",
    ]


async def test_setup_reads_the_device_and_its_profiles(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    sim = await make_sim(manufacturer="Acme", model="Dome 3000", serial="SN-42")
    driver = await make_driver(sim)
    assert isinstance(driver.host, RecordingDriverHost)
    attributes = driver.host.attributes
    assert attributes["manufacturer"] == "Acme"
    assert attributes["model"] == "Dome 3000"
    assert attributes["firmware"] == sim.firmware
    assert attributes["serial"] == "SN-42"
    assert set(attributes["onvif_capabilities"]) == {
        "streams",
        "snapshot",
        "ptz",
        "ptz_position",
        "ptz_absolute",
        "ptz_relative",
        "ptz_home",
        "events",
        "privacy_masks",
        "clock",
    }
    main, sub = driver.stream_profiles()
    assert (main.name, main.codec, main.width, main.height) == ("main", "h264", 640, 360)
    assert (sub.name, sub.codec, sub.width, sub.height) == ("sub", "h264", 320, 180)
    assert main.fps > 0
    assert main.bitrate == 1_000_000
    assert main.url == with_credentials(sim.rtsp_url("main"), "admin", PASSWORD)
    assert sub.url == with_credentials(sim.rtsp_url("sub"), "admin", PASSWORD)
    with pytest.raises(NotImplementedError):
        driver.open_stream("main")


async def test_profiles_chosen_by_token_or_index_and_a_bad_choice_is_explained(
    make_sim: SimFactory, make_driver: DriverFactory, host: RecordingDriverHost
) -> None:
    sim = await make_sim()
    main_token, sub_token = sim.profile_tokens
    driver = await make_driver(sim, main_profile=sub_token, sub_profile=False)
    (only,) = driver.stream_profiles()
    assert (only.name, only.width) == ("main", 320)

    driver = OnvifCamera(host, options_for(sim, main_profile=5))
    with pytest.raises(OnvifError, match=r"main_profile: 5 but the camera has 2 media profile"):
        await driver.async_setup()
    driver = OnvifCamera(host, options_for(sim, sub_profile="nope"))
    with pytest.raises(OnvifError, match=f"no media profile with token 'nope'.*{main_token}"):
        await driver.async_setup()


@pytest.mark.parametrize("status", [400, 401])
async def test_wrong_password_is_an_authentication_error_without_the_password(
    make_sim: SimFactory, host: RecordingDriverHost, status: int
) -> None:
    # ONVIF answers refused credentials with a NotAuthorized fault and HTTP 400; some cameras
    # send the same fault with HTTP 401.
    sim = await make_sim(not_authorized_status=status)
    driver = OnvifCamera(host, options_for(sim, password="wrong-pw-77"))
    with pytest.raises(AuthenticationError, match="refused user 'admin'") as caught:
        await driver.async_setup()
    assert "wrong-pw-77" not in str(caught.value)
    assert sim.auth_failures >= 1


async def test_unreachable_device_is_not_ready(
    make_sim: SimFactory, host: RecordingDriverHost
) -> None:
    sim = await make_sim()
    options = options_for(sim, timeout=2)
    await sim.stop()
    driver = OnvifCamera(host, options)
    with pytest.raises(NotReadyError, match=f"127.0.0.1:{options['port']} unreachable"):
        await driver.async_setup()


async def test_snapshot_is_a_jpeg(make_sim: SimFactory, make_driver: DriverFactory) -> None:
    pytest.importorskip("cityhub.testing.onvif.video")
    for mode in ("digest", "basic"):
        sim = await make_sim(video=True, snapshot_auth=mode)
        driver = await make_driver(sim)
        jpeg = await driver.async_snapshot()
        assert jpeg.startswith(b"\xff\xd8")
        assert jpeg.endswith(b"\xff\xd9")
        assert sim.snapshots == 1


async def test_continuous_move_turns_the_head_and_stop_holds_it(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    sim = await make_sim()
    driver = await make_driver(sim)
    assert isinstance(driver, PTZ)
    await driver.async_ptz_move(0.5, -0.5, 0.0)
    await wait_until(lambda: sim.position.pan > 0.05 and sim.position.tilt < -0.05)
    await driver.async_ptz_stop()
    stopped = sim.position
    await asyncio.sleep(0.3)
    assert sim.position == stopped
    reported = await driver.async_ptz_position()
    assert reported.pan == pytest.approx(stopped.pan, abs=1e-3)
    assert reported.tilt == pytest.approx(stopped.tilt, abs=1e-3)
    with pytest.raises(ValueError, match=r"pan velocity 1\.5 is outside -1\.\.1"):
        await driver.async_ptz_move(1.5, 0, 0)


async def test_presets_round_trip(make_sim: SimFactory, make_driver: DriverFactory) -> None:
    sim = await make_sim()
    driver = await make_driver(sim)
    await driver.async_ptz_absolute_move(0.4, 0.2, 0.5)
    await wait_until(lambda: sim.position.rounded(3) == type(sim.position)(0.4, 0.2, 0.5))
    door = await driver.async_ptz_set_preset("Porte de l'école")
    assert door.token in sim.presets
    assert [(p.token, p.name) for p in await driver.async_ptz_presets()] == [
        (door.token, "Porte de l'école")
    ]
    await driver.async_ptz_absolute_move(-0.4, -0.2, 0.0)
    await wait_until(lambda: sim.position.pan < -0.39)
    await driver.async_ptz_goto_preset(door.token)
    await wait_until(
        lambda: abs(sim.position.pan - 0.4) < 1e-3 and abs(sim.position.zoom - 0.5) < 1e-3
    )
    renamed = await driver.async_ptz_set_preset("Porte", door.token)
    assert renamed.token == door.token
    assert sim.presets[door.token].name == "Porte"
    await driver.async_ptz_remove_preset(door.token)
    assert await driver.async_ptz_presets() == []
    await driver.async_ptz_home()
    await wait_until(lambda: sim.position.rounded(3) == sim.home.rounded(3))


async def test_absolute_and_relative_moves(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    sim = await make_sim()
    driver = await make_driver(sim)
    assert isinstance(driver, PTZPositioning)
    await driver.async_ptz_absolute_move(0.2, -0.3, 0.4)
    await wait_until(lambda: sim.position.rounded(3) == type(sim.position)(0.2, -0.3, 0.4))
    await driver.async_ptz_relative_move(0.1, 0.1, -0.2)
    await wait_until(lambda: sim.position.rounded(3) == type(sim.position)(0.3, -0.2, 0.2))
    position = await driver.async_ptz_position()
    assert (position.pan, position.tilt, position.zoom) == pytest.approx((0.3, -0.2, 0.2), abs=1e-3)
    with pytest.raises(ValueError, match=r"zoom 1\.5 is outside 0\.\.1"):
        await driver.async_ptz_absolute_move(0, 0, 1.5)


async def test_masks_read_and_write(make_sim: SimFactory, make_driver: DriverFactory) -> None:
    sim = await make_sim()
    driver = await make_driver(sim)
    assert isinstance(driver, PrivacyMasks)
    assert await driver.async_get_privacy_masks() == []
    window = ((0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5))
    balcony = ((0.6, 0.6), (0.9, 0.6), (0.75, 0.9))
    await driver.async_set_privacy_masks([PrivacyMask("", window), PrivacyMask("", balcony, False)])
    masks = sorted(await driver.async_get_privacy_masks(), key=lambda m: m.points[0])
    assert [(m.points, m.enabled) for m in masks] == [(window, True), (balcony, False)]
    # The device holds them in ONVIF's space: x -1..1 left to right, y -1..1 bottom to top.
    stored = sim.mask_store[masks[0].token]
    assert stored.points == ((-0.8, 0.8), (0.0, 0.8), (0.0, 0.0), (-0.8, 0.0))

    moved = ((0.2, 0.2), (0.4, 0.2), (0.4, 0.4))
    await driver.async_set_privacy_masks([PrivacyMask(masks[0].token, moved)])
    (kept,) = await driver.async_get_privacy_masks()
    assert (kept.token, kept.points, kept.enabled) == (masks[0].token, moved, True)
    assert set(sim.mask_store) == {masks[0].token}
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        await driver.async_set_privacy_masks([PrivacyMask("", ((0, 0), (2, 0), (0, 1)))])
    with pytest.raises(ValueError, match="at least 3 points"):
        await driver.async_set_privacy_masks([PrivacyMask("", ((0, 0), (1, 1)))])


async def test_camera_time_is_aware_and_a_drifted_clock_still_lets_the_driver_in(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    # The device also refuses WS-Security stamps more than 5 s off its own clock: the driver
    # signs with the device's time, so a camera whose clock drifted still answers.
    sim = await make_sim(clock_offset_s=120.0, auth_max_skew_s=5.0)
    driver = await make_driver(sim)
    assert "privacy_masks" in driver.supported  # Media2 (plain SOAP) signs with its time too
    assert await driver.async_get_privacy_masks() == []
    assert isinstance(driver, Clock)
    camera_time = await driver.async_camera_time()
    assert camera_time.tzinfo is not None
    drift = (camera_time - datetime.now(UTC)).total_seconds()
    assert 118.0 <= drift <= 121.0


async def test_a_fixed_camera_without_masks_says_what_it_lacks(
    make_sim: SimFactory, make_driver: DriverFactory
) -> None:
    sim = await make_sim(ptz=False, masks=False)
    driver = await make_driver(sim, events=False)
    assert driver.supported == {"streams", "snapshot", "clock"}
    # The class still offers the protocols (capabilities are per class in the core) ...
    assert isinstance(driver, PTZ)
    assert isinstance(driver, Streams)
    assert isinstance(driver, Snapshot)
    # ... and each call names what this device lacks.
    with pytest.raises(CapabilityNotSupportedError, match="has no PTZ head"):
        await driver.async_ptz_move(0.1, 0, 0)
    with pytest.raises(CapabilityNotSupportedError, match="has no absolute PTZ positioning"):
        await driver.async_ptz_absolute_move(0, 0, 0)
    with pytest.raises(CapabilityNotSupportedError, match="has no Media2 privacy masks"):
        await driver.async_get_privacy_masks()
    # Events disabled in the options: run_events returns at once instead of failing.
    assert isinstance(driver, Events)
    await asyncio.wait_for(driver.run_events(lambda event: None), 5)
    assert sim.calls["Events.CreatePullPointSubscription"] == 0
