"""The ONVIF camera simulator: an aiohttp server speaking SOAP 1.2 on loopback."""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import inspect
import itertools
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from aiohttp import web

from cityhub.testing.onvif.device import DeviceService
from cityhub.testing.onvif.events import (
    CELL_MOTION,
    DIGITAL_INPUT,
    MOTION_ALARM,
    TAMPERING,
    EventMessage,
    EventsService,
)
from cityhub.testing.onvif.media import (
    VIDEO_SOURCE_CONFIGURATION_TOKEN,
    VIDEO_SOURCE_TOKEN,
    Mask,
    Media2Service,
    MediaProfile,
    MediaService,
)
from cityhub.testing.onvif.ptz import Preset, PtzHead, PtzPosition, PtzService
from cityhub.testing.onvif.soap import (
    CONTENT_TYPE,
    NAMESPACES,
    Credentials,
    SoapFault,
    SoapRequest,
    check_username_token,
    envelope,
    fault_envelope,
    parse_request,
)

if TYPE_CHECKING:
    from cityhub.testing.onvif.video import LiveVideo
    from cityhub.testing.rtsp import RtspTestServer

__all__ = ["OPEN_OPERATIONS", "OnvifSimulator"]

_LOGGER = logging.getLogger(__name__)

OPEN_OPERATIONS = frozenset(
    {
        "Device.GetSystemDateAndTime",
        "Device.GetServices",
        "Device.GetServiceCapabilities",
        "Device.GetCapabilities",
        "Device.GetWsdlUrl",
        "Device.GetEndpointReference",
    }
)
"""Operations answered without WS-Security, as ONVIF's PRE_AUTH access class allows."""
SERVICE_PATHS = {
    "device": ("Device", "/onvif/device_service", "tds"),
    "media": ("Media", "/onvif/media_service", "trt"),
    "media2": ("Media2", "/onvif/media2_service", "tr2"),
    "ptz": ("PTZ", "/onvif/ptz_service", "tptz"),
    "events": ("Events", "/onvif/events_service", "tev"),
}
SUBSCRIPTION_PATH = "/onvif/subscription/"
SNAPSHOT_PATH = "/onvif/snapshot/"
REALM = "SimCam"
_DIGEST_FIELD = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')
_serial_numbers = itertools.count(1)


class OnvifSimulator:
    """An ONVIF Profile S/T camera on loopback that real ONVIF clients talk to unmodified.

    Device, Media, Media2 (with privacy masks), PTZ and Events (PullPoint) services, a JPEG
    snapshot over HTTP digest authentication and, with ``video=True``, live H.264 of a
    street scene that follows the PTZ position, served by an :class:`RtspTestServer`.
    An async context manager; state such as :attr:`position`, :attr:`presets`, :attr:`calls`
    stays readable for tests.
    """

    def __init__(
        self,
        username: str = "admin",
        password: str = "onvif-secret",  # noqa: S107 - the simulator's documented default
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        video: bool = True,
        rtsp_server: RtspTestServer | None = None,
        manufacturer: str = "Cityhub",
        model: str = "SimCam PTZ",
        firmware: str = "1.0.0",
        serial: str | None = None,
        hardware_id: str = "SIM-1",
        ptz: bool = True,
        masks: bool = True,
        clock_offset_s: float = 0.0,
        main_size: tuple[int, int] = (640, 360),
        sub_size: tuple[int, int] = (320, 180),
        fps: float = 12.5,
        ptz_units_per_s: float = 0.5,
        open_operations: frozenset[str] = OPEN_OPERATIONS,
        auth_max_skew_s: float | None = None,
        rtsp_auth: bool = True,
        snapshot_auth: str = "digest",
        reboot_downtime_s: float = 2.0,
        not_authorized_status: int = 400,
    ) -> None:
        if snapshot_auth not in ("digest", "basic", "none"):
            raise ValueError(
                f"snapshot_auth must be 'digest', 'basic' or 'none', not {snapshot_auth!r}"
            )
        for name, (width, height) in (("main_size", main_size), ("sub_size", sub_size)):
            if width < 64 or height < 64 or width % 2 or height % 2:
                raise ValueError(f"{name} must be even and at least 64x64, not {width}x{height}")
        if not 1 <= fps <= 60:
            raise ValueError(f"fps must be between 1 and 60, not {fps}")
        self.credentials = Credentials(username, password)
        self.host = host
        self.port = port
        self.video = video
        self.rtsp_server = rtsp_server
        self.manufacturer = manufacturer
        self.model = model
        self.firmware = firmware
        number = next(_serial_numbers)
        self.serial = serial or f"SIM{number:06d}"
        self.hardware_id = hardware_id
        self.mac_address = "02:00:00:" + ":".join(
            f"{number >> shift & 255:02x}" for shift in (16, 8, 0)
        )
        self.ptz = ptz
        self.masks = masks
        self.clock_offset_s = clock_offset_s
        self.open_operations = open_operations
        self.auth_max_skew_s = auth_max_skew_s
        self.rtsp_auth = rtsp_auth
        self.snapshot_auth = snapshot_auth
        self.reboot_downtime_s = reboot_downtime_s
        self.not_authorized_status = not_authorized_status
        """The HTTP status of NotAuthorized faults: 400 as ONVIF says, 401 as some cameras do."""
        """How long SystemReboot keeps the device away."""
        gop = max(1, round(fps))
        self.profiles = [
            MediaProfile("main", "Main stream", *main_size, fps, 1_000_000, gop),
            MediaProfile("sub", "Sub stream", *sub_size, fps, 250_000, gop),
        ]
        self.head = PtzHead(ptz_units_per_s)
        self.presets: dict[str, Preset] = {}
        """Stored presets: token -> (name, position)."""
        self.home = PtzPosition()
        self.mask_store: dict[str, Mask] = {}
        """Privacy masks by token (read it; change it through :meth:`set_mask`)."""
        self.calls: collections.Counter[str] = collections.Counter()
        """Requests received per ``Service.Operation`` (authenticated or not)."""
        self.auth_failures = 0
        """Requests refused for their credentials (SOAP, snapshot)."""
        self.snapshots = 0
        """Snapshots served."""
        self.reboots = 0
        self.device = DeviceService(self)
        self.media = MediaService(self)
        self.media2 = Media2Service(self)
        self.ptz_service = PtzService(self)
        self.events = EventsService(self)
        self._preset_numbers = itertools.count(1)
        self._mask_numbers = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._own_rtsp = False
        self._video: LiveVideo | None = None
        self._scene: Any = None
        self._nonces: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.listeners: list[Callable[[str], None]] = []
        """Called with ``"online"`` once the device answers and ``"offline"`` when its port
        closes (stop, restart, go_offline): where a WS-Discovery responder sends its Hello and
        Bye. Called in the event loop; an exception in one is logged and ignored."""

    # Addresses --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def device_url(self) -> str:
        """The device service address (what WS-Discovery announces as XAddrs)."""
        return self.service_url("device")

    def service_url(self, name: str) -> str:
        """The address of service ``name`` (device, media, media2, ptz, events)."""
        return self.base_url + SERVICE_PATHS[name][1]

    def subscription_url(self, sid: str) -> str:
        """The address of PullPoint subscription ``sid``."""
        return f"{self.base_url}{SUBSCRIPTION_PATH}{sid}"

    def snapshot_url(self, profile: str) -> str:
        """The HTTP URL of a profile's JPEG snapshot (no credentials in it)."""
        return f"{self.base_url}{SNAPSHOT_PATH}{quote(profile)}.jpg"

    def rtsp_path(self, profile: str) -> str:
        """The RTSP mount path of a profile, unique per simulator port."""
        return f"/onvif{self.port}/{profile}"

    def rtsp_url(self, profile: str = "main") -> str:
        """The RTSP URL of a profile, without credentials (a client adds its own).

        Without video nothing serves it: the URL then names port 554 of the host.
        """
        if profile not in self.profile_tokens:
            raise ValueError(
                f"no profile {profile!r}: choose one of {', '.join(self.profile_tokens)}"
            )
        server = self.rtsp_server
        if self.video and server is not None:
            return server.url(self.rtsp_path(profile))
        return f"rtsp://{self.host}:554{self.rtsp_path(profile)}"

    @property
    def profile_tokens(self) -> list[str]:
        """The media profiles' tokens (``main``, ``sub``)."""
        return [profile.token for profile in self.profiles]

    @property
    def source_size(self) -> tuple[int, int]:
        """The video source's resolution (the main profile's)."""
        return self.profiles[0].width, self.profiles[0].height

    @property
    def hostname(self) -> str:
        """The device's host name."""
        return f"simcam-{self.serial.lower()}"

    @property
    def scopes(self) -> list[str]:
        """The device's ONVIF scopes, for GetScopes and a WS-Discovery responder."""
        kinds = ["video_encoder", "Network_Video_Transmitter"] + (["ptz"] if self.ptz else [])
        return [
            *(f"onvif://www.onvif.org/type/{kind}" for kind in kinds),
            "onvif://www.onvif.org/Profile/Streaming",
            "onvif://www.onvif.org/Profile/T",
            f"onvif://www.onvif.org/hardware/{quote(self.model)}",
            f"onvif://www.onvif.org/name/{quote(self.manufacturer)}",
            f"onvif://www.onvif.org/serial/{quote(self.serial)}",
        ]

    # State a test reads or sets ----------------------------------------------------------

    @property
    def position(self) -> PtzPosition:
        """Where the PTZ head is now (pan, tilt in -1..1, zoom in 0..1)."""
        return self.head.position

    @property
    def running(self) -> bool:
        """Whether the device answers (its port is open)."""
        return self._runner is not None

    def device_time(self) -> dt.datetime:
        """The device clock: the host's UTC time plus ``clock_offset_s``."""
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.clock_offset_s)

    def new_preset_token(self) -> str:
        """A preset token not used yet."""
        while (token := f"preset_{next(self._preset_numbers)}") in self.presets:
            pass
        return token

    def new_mask_token(self) -> str:
        """A mask token not used yet."""
        while (token := f"mask_{next(self._mask_numbers)}") in self.mask_store:
            pass
        return token

    def set_mask(self, mask: Mask) -> None:
        """Add or replace a privacy mask (drawn into the picture from the next frame)."""
        self.mask_store = {**self.mask_store, mask.token: mask}  # encoder threads read it

    def delete_mask(self, token: str) -> None:
        """Remove a privacy mask."""
        self.mask_store = {k: v for k, v in self.mask_store.items() if k != token}

    # Events -----------------------------------------------------------------------------

    def fire_event(
        self, topic: str, source: Mapping[str, str], data: Mapping[str, str]
    ) -> EventMessage:
        """Send a notification on ``topic`` (``tns1:...``) to every subscription."""
        return self.events.fire(topic, source, data)

    def fire_motion(self, active: bool = True) -> None:
        """Motion starts or stops: both MotionAlarm and the cell motion detector, as cameras
        send."""
        value = "true" if active else "false"
        self.events.fire(MOTION_ALARM, {"Source": VIDEO_SOURCE_TOKEN}, {"State": value})
        self.events.fire(
            CELL_MOTION,
            {
                "VideoSourceConfigurationToken": VIDEO_SOURCE_CONFIGURATION_TOKEN,
                "VideoAnalyticsConfigurationToken": "analytics",
                "Rule": "MyMotionDetectorRule",
            },
            {"IsMotion": value},
        )

    def fire_tampering(self, active: bool = True) -> None:
        """The picture is covered or turned away (global scene change), or back."""
        value = "true" if active else "false"
        self.events.fire(TAMPERING, {"Source": VIDEO_SOURCE_TOKEN}, {"State": value})

    def fire_input(self, active: bool = True, token: str = "input_1") -> None:  # noqa: S107
        """A digital input closes or opens."""
        value = "true" if active else "false"
        self.events.fire(DIGITAL_INPUT, {"InputToken": token}, {"LogicalState": value})

    # Life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (and start the live video the first time); returns once it answers."""
        if self._runner is not None:
            return
        self.events.bind(asyncio.get_running_loop())
        if self.video and self._video is None:
            await self._async_start_video()
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/onvif/{service}", self._async_handle_service)
        app.router.add_post(SUBSCRIPTION_PATH + "{sid}", self._async_handle_subscription)
        app.router.add_get(SNAPSHOT_PATH + "{name}", self._async_handle_snapshot)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            await self._async_stop_video()
            raise
        self._runner = runner
        server = site._server
        if self.port == 0 and server is not None:
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1])
            if self._video is not None:
                await self._async_mount_video()
        self._notify("online")

    def _notify(self, state: str) -> None:
        for listener in list(self.listeners):
            try:
                listener(state)
            except Exception:
                _LOGGER.exception("an ONVIF simulator listener failed on %r", state)

    async def stop(self) -> None:
        """Close the port and stop the live video (and the RTSP server it started).

        With an ``rtsp_server`` given by the caller, the paths stay on that server (unmounted):
        another simulator cannot serve video on the same port of it afterwards.
        """
        await self._async_close_http()
        for task in list(self._tasks):
            task.cancel()
        self.events.drop_all()
        await self._async_stop_video()

    async def _async_stop_video(self) -> None:
        video, self._video = self._video, None
        server = self.rtsp_server
        if video is not None and server is not None and not self._own_rtsp and server.running:
            for profile in self.profiles:  # a shared server: drop this camera's viewers
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(server.stop_path, self.rtsp_path(profile.token))
        if video is not None:
            await asyncio.to_thread(video.stop)
        if self._own_rtsp and self.rtsp_server is not None:
            await self.rtsp_server.async_stop()
            self.rtsp_server = None
            self._own_rtsp = False

    async def go_offline(self) -> None:
        """Stop answering (the port closes) without rebooting: subscriptions live on."""
        await self._async_close_http()

    async def go_online(self) -> None:
        """Answer again after :meth:`go_offline`."""
        await self.start()

    async def outage(self, seconds: float) -> None:
        """Go offline now and come back by itself ``seconds`` later (returns once offline)."""
        await self.go_offline()

        async def back() -> None:
            await asyncio.sleep(seconds)
            await self.go_online()

        task = asyncio.get_running_loop().create_task(back())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def restart(self, downtime_s: float = 0.0) -> None:
        """Reboot: the port closes, RTSP clients are dropped, every subscription is lost;
        after ``downtime_s`` it answers on the same port with the same presets and masks."""
        await self._async_close_http()
        self.events.drop_all()
        self.head.stop()
        self.reboots += 1
        if self._video is not None and self.rtsp_server is not None:
            for profile in self.profiles:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self.rtsp_server.stop_path, self.rtsp_path(profile.token)
                    )
        if downtime_s > 0:
            await asyncio.sleep(downtime_s)
        if self._video is not None and self.rtsp_server is not None:
            for profile in self.profiles:
                await asyncio.to_thread(self.rtsp_server.start_path, self.rtsp_path(profile.token))
        await self.start()

    def schedule_reboot(self, downtime_s: float = 2.0) -> None:
        """Reboot in the background shortly after answering (SystemReboot)."""

        async def reboot() -> None:
            await asyncio.sleep(0.2)
            await self.restart(downtime_s)

        task = asyncio.get_running_loop().create_task(reboot())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _async_close_http(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self.events.cut_polls()
            await runner.cleanup()
            self._notify("offline")  # pending long polls are cut off, as by a power cut

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # Video and pictures ---------------------------------------------------------------------

    def scene(self) -> Any:
        """The scene renderer (made on first use; needs Pillow)."""
        if self._scene is None:
            from cityhub.testing.onvif.scene import Scene

            self._scene = Scene(*self.source_size)
        return self._scene

    def picture(self, profile: str = "main") -> Any:
        """The profile's current picture as a Pillow image (blocking: call it in a thread)."""
        for candidate in self.profiles:
            if candidate.token == profile:
                return self.picture_at((candidate.width, candidate.height))
        choices = ", ".join(self.profile_tokens)
        raise ValueError(f"no profile {profile!r}: choose one of {choices}")

    def picture_at(self, size: tuple[int, int]) -> Any:
        """The current picture at ``size`` (thread-safe; blocking: not in the event loop)."""
        return self.scene().render(size, self.head.position, list(self.mask_store.values()))

    def snapshot_jpeg(self, profile: str = "main") -> bytes:
        """The profile's current picture as JPEG bytes (blocking: call it in a thread)."""
        import io

        out = io.BytesIO()
        self.picture(profile).save(out, "JPEG", quality=85)
        return out.getvalue()

    async def _async_start_video(self) -> None:
        from cityhub.testing.onvif.video import LiveVideo
        from cityhub.testing.rtsp import RtspTestServer

        if self.rtsp_server is None:
            self.rtsp_server = RtspTestServer(host=self.host)
            self._own_rtsp = True
        if not self.rtsp_server.running:
            await self.rtsp_server.async_start()
        await asyncio.to_thread(self.scene)
        self._video = LiveVideo(self)
        await asyncio.to_thread(self._video.start)
        if self.port != 0:
            await self._async_mount_video()

    async def _async_mount_video(self) -> None:
        assert self._video is not None
        assert self.rtsp_server is not None
        user = self.credentials.username if self.rtsp_auth else None
        password = self.credentials.password if self.rtsp_auth else None
        for profile in self.profiles:
            path = self.rtsp_path(profile.token)
            feed_port = self._video.feed_port(profile.token)
            await asyncio.to_thread(
                self.rtsp_server.add_live,
                path,
                feed_port,
                profile.fps,
                user=user,
                password=password,
            )

    @property
    def frames_encoded(self) -> dict[str, int]:
        """Frames encoded so far per profile (encoding runs only while someone watches)."""
        return {} if self._video is None else self._video.frames_encoded()

    # HTTP handlers ----------------------------------------------------------------------------

    async def _async_handle_service(self, request: web.Request) -> web.Response:
        key = request.match_info["service"].removesuffix("_service")
        if key not in SERVICE_PATHS or (key == "ptz" and not self.ptz):
            return web.Response(status=404, text=f"no ONVIF service at {request.path}\n")
        name, _path, prefix = SERVICE_PATHS[key]
        service = {
            "device": self.device,
            "media": self.media,
            "media2": self.media2,
            "ptz": self.ptz_service,
            "events": self.events,
        }[key]
        return await self._async_dispatch(request, name, {NAMESPACES[prefix]}, service, None)

    async def _async_handle_subscription(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        namespaces = {NAMESPACES["tev"], NAMESPACES["wsnt"]}
        return await self._async_dispatch(request, "Subscription", namespaces, self.events, sid)

    async def _async_dispatch(
        self,
        request: web.Request,
        service_name: str,
        namespaces: set[str],
        service: object,
        sid: str | None,
    ) -> web.Response:
        data = await request.read()
        try:
            soap = parse_request(data)
            operation = soap.operation
            self.calls[f"{service_name}.{operation}"] += 1
            if soap.namespace not in namespaces:
                raise _not_supported(service_name, operation)
            self._authenticate(soap, f"{service_name}.{operation}")
            body = await self._async_run(service, service_name, operation, soap, sid)
        except SoapFault as fault:
            return web.Response(
                status=fault.status,
                body=fault_envelope(fault).encode(),
                content_type="application/soap+xml",
                charset="utf-8",
            )
        except Exception:
            _LOGGER.exception("the ONVIF simulator failed on a %s request", service_name)
            failure = SoapFault("the simulator failed on this request", code="Receiver")
            return web.Response(
                status=500,
                body=fault_envelope(failure).encode(),
                content_type="application/soap+xml",
            )
        return web.Response(body=envelope(body).encode(), headers={"Content-Type": CONTENT_TYPE})

    def _authenticate(self, soap: SoapRequest, qualified: str) -> None:
        if qualified in self.open_operations:
            return
        why = check_username_token(
            soap.header, self.credentials, self.device_time(), self.auth_max_skew_s
        )
        if why is not None:
            self.auth_failures += 1
            raise SoapFault(
                f"Sender not authorized: {why}", "NotAuthorized", status=self.not_authorized_status
            )

    async def _async_run(
        self, service: object, service_name: str, operation: str, soap: SoapRequest, sid: str | None
    ) -> str:
        if sid is not None:
            if operation == "PullMessages":
                return await self.events.async_pull_messages(sid, soap)
            if operation in ("Renew", "Unsubscribe", "SetSynchronizationPoint"):
                method: Callable[[str, SoapRequest], str] = getattr(self.events, operation)
                return method(sid, soap)
            raise _not_supported(service_name, operation)
        handler = getattr(service, operation, None) if operation[:1].isupper() else None
        if handler is None or operation in ("PullMessages", "Renew", "Unsubscribe"):
            raise _not_supported(service_name, operation)
        result = handler(soap)
        if inspect.isawaitable(result):
            result = await result
        assert isinstance(result, str)
        return result

    async def _async_handle_snapshot(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        profile = name.removesuffix(".jpg")
        if profile not in self.profile_tokens or not name.endswith(".jpg"):
            return web.Response(status=404, text=f"no snapshot {name}\n")
        self.calls["Snapshot.GET"] += 1
        refusal = self._check_http_auth(request)
        if refusal is not None:
            return refusal
        try:
            jpeg = await asyncio.to_thread(self.snapshot_jpeg, profile)
        except ImportError:
            return web.Response(status=503, text="snapshots need Pillow: pip install pillow\n")
        self.snapshots += 1
        return web.Response(body=jpeg, content_type="image/jpeg")

    def _check_http_auth(self, request: web.Request) -> web.Response | None:
        """``None`` when the request carries good credentials, else the 401 to send."""
        if self.snapshot_auth == "none":
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        user, password = self.credentials.username, self.credentials.password
        if header:
            ok = False
            if scheme.lower() == "basic" and self.snapshot_auth == "basic":
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    decoded = base64.b64decode(value, validate=True).decode()
                    ok = hmac.compare_digest(decoded, f"{user}:{password}")
            elif scheme.lower() == "digest" and self.snapshot_auth == "digest":
                ok = self._digest_ok(request.method, value)
            if ok:
                return None
            self.auth_failures += 1
        if self.snapshot_auth == "basic":
            challenge = f'Basic realm="{REALM}"'
        else:
            nonce = secrets.token_hex(16)
            self._nonces.add(nonce)
            if len(self._nonces) > 1000:
                self._nonces.pop()
            challenge = f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'
        return web.Response(
            status=401, text="401 Unauthorized\n", headers={"WWW-Authenticate": challenge}
        )

    def _digest_ok(self, method: str, value: str) -> bool:
        fields = {
            m.group(1).lower(): m.group(2) or m.group(3) for m in _DIGEST_FIELD.finditer(value)
        }
        nonce = fields.get("nonce", "")
        if nonce not in self._nonces or fields.get("username") != self.credentials.username:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - HTTP digest is MD5

        ha1 = md5(f"{self.credentials.username}:{REALM}:{self.credentials.password}")
        ha2 = md5(f"{method}:{fields.get('uri', '')}")
        if fields.get("qop"):
            expected = md5(
                f"{ha1}:{nonce}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:"
                f"{fields['qop']}:{ha2}"
            )
        else:
            expected = md5(f"{ha1}:{nonce}:{ha2}")
        return hmac.compare_digest(expected, fields.get("response", ""))


def _not_supported(service: str, operation: str) -> SoapFault:
    return SoapFault(
        f"the {service} service has no operation {operation}",
        "ActionNotSupported",
        code="Receiver",
    )
