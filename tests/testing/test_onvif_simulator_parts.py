"""The simulator's parts on their own: WS-Security checks, durations, PTZ mechanics, picture."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import xml.etree.ElementTree as ET

import pytest

from cityhub.testing.onvif import Mask, OnvifSimulator, PtzPosition
from cityhub.testing.onvif.ptz import PtzHead
from cityhub.testing.onvif.scene import Scene, crop_box, read_marker
from cityhub.testing.onvif.soap import (
    Credentials,
    SoapFault,
    check_username_token,
    fault_envelope,
    parse_duration,
    parse_request,
    parse_termination,
)

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
CREDENTIALS = Credentials("admin", "onvif-secret")


def header(user: str, password: str, created: str, *, digest: bool = True) -> ET.Element:
    """A SOAP header with a UsernameToken for ``password`` (digested with a fixed nonce)."""
    nonce = b"0123456789abcdef"
    if digest:
        value = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode()).digest()
        ).decode()
        kind = "PasswordDigest"
    else:
        value, kind = password, "PasswordText"
    xml = (
        f'<h:Header xmlns:h="http://www.w3.org/2003/05/soap-envelope"><wsse:Security'
        f' xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
        f"<wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{PROFILE}#{kind}">{value}</wsse:Password>'
        f"<wsse:Nonce>{base64.b64encode(nonce).decode()}</wsse:Nonce>"
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></h:Header>"
    )
    return ET.fromstring(xml)


@pytest.mark.parametrize("digest", [True, False])
def test_username_token_accepts_the_right_password_only(digest: bool) -> None:
    created = "2026-03-01T12:00:05Z"

    good = check_username_token(
        header("admin", "onvif-secret", created, digest=digest), CREDENTIALS, NOW, None
    )
    wrong_password = check_username_token(
        header("admin", "onvif-secret!", created, digest=digest), CREDENTIALS, NOW, None
    )
    wrong_user = check_username_token(
        header("root", "onvif-secret", created, digest=digest), CREDENTIALS, NOW, None
    )

    assert good is None
    assert wrong_password == wrong_user == "wrong user name or password"
    assert check_username_token(None, CREDENTIALS, NOW, None) == "no WS-Security UsernameToken"


def test_username_token_too_far_from_the_device_clock_is_refused() -> None:
    late = header("admin", "onvif-secret", "2026-03-01T12:10:00Z")
    close = header("admin", "onvif-secret", "2026-03-01T11:59:40Z")

    assert check_username_token(late, CREDENTIALS, NOW, None) is None  # no check by default
    assert "too far" in (check_username_token(late, CREDENTIALS, NOW, 60.0) or "")
    assert check_username_token(close, CREDENTIALS, NOW, 60.0) is None


def test_durations_and_termination_times() -> None:
    assert parse_duration("PT10S") == 10
    assert parse_duration("PT1M30.5S") == 90.5
    assert parse_duration("P1DT1H") == 90000
    assert parse_termination("PT60S", NOW, 5) == NOW + dt.timedelta(seconds=60)
    assert parse_termination("2026-03-01T12:05:00Z", NOW, 5) == NOW + dt.timedelta(minutes=5)
    assert parse_termination(None, NOW, 5) == NOW + dt.timedelta(seconds=5)
    for bad in ("10", "PT", "PTxS"):
        with pytest.raises(SoapFault) as fault:
            parse_duration(bad)
        assert fault.value.subcodes == ("InvalidArgVal",)


def test_faults_nest_their_subcodes() -> None:
    text = fault_envelope(SoapFault("no such profile", "InvalidArgVal", "NoProfile"))

    root = ET.fromstring(text)
    ns = {"env": "http://www.w3.org/2003/05/soap-envelope"}
    values = [v.text for v in root.iterfind(".//env:Value", ns)]
    assert values == ["env:Sender", "ter:InvalidArgVal", "ter:NoProfile"]
    assert root.findtext(".//env:Text", namespaces=ns) == "no such profile"


def test_requests_that_are_not_envelopes_are_refused() -> None:
    for data in (b"<x", b"<a/>", b'<e:Envelope xmlns:e="urn:e"><e:Body/></e:Envelope>'):
        with pytest.raises(SoapFault):
            parse_request(data)


class FakeClock:
    """A clock the test moves by hand (the head reads it; nothing waits on it)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_continuous_move_integrates_and_clamps() -> None:
    clock = FakeClock()
    head = PtzHead(units_per_s=0.5, clock=clock)

    head.continuous(1.0, -0.5, None, seconds=10.0)
    clock.now += 1.0
    after_one_second = head.position
    clock.now += 10.0
    after_timeout = head.position
    head.continuous(None, None, 1.0, seconds=1.0)
    clock.now += 0.5

    assert after_one_second == PtzPosition(0.5, -0.25, 0.0)
    assert after_timeout == PtzPosition(1.0, -1.0, 0.0)  # the range ends before the timeout
    assert head.position.zoom == 0.25
    assert head.moving() == (False, True)


def test_goto_travels_at_its_speed_and_stop_freezes() -> None:
    clock = FakeClock()
    head = PtzHead(units_per_s=0.5, clock=clock)

    head.goto(-0.5, 0.5, 1.0, speed_pan_tilt=1.0, speed_zoom=0.5)
    clock.now += 0.5
    halfway = head.position
    head.stop(pan_tilt=True, zoom=False)
    clock.now += 10.0

    assert halfway == PtzPosition(-0.25, 0.25, 0.125)
    assert head.position == PtzPosition(-0.25, 0.25, 1.0)
    assert head.moving() == (False, False)


def test_crop_follows_pan_tilt_and_zoom() -> None:
    size, out = (1920, 1080), (640, 360)

    centre = crop_box(size, out, PtzPosition())
    right = crop_box(size, out, PtzPosition(1.0, 0.0, 0.0))
    up_zoomed = crop_box(size, out, PtzPosition(0.0, 1.0, 1.0))

    assert centre == (480, 270, 1440, 810)
    assert right[2] == 1920  # the right edge of the scene
    assert up_zoomed[1] == 0  # the top edge
    assert up_zoomed[2] - up_zoomed[0] == 1920 / 8


@pytest.mark.parametrize(
    "position",
    [PtzPosition(0.0, 0.0, 0.0), PtzPosition(-1.0, 1.0, 1.0), PtzPosition(0.37, -0.62, 0.81)],
)
def test_marker_reads_back_the_position(position: PtzPosition) -> None:
    scene = Scene(320, 180)

    seen = read_marker(scene.render((320, 180), position))

    assert seen is not None
    assert seen.pan == pytest.approx(position.pan, abs=0.002)
    assert seen.tilt == pytest.approx(position.tilt, abs=0.002)
    assert seen.zoom == pytest.approx(position.zoom, abs=0.001)


def test_masks_are_filled_and_disabled_ones_are_not() -> None:
    scene = Scene(320, 180)
    square = ((-0.5, 0.5), (0.5, 0.5), (0.5, -0.5), (-0.5, -0.5))

    shown = scene.render((320, 180), PtzPosition(), [Mask("m1", square, color=(0, 255, 0))])
    hidden = scene.render(
        (320, 180), PtzPosition(), [Mask("m1", square, color=(0, 255, 0), enabled=False)]
    )

    assert shown.getpixel((160, 90)) == (0, 255, 0)
    assert shown.getpixel((20, 170)) != (0, 255, 0)  # outside the square
    assert hidden.getpixel((160, 90)) != (0, 255, 0)


def test_bad_options_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="even and at least 64x64"):
        OnvifSimulator(main_size=(641, 360))
    with pytest.raises(ValueError, match="snapshot_auth"):
        OnvifSimulator(snapshot_auth="ntlm")
    with pytest.raises(ValueError, match="choose one of main, sub"):
        OnvifSimulator(video=False).rtsp_url("third")
    with pytest.raises(ValueError, match="choose one of main, sub"):
        OnvifSimulator(video=False).picture("third")


async def test_a_busy_port_is_reported_and_nothing_is_left_running() -> None:
    async with OnvifSimulator(video=False) as first:
        second = OnvifSimulator(port=first.port, video=True)
        with pytest.raises(OSError, match="in use"):
            await second.start()

    assert not second.running
    assert second.rtsp_server is None  # the RTSP server it started is stopped again
    assert second.frames_encoded == {}
