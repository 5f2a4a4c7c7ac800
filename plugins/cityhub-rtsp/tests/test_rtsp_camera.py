"""The RTSP driver: option checks, credentials kept out of URLs shown, and a real RTSP camera
(GStreamer's RTSP server from cityhub.testing) going online, refused and coming back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from cityhub.api import CameraState
from cityhub.testing.hub import HubFactory, wait_for_state
from cityhub.testing.rtsp import RtspTestServer
from cityhub_rtsp.driver import CONFIG_SCHEMA, with_credentials


def test_schema_accepts_rtsp_urls_and_refuses_credentials_in_them() -> None:
    options = CONFIG_SCHEMA({"url": "rtsp://10.0.0.5:554/main", "username": "u", "password": "p"})
    assert options["url"] == "rtsp://10.0.0.5:554/main"
    with pytest.raises(vol.Invalid, match="credentials are not allowed in the URL"):
        CONFIG_SCHEMA({"url": "rtsp://admin:secret@10.0.0.5/main"})
    with pytest.raises(vol.Invalid, match="is not an RTSP URL"):
        CONFIG_SCHEMA({"url": "http://10.0.0.5/main"})
    with pytest.raises(vol.Invalid, match="invalid port"):
        CONFIG_SCHEMA({"url": "rtsp://10.0.0.5:99999/main"})


def test_credentials_are_percent_encoded_into_the_url() -> None:
    url = with_credentials("rtsp://cam:554/s", "op érateur", "p@ss:w/rd")
    assert url == "rtsp://op%20%C3%A9rateur:p%40ss%3Aw%2Frd@cam:554/s"
    assert with_credentials("rtsp://cam/s", None, None) == "rtsp://cam/s"


def rtsp_camera(camera_id: str, url: str, **options: Any) -> dict[str, Any]:
    return {
        "id": camera_id,
        "name": camera_id,
        "driver": "rtsp",
        "zone": "centre",
        "options": {"url": url, **options},
    }


def hub_config(*cameras: dict[str, Any]) -> dict[str, Any]:
    return {
        "http": {"port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": list(cameras),
    }


async def test_real_rtsp_camera_goes_online_and_survives_an_outage(
    rtsp_server: RtspTestServer,
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
) -> None:
    url = rtsp_server.add_clip("cam1", 320, 180, 25, seconds=1)
    hub = await cityhub_hub(cityhub_config(hub_config(rtsp_camera("cam1", url))))
    await wait_for_state(hub, "cam1", CameraState.ONLINE, timeout=15)
    source = hub.cameras["cam1"].sources["main"]
    assert source.info is not None
    assert (source.info.codec, source.info.width, source.info.height) == ("h264", 320, 180)

    rtsp_server.stop_path("cam1")
    await wait_for_state(hub, "cam1", CameraState.OFFLINE, timeout=10)
    rtsp_server.start_path("cam1")
    await wait_for_state(hub, "cam1", CameraState.ONLINE, timeout=20)
    assert source.stats().reconnects >= 1


async def test_wrong_password_is_refused_and_never_logged(
    rtsp_server: RtspTestServer,
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rtsp_server.add_clip("locked", 320, 180, 25, seconds=1, user="cityhub", password="right-pw-1")
    plain = rtsp_server.url("locked")
    caplog.set_level(logging.DEBUG)
    config = hub_config(
        rtsp_camera("good", plain, username="cityhub", password="right-pw-1"),
        rtsp_camera("bad", plain, username="cityhub", password="wrong-pw-2"),
    )
    hub = await cityhub_hub(cityhub_config(config))
    await wait_for_state(hub, "good", CameraState.ONLINE, timeout=15)
    await wait_for_state(hub, "bad", CameraState.OFFLINE, timeout=15)
    status = hub.states.get("bad")
    assert status is not None
    assert "wrong-pw-2" not in (status.reason or "")
    assert "wrong-pw-2" not in caplog.text
    assert "right-pw-1" not in caplog.text


async def test_unreachable_camera_is_not_ready(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    hub = await cityhub_hub(cityhub_config(hub_config(rtsp_camera("dead", "rtsp://127.0.0.1:1/x"))))
    await wait_for_state(hub, "dead", CameraState.OFFLINE, timeout=5)
    status = hub.states.get("dead")
    assert status is not None
    assert status.reason is not None
    assert status.reason.startswith("not ready: 127.0.0.1:1 unreachable")
