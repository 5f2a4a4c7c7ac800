"""The ONVIF simulator against the real onvif-zeep-async client (no video: see the _video file)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import av
import pytest
import pytest_asyncio
import zeep.exceptions
from onvif import ONVIFCamera

from cityhub.testing.onvif import OnvifSimulator, PtzPosition
from cityhub.testing.onvif.scene import read_marker

USER, PASSWORD = "admin", "onvif-secret"
Factory = Callable[..., Awaitable[OnvifSimulator]]
CameraFor = Callable[..., Awaitable[ONVIFCamera]]


@pytest_asyncio.fixture
async def camera_for() -> AsyncIterator[CameraFor]:
    """``await camera_for(sim, password=...)``: a real ONVIF client that read the services."""
    cameras: list[ONVIFCamera] = []

    async def make(
        sim: OnvifSimulator, password: str = PASSWORD, *, encrypt: bool = True
    ) -> ONVIFCamera:
        camera = ONVIFCamera(sim.host, sim.port, USER, password, encrypt=encrypt)
        cameras.append(camera)
        await camera.update_xaddrs()
        return camera

    yield make
    for camera in cameras:
        await camera.close()


@pytest_asyncio.fixture
async def sim(onvif_simulator_factory: Factory) -> OnvifSimulator:
    """A simulator without video."""
    return await onvif_simulator_factory(video=False)


def subcodes(fault: zeep.exceptions.Fault) -> list[str]:
    """The local names of a fault's subcodes."""
    return [code.localname for code in fault.subcodes or []]


async def wait_until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# Device ------------------------------------------------------------------------------------


async def test_device_information_capabilities_services_and_scopes(
    onvif_simulator_factory: Factory, camera_for: CameraFor
) -> None:
    sim = await onvif_simulator_factory(
        video=False, manufacturer="Acme", model="Dome 9", serial="SN42"
    )
    camera = await camera_for(sim)
    device = await camera.create_devicemgmt_service()

    info = await device.GetDeviceInformation()
    capabilities = await device.GetCapabilities({"Category": "All"})
    scopes = await device.GetScopes()
    hostname = await device.GetHostname()
    interfaces = await device.GetNetworkInterfaces()

    assert (info.Manufacturer, info.Model, info.SerialNumber) == ("Acme", "Dome 9", "SN42")
    assert info.FirmwareVersion
    assert info.HardwareId
    assert capabilities.Media.XAddr == sim.service_url("media")
    assert capabilities.PTZ.XAddr == sim.service_url("ptz")
    assert capabilities.Events.XAddr == sim.service_url("events")
    assert capabilities.Events.WSPullPointSupport is True
    # GetServices gave the client every address, Media2 included.
    assert camera.xaddrs["http://www.onvif.org/ver20/media/wsdl"] == sim.service_url("media2")
    assert camera.xaddrs["http://www.onvif.org/ver20/ptz/wsdl"] == sim.service_url("ptz")
    assert [s.ScopeItem for s in scopes] == sim.scopes
    assert "onvif://www.onvif.org/hardware/Dome%209" in sim.scopes
    assert hostname.Name == sim.hostname
    assert interfaces[0].IPv4.Config.Manual[0].Address == sim.host
    assert sim.device_url == f"http://127.0.0.1:{sim.port}/onvif/device_service"


async def test_device_without_ptz_offers_no_ptz_service(
    onvif_simulator_factory: Factory, camera_for: CameraFor
) -> None:
    sim = await onvif_simulator_factory(video=False, ptz=False)
    camera = await camera_for(sim)
    capabilities = await (await camera.create_devicemgmt_service()).GetCapabilities()
    profiles = await (await camera.create_media_service()).GetProfiles()

    assert capabilities.PTZ is None
    assert "http://www.onvif.org/ver20/ptz/wsdl" not in camera.xaddrs
    assert all(profile.PTZConfiguration is None for profile in profiles)


async def test_clock_offset_shows_in_system_date_and_time(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    sim.clock_offset_s = 120.0
    camera = await camera_for(sim)

    reply = await (await camera.create_devicemgmt_service()).GetSystemDateAndTime()

    utc = reply.UTCDateTime
    device = dt.datetime(
        utc.Date.Year, utc.Date.Month, utc.Date.Day,
        utc.Time.Hour, utc.Time.Minute, utc.Time.Second, tzinfo=dt.UTC,
    )  # fmt: skip
    drift = (device - dt.datetime.now(dt.UTC)).total_seconds()
    assert 115 < drift < 125


async def test_client_adjusting_its_time_authenticates_despite_a_skewed_device_clock(
    onvif_simulator_factory: Factory,
) -> None:
    # The device refuses tokens more than 30 s off its own clock, which runs an hour ahead.
    sim = await onvif_simulator_factory(video=False, clock_offset_s=3600.0, auth_max_skew_s=30.0)
    naive = ONVIFCamera(sim.host, sim.port, USER, PASSWORD)
    adjusted = ONVIFCamera(sim.host, sim.port, USER, PASSWORD, adjust_time=True)
    try:
        await naive.update_xaddrs()
        with pytest.raises(zeep.exceptions.Fault) as refused:
            await (await naive.create_devicemgmt_service()).GetDeviceInformation()
        await adjusted.update_xaddrs()
        info = await (await adjusted.create_devicemgmt_service()).GetDeviceInformation()
    finally:
        await naive.close()
        await adjusted.close()

    assert "NotAuthorized" in subcodes(refused.value)
    assert info.Manufacturer == "Cityhub"


# Authentication --------------------------------------------------------------------------


async def test_wrong_password_gets_not_authorized_and_is_counted(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim, "wrong-password")  # GetServices needs no credentials
    device = await camera.create_devicemgmt_service()

    with pytest.raises(zeep.exceptions.Fault) as refused:
        await device.GetDeviceInformation()

    assert "NotAuthorized" in subcodes(refused.value)
    assert refused.value.code is not None
    assert refused.value.code.endswith("Sender")
    assert sim.auth_failures == 1
    assert sim.calls["Device.GetDeviceInformation"] == 1
    assert sim.calls["Device.GetServices"] == 1


async def test_not_authorized_comes_with_http_400_or_as_configured_401(
    onvif_simulator_factory: Factory,
) -> None:
    statuses = []
    for configured in (None, 401):
        options = {} if configured is None else {"not_authorized_status": configured}
        sim = await onvif_simulator_factory(video=False, **options)
        envelope = (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
            ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl">'
            f"<s:Header>{username_token(USER, 'wrong')}</s:Header>"
            "<s:Body><tds:GetDeviceInformation/></s:Body></s:Envelope>"
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(sim.device_url, data=envelope.encode()) as response,
        ):
            statuses.append(response.status)
            assert "ter:NotAuthorized" in await response.text()
        assert sim.auth_failures == 1

    assert statuses == [400, 401]


async def test_password_text_is_accepted_and_checked_too(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    good = await camera_for(sim, encrypt=False)
    bad = await camera_for(sim, "nope", encrypt=False)

    info = await (await good.create_devicemgmt_service()).GetDeviceInformation()
    with pytest.raises(zeep.exceptions.Fault) as refused:
        await (await bad.create_devicemgmt_service()).GetDeviceInformation()

    assert info.Model == "SimCam PTZ"
    assert "NotAuthorized" in subcodes(refused.value)


async def test_pre_auth_operations_answer_without_credentials(sim: OnvifSimulator) -> None:
    camera = ONVIFCamera(sim.host, sim.port, None, None)
    try:
        device = await camera.create_devicemgmt_service()
        reply = await device.authless_GetSystemDateAndTime()
        with pytest.raises(zeep.exceptions.Fault) as refused:
            await device.authless_GetDeviceInformation()
    finally:
        await camera.close()

    assert reply.UTCDateTime.Date.Year >= 2024
    assert "NotAuthorized" in subcodes(refused.value)
    assert sim.auth_failures == 1


async def test_unknown_operation_is_action_not_supported(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    device = await camera.create_devicemgmt_service()

    with pytest.raises(zeep.exceptions.Fault) as refused:
        await device.GetUsers()

    assert "ActionNotSupported" in subcodes(refused.value)
    assert sim.calls["Device.GetUsers"] == 1


async def test_garbage_gets_a_soap_fault(sim: OnvifSimulator) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(sim.device_url, data=b"<not-xml") as response,
    ):
        status, body = response.status, await response.text()

    assert status == 400
    assert "Fault" in body
    assert "WellFormed" in body


# Media -----------------------------------------------------------------------------------


async def test_media_profiles_and_stream_uris(
    onvif_simulator_factory: Factory, camera_for: CameraFor
) -> None:
    sim = await onvif_simulator_factory(video=False, main_size=(1280, 720), sub_size=(320, 180))
    camera = await camera_for(sim)
    media = await camera.create_media_service()

    profiles = await media.GetProfiles()
    uris = {}
    for profile in profiles:
        reply = await media.GetStreamUri(
            {
                "ProfileToken": profile.token,
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
            }
        )
        uris[profile.token] = reply.Uri
    with pytest.raises(zeep.exceptions.Fault) as refused:
        await media.GetStreamUri(
            {
                "ProfileToken": "nope",
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
            }
        )

    resolutions = {p.token: p.VideoEncoderConfiguration.Resolution for p in profiles}
    sizes = {token: (r.Width, r.Height) for token, r in resolutions.items()}
    assert sizes == {"main": (1280, 720), "sub": (320, 180)}
    assert {p.VideoEncoderConfiguration.Encoding for p in profiles} == {"H264"}
    assert {p.PTZConfiguration.token for p in profiles} == {"ptz_config"}
    assert uris == {"main": sim.rtsp_url("main"), "sub": sim.rtsp_url("sub")}
    assert all("@" not in uri and uri.startswith("rtsp://") for uri in uris.values())
    assert "NoProfile" in subcodes(refused.value)


async def test_snapshot_is_a_real_jpeg_behind_digest_auth(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)

    jpeg = await camera.get_snapshot("sub")
    async with (
        aiohttp.ClientSession() as session,
        session.get(sim.snapshot_url("sub")) as anonymous,
    ):
        challenge = anonymous.headers.get("WWW-Authenticate", "")
        anonymous_status = anonymous.status
    wrong = aiohttp.DigestAuthMiddleware(USER, "wrong")
    async with (
        aiohttp.ClientSession(middlewares=(wrong,)) as session,
        session.get(sim.snapshot_url("sub")) as refused,
    ):
        refused_status = refused.status

    assert jpeg is not None
    with av.open(io.BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
        assert container.streams.video[0].codec_context.name == "mjpeg"
    assert (frame.width, frame.height) == (320, 180)
    assert read_marker(frame.to_image()) is not None
    assert anonymous_status == 401
    assert challenge.startswith("Digest ")
    assert refused_status == 401
    assert sim.snapshots == 1
    assert sim.auth_failures == 1


# onvif-zeep-async's basic auth uses aiohttp's deprecated BasicAuth: its warning, not ours.
@pytest.mark.filterwarnings("ignore:.*BasicAuth is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")
async def test_snapshot_with_basic_auth_as_some_cameras_ask(
    onvif_simulator_factory: Factory, camera_for: CameraFor
) -> None:
    sim = await onvif_simulator_factory(video=False, snapshot_auth="basic")
    camera = await camera_for(sim)

    jpeg = await camera.get_snapshot("main", basic_auth=True)
    basic = "Basic " + base64.b64encode(f"{USER}:wrong".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.get(sim.snapshot_url("main"), headers={"Authorization": basic}) as refused,
    ):
        refused_status = refused.status
        challenge = refused.headers.get("WWW-Authenticate", "")

    assert jpeg is not None
    assert jpeg[:2] == b"\xff\xd8"  # a JPEG
    assert refused_status == 401
    assert challenge.startswith("Basic ")
    assert sim.auth_failures == 1


# Media2 and privacy masks (onvif-zeep-async ships no Media2 WSDL: plain SOAP here) ---------


def username_token(user: str, password: str) -> str:
    """A WS-Security header with a PasswordDigest, as a client builds it."""
    nonce = os.urandom(16)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    ).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    profile = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    return (
        f'<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{profile}#PasswordDigest">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{profile[:-30]}soap-message-security-1.0#Base64Binary">'
        f"{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


async def post_soap(url: str, body: str, password: str = PASSWORD) -> tuple[int, Any]:
    """Post one request signed with a UsernameToken; the HTTP status and the parsed reply."""
    import xml.etree.ElementTree as ET

    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:tr2="http://www.onvif.org/ver20/media/wsdl"'
        ' xmlns:tev="http://www.onvif.org/ver10/events/wsdl"'
        ' xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
        ' xmlns:tt="http://www.onvif.org/ver10/schema">'
        f"<s:Header>{username_token(USER, password)}</s:Header><s:Body>{body}</s:Body>"
        "</s:Envelope>"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data=envelope.encode(),
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        ) as response,
    ):
        return response.status, ET.fromstring(await response.read())


async def media2(sim: OnvifSimulator, body: str, password: str = PASSWORD) -> tuple[int, Any]:
    """Post one Media2 request; the HTTP status and the parsed response envelope."""
    return await post_soap(sim.service_url("media2"), body, password)


NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
}


def polygon(points: list[tuple[float, float]]) -> str:
    return "".join(f'<tt:Point x="{x}" y="{y}"/>' for x, y in points)


async def test_media2_profiles_and_stream_uri(sim: OnvifSimulator) -> None:
    status, reply = await media2(sim, "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>")
    uri_status, uri_reply = await media2(
        sim,
        "<tr2:GetStreamUri><tr2:Protocol>RtspUnicast</tr2:Protocol>"
        "<tr2:ProfileToken>sub</tr2:ProfileToken></tr2:GetStreamUri>",
    )

    assert status == 200
    tokens = [p.get("token") for p in reply.iterfind(".//tr2:Profiles", NS)]
    widths = [w.text for w in reply.iterfind(".//tr2:VideoEncoder/tt:Resolution/tt:Width", NS)]
    assert tokens == ["main", "sub"]
    assert widths == ["640", "320"]
    assert uri_status == 200
    assert uri_reply.findtext(".//tr2:Uri", namespaces=NS) == sim.rtsp_url("sub")


async def test_privacy_masks_crud_and_drawn_into_the_picture(sim: OnvifSimulator) -> None:
    status, options = await media2(
        sim,
        "<tr2:GetMaskOptions><tr2:ConfigurationToken>video_source_config"
        "</tr2:ConfigurationToken></tr2:GetMaskOptions>",
    )
    assert status == 200
    assert options.findtext(".//tr2:MaxMasks", namespaces=NS) == "8"

    # The left half of the picture, filled red.
    left_half = polygon([(-1, 1), (0, 1), (0, -1), (-1, -1)])
    status, created = await media2(
        sim,
        "<tr2:CreateMask><tr2:Mask><tr2:ConfigurationToken>video_source_config"
        f"</tr2:ConfigurationToken><tr2:Polygon>{left_half}</tr2:Polygon>"
        '<tr2:Type>Color</tr2:Type><tr2:Color X="255" Y="0" Z="0"/>'
        "<tr2:Enabled>true</tr2:Enabled></tr2:Mask></tr2:CreateMask>",
    )
    assert status == 200
    token = created.findtext(".//tr2:Token", namespaces=NS)
    assert token in sim.mask_store
    assert sim.mask_store[token].points == ((-1, 1), (0, 1), (0, -1), (-1, -1))

    picture = await asyncio.to_thread(sim.picture, "main")
    red = picture.getpixel((160, 250))
    assert red[0] > 240
    assert red[1] < 10
    assert red[2] < 10
    assert picture.getpixel((480, 250)) != red

    # Move it to the right half.
    right_half = polygon([(0, 1), (1, 1), (1, -1), (0, -1)])
    status, _ = await media2(
        sim,
        f'<tr2:SetMask><tr2:Mask token="{token}"><tr2:ConfigurationToken>video_source_config'
        f"</tr2:ConfigurationToken><tr2:Polygon>{right_half}</tr2:Polygon>"
        '<tr2:Type>Color</tr2:Type><tr2:Color X="0" Y="0" Z="255"/>'
        "<tr2:Enabled>true</tr2:Enabled></tr2:Mask></tr2:SetMask>",
    )
    assert status == 200
    status, listed = await media2(sim, "<tr2:GetMasks/>")
    points = [(p.get("x"), p.get("y")) for p in listed.iterfind(".//tt:Point", NS)]
    assert [m.get("token") for m in listed.iterfind(".//tr2:Masks", NS)] == [token]
    assert [(float(x), float(y)) for x, y in points] == [(0, 1), (1, 1), (1, -1), (0, -1)]
    picture = await asyncio.to_thread(sim.picture, "main")
    assert picture.getpixel((480, 250))[2] > 240

    status, _ = await media2(
        sim, f"<tr2:DeleteMask><tr2:Token>{token}</tr2:Token></tr2:DeleteMask>"
    )
    assert status == 200
    assert sim.mask_store == {}
    status, listed = await media2(sim, "<tr2:GetMasks/>")
    assert listed.find(".//tr2:Masks", NS) is None


async def test_bad_masks_are_refused_with_invalid_arg_val(sim: OnvifSimulator) -> None:
    two_points = polygon([(0, 0), (0.5, 0.5)])
    outside = polygon([(0, 0), (2, 0), (0, 1)])
    for points in (two_points, outside):
        status, reply = await media2(
            sim,
            f"<tr2:CreateMask><tr2:Mask><tr2:Polygon>{points}</tr2:Polygon>"
            "<tr2:Type>Color</tr2:Type><tr2:Enabled>true</tr2:Enabled></tr2:Mask>"
            "</tr2:CreateMask>",
        )
        assert status == 400
        codes = [v.text for v in reply.iterfind(".//s:Subcode/s:Value", NS)]
        assert "ter:InvalidArgVal" in codes
    status, reply = await media2(
        sim, "<tr2:DeleteMask><tr2:Token>nope</tr2:Token></tr2:DeleteMask>"
    )
    assert status == 400
    assert sim.mask_store == {}


async def test_media2_wrong_password_is_not_authorized(sim: OnvifSimulator) -> None:
    status, reply = await media2(sim, "<tr2:GetMasks/>", password="wrong")

    assert status == 400
    codes = [v.text for v in reply.iterfind(".//s:Subcode/s:Value", NS)]
    assert codes == ["ter:NotAuthorized"]
    assert sim.auth_failures == 1


# PTZ -------------------------------------------------------------------------------------


async def status_of(ptz: Any) -> tuple[PtzPosition, str]:
    """The position and pan/tilt move status GetStatus reports."""
    status = await ptz.GetStatus({"ProfileToken": "main"})
    position = PtzPosition(
        status.Position.PanTilt.x, status.Position.PanTilt.y, status.Position.Zoom.x
    )
    return position, status.MoveStatus.PanTilt


async def test_ptz_nodes_and_configuration(sim: OnvifSimulator, camera_for: CameraFor) -> None:
    ptz = await (await camera_for(sim)).create_ptz_service()

    nodes = await ptz.GetNodes()
    configurations = await ptz.GetConfigurations()
    configuration = await ptz.GetConfiguration({"PTZConfigurationToken": "ptz_config"})

    spaces = nodes[0].SupportedPTZSpaces
    assert spaces.AbsolutePanTiltPositionSpace[0].XRange.Min == -1.0
    assert spaces.AbsoluteZoomPositionSpace[0].XRange.Max == 1.0
    assert spaces.ContinuousPanTiltVelocitySpace[0].URI.endswith("VelocityGenericSpace")
    assert nodes[0].HomeSupported is True
    assert [c.token for c in configurations] == ["ptz_config"]
    assert configuration.NodeToken == nodes[0].token


async def test_continuous_move_integrates_velocity_and_stop_halts_it(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    ptz = await (await camera_for(sim)).create_ptz_service()

    started = time.monotonic()
    await ptz.ContinuousMove(
        {"ProfileToken": "main", "Velocity": {"PanTilt": {"x": 1.0, "y": -0.5}}, "Timeout": "PT10S"}
    )
    await asyncio.sleep(0.5)
    moving, move_status = await status_of(ptz)
    elapsed = time.monotonic() - started
    await ptz.Stop({"ProfileToken": "main", "PanTilt": True, "Zoom": True})
    stopped = sim.position
    await asyncio.sleep(0.3)
    still, idle_status = await status_of(ptz)

    # 0.5 units/s at full velocity: pan grows and tilt falls at half that.
    assert move_status == "MOVING"
    assert 0.2 < moving.pan <= 0.5 * elapsed + 0.01
    assert moving.tilt == pytest.approx(-moving.pan / 2, abs=0.02)
    assert idle_status == "IDLE"
    assert still.pan == pytest.approx(stopped.pan, abs=1e-4)
    assert sim.position == stopped


async def test_continuous_move_honours_timeout_and_limits(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    ptz = await (await camera_for(sim)).create_ptz_service()

    await ptz.ContinuousMove(
        {"ProfileToken": "main", "Velocity": {"Zoom": {"x": 1.0}}, "Timeout": "PT0.4S"}
    )
    await wait_until(lambda: _zoom_idle(ptz))
    after_timeout = sim.position.zoom
    sim.head.place(PtzPosition(0.9, 0.0, 0.0))
    await ptz.ContinuousMove(
        {"ProfileToken": "main", "Velocity": {"PanTilt": {"x": 1.0, "y": 0}}, "Timeout": "PT5S"}
    )
    await wait_until(lambda: _pan_tilt_idle(ptz))

    assert after_timeout == pytest.approx(0.2, abs=0.01)
    assert sim.position.pan == 1.0  # stopped at the end of the range, not beyond


async def _zoom_idle(ptz: Any) -> bool:
    return bool((await ptz.GetStatus({"ProfileToken": "main"})).MoveStatus.Zoom == "IDLE")


async def _pan_tilt_idle(ptz: Any) -> bool:
    return (await status_of(ptz))[1] == "IDLE"


async def test_absolute_and_relative_moves_travel_at_finite_speed(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    ptz = await (await camera_for(sim)).create_ptz_service()

    await ptz.AbsoluteMove(
        {
            "ProfileToken": "main",
            "Position": {"PanTilt": {"x": -0.5, "y": 0.25}, "Zoom": {"x": 0.5}},
            "Speed": {"PanTilt": {"x": 0.5, "y": 0.5}},
        }
    )
    on_the_way, status = await status_of(ptz)
    await wait_until(lambda: _pan_tilt_idle(ptz))
    arrived = sim.position
    await ptz.RelativeMove(
        {
            "ProfileToken": "main",
            "Translation": {"PanTilt": {"x": 0.25, "y": 0.0}, "Zoom": {"x": -0.25}},
            "Speed": {"PanTilt": {"x": 0.5, "y": 0.5}, "Zoom": {"x": 0.5}},
        }
    )
    await wait_until(lambda: _pan_tilt_idle(ptz))
    with pytest.raises(zeep.exceptions.Fault) as refused:
        await ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": 3, "y": 0}}})

    assert status == "MOVING"
    assert on_the_way.pan > -0.45  # 2 s at half speed (0.25 units/s): not there at once
    assert arrived.rounded() == PtzPosition(-0.5, 0.25, 0.5)
    assert sim.position.rounded() == PtzPosition(-0.25, 0.25, 0.25)
    assert "InvalidArgVal" in subcodes(refused.value)


async def test_presets_round_trip(sim: OnvifSimulator, camera_for: CameraFor) -> None:
    ptz = await (await camera_for(sim)).create_ptz_service()
    sim.head.place(PtzPosition(0.3, -0.2, 0.1))

    token = await ptz.SetPreset({"ProfileToken": "main", "PresetName": "Town hall"})
    sim.head.place(PtzPosition(-0.6, 0.4, 0.0))
    other = await ptz.SetPreset({"ProfileToken": "main", "PresetName": "Market"})
    presets = await ptz.GetPresets({"ProfileToken": "main"})
    await ptz.GotoPreset({"ProfileToken": "main", "PresetToken": token})
    await wait_until(lambda: _pan_tilt_idle(ptz))
    at_town_hall = sim.position
    sim.head.place(PtzPosition(0.0, 0.0, 0.5))
    same = await ptz.SetPreset({"ProfileToken": "main", "PresetToken": other})  # update
    await ptz.RemovePreset({"ProfileToken": "main", "PresetToken": token})
    with pytest.raises(zeep.exceptions.Fault) as missing:
        await ptz.GotoPreset({"ProfileToken": "main", "PresetToken": token})
    with pytest.raises(zeep.exceptions.Fault) as duplicate:
        await ptz.SetPreset({"ProfileToken": "main", "PresetName": "Market"})

    assert {p.Name: p.token for p in presets} == {"Town hall": token, "Market": other}
    assert presets[0].PTZPosition.PanTilt.x == pytest.approx(0.3)
    assert at_town_hall.rounded() == PtzPosition(0.3, -0.2, 0.1)
    assert same == other
    assert dict(sim.presets) == {other: ("Market", PtzPosition(0.0, 0.0, 0.5))}
    assert "NoToken" in subcodes(missing.value)
    assert "PresetExist" in subcodes(duplicate.value)


async def test_home_position(sim: OnvifSimulator, camera_for: CameraFor) -> None:
    ptz = await (await camera_for(sim)).create_ptz_service()
    sim.head.place(PtzPosition(0.1, 0.2, 0.3))

    await ptz.SetHomePosition({"ProfileToken": "main"})
    sim.head.place(PtzPosition(-0.4, -0.4, 0.0))
    await ptz.GotoHomePosition({"ProfileToken": "main"})
    await wait_until(lambda: _pan_tilt_idle(ptz))

    assert sim.home == PtzPosition(0.1, 0.2, 0.3)
    assert sim.position.rounded() == PtzPosition(0.1, 0.2, 0.3)


# Events ----------------------------------------------------------------------------------


def items(message: Any, part: str) -> dict[str, str]:
    """The SimpleItems of a notification's Source or Data."""
    return {item.Name: item.Value for item in getattr(message.Message._value_1, part).SimpleItem}


async def test_event_properties_list_the_topics(sim: OnvifSimulator, camera_for: CameraFor) -> None:
    events = await (await camera_for(sim)).create_events_service()

    properties = await events.GetEventProperties()

    topics = set()
    for root in properties.TopicSet._value_1:
        for element in root.iter():
            if element.get("{http://docs.oasis-open.org/wsn/t-1}topic") == "true":
                path = []
                node = element
                while node is not None and node is not root.getparent():
                    path.insert(0, node.tag.split("}")[1])
                    node = node.getparent()
                topics.add("tns1:" + "/".join(path))
    assert topics == {
        "tns1:VideoSource/MotionAlarm",
        "tns1:RuleEngine/CellMotionDetector/Motion",
        "tns1:VideoSource/GlobalSceneChange/ImagingService",
        "tns1:Device/Trigger/DigitalInput",
    }


async def test_pull_point_receives_a_fired_motion_event_within_a_second(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    pullpoint = manager.get_service()
    try:
        poll = asyncio.create_task(pullpoint.PullMessages({"MessageLimit": 10, "Timeout": "PT20S"}))
        await asyncio.sleep(0.3)  # the long poll is waiting now
        fired = time.monotonic()
        sim.fire_motion(active=True)
        reply = await asyncio.wait_for(poll, 5.0)
        latency = time.monotonic() - fired
    finally:
        await manager.shutdown()

    assert latency < 1.0
    topics = [m.Topic._value_1 for m in reply.NotificationMessage]
    assert topics == ["tns1:VideoSource/MotionAlarm", "tns1:RuleEngine/CellMotionDetector/Motion"]
    assert items(reply.NotificationMessage[0], "Data") == {"State": "true"}
    assert items(reply.NotificationMessage[1], "Data") == {"IsMotion": "true"}
    assert items(reply.NotificationMessage[0], "Source") == {"Source": "video_source"}
    assert sim.calls["Subscription.Unsubscribe"] == 1
    assert sim.events.subscriptions == {}


async def test_events_fired_from_another_thread_arrive(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    pullpoint = manager.get_service()
    try:
        poll = asyncio.create_task(pullpoint.PullMessages({"MessageLimit": 10, "Timeout": "PT20S"}))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(sim.fire_input, True, "input_2")
        reply = await asyncio.wait_for(poll, 5.0)
    finally:
        await manager.shutdown()

    assert [items(m, "Source") for m in reply.NotificationMessage] == [{"InputToken": "input_2"}]


async def test_pull_messages_honours_message_limit_and_timeout(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    pullpoint = manager.get_service()
    try:
        sim.fire_input(active=True)
        sim.fire_tampering(active=True)
        sim.fire_event(
            "tns1:Device/Trigger/DigitalInput", {"InputToken": "2"}, {"LogicalState": "false"}
        )
        first = await pullpoint.PullMessages({"MessageLimit": 2, "Timeout": "PT5S"})
        second = await pullpoint.PullMessages({"MessageLimit": 2, "Timeout": "PT5S"})
        started = time.monotonic()
        empty = await pullpoint.PullMessages({"MessageLimit": 2, "Timeout": "PT0.5S"})
        waited = time.monotonic() - started
    finally:
        await manager.shutdown()

    assert [m.Topic._value_1 for m in first.NotificationMessage] == [
        "tns1:Device/Trigger/DigitalInput",
        "tns1:VideoSource/GlobalSceneChange/ImagingService",
    ]
    assert len(second.NotificationMessage) == 1
    assert items(second.NotificationMessage[0], "Source") == {"InputToken": "2"}
    assert empty.NotificationMessage == []
    assert 0.4 < waited < 3.0


async def test_topic_filter_lets_only_the_chosen_topics_through(sim: OnvifSimulator) -> None:
    # Any prefix bound to the topics namespace will do; //. takes the subtopics too.
    status, created = await post_soap(
        sim.service_url("events"),
        "<tev:CreatePullPointSubscription><tev:Filter><wsnt:TopicExpression"
        ' xmlns:t="http://www.onvif.org/ver10/topics"'
        ' Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        "t:VideoSource/MotionAlarm|t:Device//.</wsnt:TopicExpression></tev:Filter>"
        "<tev:InitialTerminationTime>PT60S</tev:InitialTerminationTime>"
        "</tev:CreatePullPointSubscription>",
    )
    assert status == 200
    address = created.findtext(".//{http://www.w3.org/2005/08/addressing}Address")
    assert address is not None

    sim.fire_motion(active=True)  # MotionAlarm passes, the cell motion detector does not
    sim.fire_tampering(active=True)  # filtered out
    sim.fire_input(active=True)  # under Device//.
    status, pulled = await post_soap(
        address,
        "<tev:PullMessages><tev:Timeout>PT1S</tev:Timeout>"
        "<tev:MessageLimit>10</tev:MessageLimit></tev:PullMessages>",
    )

    assert status == 200
    topics = [t.text for t in pulled.iterfind(".//{http://docs.oasis-open.org/wsn/b-2}Topic")]
    assert topics == ["tns1:VideoSource/MotionAlarm", "tns1:Device/Trigger/DigitalInput"]


async def test_subscription_expires_and_renew_extends_it(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    events = await camera.create_events_service()
    short = await events.CreatePullPointSubscription({"InitialTerminationTime": "PT1S"})
    renewed = await events.CreatePullPointSubscription({"InitialTerminationTime": "PT2S"})
    short_url = short.SubscriptionReference.Address._value_1
    renewed_url = renewed.SubscriptionReference.Address._value_1
    namespace = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"

    camera.xaddrs[namespace] = renewed_url
    renew_manager = await camera.create_subscription_service("PullPointSubscription")
    reply = await renew_manager.Renew("PT30S")
    await asyncio.sleep(2.3)  # past both initial termination times
    renewed_pull = await (await camera.create_pullpoint_service()).PullMessages(
        {"MessageLimit": 1, "Timeout": "PT0S"}
    )
    camera.xaddrs[namespace] = short_url
    with pytest.raises(zeep.exceptions.Fault) as expired:
        await (await camera.create_pullpoint_service()).PullMessages(
            {"MessageLimit": 1, "Timeout": "PT0S"}
        )

    assert (reply.TerminationTime - reply.CurrentTime).total_seconds() == pytest.approx(30, abs=1)
    assert renewed_pull.NotificationMessage == []
    assert "ResourceUnknownFault" in subcodes(expired.value)


async def test_synchronization_point_repeats_the_current_state(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    sim.fire_tampering(active=True)  # before anyone subscribed
    camera = await camera_for(sim)
    manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    pullpoint = manager.get_service()
    try:
        initial = await pullpoint.PullMessages({"MessageLimit": 10, "Timeout": "PT1S"})
        await manager.set_synchronization_point()
        again = await pullpoint.PullMessages({"MessageLimit": 10, "Timeout": "PT1S"})
    finally:
        await manager.shutdown()

    for reply in (initial, again):
        operations = [m.Message._value_1.PropertyOperation for m in reply.NotificationMessage]
        assert operations == ["Initialized"]


# Life cycle ------------------------------------------------------------------------------


async def test_restart_keeps_presets_and_drops_subscriptions(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    ptz = await camera.create_ptz_service()
    token = await ptz.SetPreset({"ProfileToken": "main", "PresetName": "Gate"})
    manager = await camera.create_pullpoint_manager(dt.timedelta(seconds=60), lambda: None)
    pullpoint = manager.get_service()
    poll = asyncio.create_task(pullpoint.PullMessages({"MessageLimit": 1, "Timeout": "PT20S"}))
    await asyncio.sleep(0.2)
    port = sim.port

    await sim.restart()

    with pytest.raises((aiohttp.ClientError, OSError)):  # cut off with the device
        await asyncio.wait_for(poll, 10.0)
    with pytest.raises(zeep.exceptions.Fault) as lost:
        await pullpoint.PullMessages({"MessageLimit": 1, "Timeout": "PT0S"})
    presets = await ptz.GetPresets({"ProfileToken": "main"})
    await manager.shutdown()

    assert sim.port == port
    assert sim.reboots == 1
    assert "ResourceUnknownFault" in subcodes(lost.value)
    assert [p.token for p in presets] == [token]


async def test_system_reboot_comes_back_on_the_same_port(
    onvif_simulator_factory: Factory, camera_for: CameraFor
) -> None:
    sim = await onvif_simulator_factory(video=False, reboot_downtime_s=0.3)
    camera = await camera_for(sim)
    device = await camera.create_devicemgmt_service()

    reply = await device.SystemReboot()
    deadline = time.monotonic() + 10
    while sim.reboots == 0 or not sim.running:
        assert time.monotonic() < deadline, "the device did not come back"
        await asyncio.sleep(0.05)
    info = await device.GetDeviceInformation()

    assert reply == "Rebooting"
    assert info.Manufacturer == "Cityhub"


async def test_offline_device_refuses_connections_until_back(
    sim: OnvifSimulator, camera_for: CameraFor
) -> None:
    camera = await camera_for(sim)
    device = await camera.create_devicemgmt_service()
    await sim.go_offline()

    with pytest.raises((aiohttp.ClientError, OSError)):
        await device.GetDeviceInformation()
    await sim.go_online()
    info = await device.GetDeviceInformation()
    await sim.outage(0.5)
    with pytest.raises((aiohttp.ClientError, OSError)):
        await device.GetDeviceInformation()
    await wait_until(lambda: _running(sim))
    again = await device.GetDeviceInformation()

    assert info.Manufacturer == again.Manufacturer == "Cityhub"
    assert sim.reboots == 0


async def _running(sim: OnvifSimulator) -> bool:
    return sim.running


async def test_listeners_hear_when_the_device_comes_and_goes() -> None:
    heard: list[tuple[str, bool]] = []
    sim = OnvifSimulator(video=False)
    sim.listeners.append(lambda state: heard.append((state, sim.running)))
    sim.listeners.append(lambda state: 1 / 0)  # a failing listener does not stop the others

    async with sim:
        await sim.restart()
        await sim.go_offline()
        await sim.go_online()

    assert heard == [
        ("online", True),
        ("offline", False),
        ("online", True),
        ("offline", False),
        ("online", True),
        ("offline", False),
    ]


async def test_command_line_serves_until_quit() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cityhub.testing.onvif", "--port", "0", "--no-video",
        "--manufacturer", "Demo", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = first.split("device service: ", 1)[1].strip()
        port = int(url.split(":")[2].split("/")[0])
        camera = ONVIFCamera("127.0.0.1", port, USER, PASSWORD)
        try:
            await camera.update_xaddrs()
            info = await (await camera.create_devicemgmt_service()).GetDeviceInformation()
        finally:
            await camera.close()
        process.stdin.write(b"motion on\nquit\n")
        await process.stdin.drain()
        code = await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert url.endswith("/onvif/device_service")
    assert info.Manufacturer == "Demo"
    assert code == 0


async def test_calls_are_counted_per_operation(sim: OnvifSimulator, camera_for: CameraFor) -> None:
    camera = await camera_for(sim)
    media = await camera.create_media_service()
    for _ in range(3):
        await media.GetProfiles()

    assert sim.calls["Media.GetProfiles"] == 3
    assert sim.calls["Device.GetServices"] == 1
    assert sim.auth_failures == 0
