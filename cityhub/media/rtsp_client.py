"""cityhub's own RTSP client: a PacketReader for RTSP/1.0 cameras with RTP interleaved over TCP.

Why: FFmpeg's RTSP demuxer reads interleaved RTP with a ``poll`` and two small ``recv`` per
RTP packet (about 360 a second per 4 Mbit/s stream), and that alone cost more than half of
what a whole ``ffmpeg -c copy`` recording costs. This reader sets the socket's low-water mark
(``SO_RCVLOWAT``) so the kernel wakes it once per ``BATCH_S`` of media rather than once per
TCP segment, reads the socket in large blocks into one buffer, and parses the interleaved
frames out of it in place (see :mod:`cityhub.media.rtp` for the depacketisation).

What it handles: OPTIONS, DESCRIBE (Basic and Digest authentication), SETUP of one video track
(H.264 packetization-mode 0/1, H.265 without DONL) and one audio track (AAC-hbr/lbr, G.711
u-law and A-law) over interleaved channels, PLAY, keep-alive (GET_PARAMETER, or OPTIONS when
the server does not list it) before the session times out, TEARDOWN on close. RTCP from the
server is read past and none is sent: the keep-alive requests hold the session (GStreamer's
server needs no receiver reports; a camera that does would time the session out, and the
reader would reconnect). Anything else
(other codecs, interleaved H.264 mode, a server refusing TCP, ``rtsps``) raises
:class:`UnsupportedStreamError` at opening, and :func:`open_url_reader` falls back to FFmpeg's
reader (:class:`~cityhub.media.url_reader.UrlReader`); so do streams whose video timestamps
go backwards (B-frames: RTP carries presentation times, this reader gives them as dts).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import hashlib
import logging
import os
import re
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs

from cityhub.api import (
    AudioInfo,
    AuthenticationError,
    MediaPacket,
    PacketReader,
    StreamEndedError,
    StreamError,
    StreamInfo,
)
from cityhub.media.fmp4_writer import UnsupportedTrackError, avcc_record
from cityhub.media.h26x import BitstreamError, h264_sps, hevc_sps
from cityhub.media.rtp import (
    PURE_PYTHON_ENV,
    START_CODE,
    AacDepacketizer,
    Depacketizer,
    G711Depacketizer,
    RtpTrack,
    VideoDepacketizer,
    make_video_track,
    native_video_track,
)
from cityhub.media.sdp import MediaDescription, SdpError, parse_sdp, sprop_parameter_sets
from cityhub.media.url_reader import UrlReader, log_audio_not_recorded

if TYPE_CHECKING:
    from cityhub.media._rtpvideo import VideoTrack

    Track = RtpTrack | VideoTrack

__all__ = [
    "BATCH_S",
    "CredentialsRefusedError",
    "RtspReader",
    "UnsupportedStreamError",
    "open_url_reader",
    "strip_credentials",
    "uses_ffmpeg",
]

_LOGGER = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 5.0
"""A stream that sends nothing for this long (seconds) is broken: it is declared so at the
latest this long after its last byte, in batches or not."""
BATCH_S = 1.0
"""Media time (seconds) the kernel gathers before waking the reader while nobody watches the
stream live: at 4 Mbit/s, 500 KB. Each wake-up costs about the same whatever it brings, so a
second per wake-up instead of a tenth cut one reader's CPU by half; live view asks for every
packet (:meth:`RtspReader.set_low_latency`), and packets keep their arrival time estimated
from their timestamps (:meth:`~cityhub.media.rtp.RtpTrack.set_clock`)."""
BUFFER_BYTES = 2 * 1024 * 1024
"""The receive buffer: interleaved frames are at most 64 KB, a batch at most a quarter of this."""
LOWAT_MAX = BUFFER_BYTES // 4
POLL_S = 1.5
"""How long one wait on the socket lasts before the low-water mark is lowered (seconds): longer
than a batch, so that a batch is not cut short by its own wait."""
USER_AGENT = "cityhub"
DEFAULT_PORT = 554
DEFAULT_SESSION_TIMEOUT_S = 60
REORDERED_MAX = 2
"""Video timestamps that step back this many times mean B-frames: FFmpeg's reader takes over."""
_MAX_HEADER_BYTES = 16 * 1024
_TCP_INFO_BYTES = 104
_TCP_LAST_DATA_RECV = struct.Struct("=I")
_TCP_LAST_DATA_RECV_OFFSET = 52
"""``tcpi_last_data_recv`` (ms) in Linux's ``struct tcp_info``, after 8 bytes and 9 u32."""
_VIDEO = {"H264": "h264", "H265": "hevc"}
_G711 = {"PCMU": "pcm_mulaw", "PCMA": "pcm_alaw"}
_AUTH_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


class UnsupportedStreamError(StreamError):
    """The stream needs something this reader does not do (codec, transport, B-frames)."""


class CredentialsRefusedError(StreamError, AuthenticationError):
    """The camera answered 401 to the configured credentials (or to none).

    A :class:`StreamError`, so ingest shows the camera offline with this reason and retries
    with its backoff, as for FFmpeg's reader; an :class:`AuthenticationError` for callers that
    tell refused credentials apart.
    """


class _Response:
    """One RTSP response: status, headers (lower-case names, repeated ones kept), body."""

    def __init__(self, status: int, reason: str, headers: dict[str, list[str]], body: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


class _Auth:
    """Basic or Digest credentials answering a server's challenge (RFC 2617 / 7616, MD5)."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user
        self._password = password
        self._scheme: str | None = None
        self._params: dict[str, str] = {}
        self._count = 0

    @property
    def ready(self) -> bool:
        return self._scheme is not None

    def challenge(self, values: list[str]) -> bool:
        """Take the server's ``WWW-Authenticate`` headers; False when none is usable."""
        for value in sorted(values, key=lambda v: not v.lower().startswith("digest")):
            scheme, _, rest = value.strip().partition(" ")
            scheme = scheme.lower()
            if scheme == "digest":
                params = {m[1].lower(): m[2] or m[3] for m in _AUTH_PARAM.finditer(rest)}
                if params.get("algorithm", "MD5").upper() not in {"MD5", "MD5-SESS"}:
                    continue
                self._scheme, self._params, self._count = "digest", params, 0
                return True
            if scheme == "basic":
                self._scheme, self._params = "basic", {}
                return True
        return False

    def header(self, method: str, uri: str) -> str | None:
        if self._scheme == "basic":
            token = base64.b64encode(f"{self._user}:{self._password}".encode()).decode()
            return f"Basic {token}"
        if self._scheme != "digest":
            return None
        params = self._params
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1 = _md5(f"{self._user}:{realm}:{self._password}")
        cnonce = os.urandom(8).hex()
        if params.get("algorithm", "").upper() == "MD5-SESS":
            ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
        ha2 = _md5(f"{method}:{uri}")
        fields = [
            f'username="{self._user}"',
            f'realm="{realm}"',
            f'nonce="{nonce}"',
            f'uri="{uri}"',
        ]
        qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._count += 1
            count = f"{self._count:08x}"
            response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        if "algorithm" in params:
            fields.append(f"algorithm={params['algorithm']}")
        return "Digest " + ", ".join(fields)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class RtspReader:
    """Plays ``url`` (``rtsp://[user:password@]host[:port]/path``) and demuxes it into packets.

    ``read`` blocks in the calling thread; ``close`` may come from any thread and makes a
    blocked ``read`` return at once. ``packets_lost`` counts RTP packets missing from the
    sequence and ``frames_dropped`` the frames left out because of them.
    """

    def __init__(self, url: str, socket_timeout_s: float = SOCKET_TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme != "rtsp" or not parts.hostname:
            raise UnsupportedStreamError(f"not an rtsp:// URL: {parts.scheme}://")
        self._url = strip_credentials(url)
        """The URL without credentials: the only form that is logged or raised."""
        self._auth = (
            _Auth(unquote(parts.username or ""), unquote(parts.password or ""))
            if parts.username is not None
            else None
        )
        self._timeout = socket_timeout_s
        self._closed = threading.Event()
        self._reading = threading.Lock()
        self._buffer = bytearray(BUFFER_BYTES)
        self._view = memoryview(self._buffer)
        self._start = 0
        self._end = 0
        self._cseq = 0
        self._session: str | None = None
        self._public: set[str] = set()
        self._ready: collections.deque[MediaPacket] = collections.deque()
        self._out: list[MediaPacket] = []
        self._channels: dict[int, Track] = {}
        self._video: Track | None = None
        self._video_depacketizer: VideoDepacketizer | VideoTrack | None = None
        self._native_video: VideoTrack | None = None
        """The video track when it is the C one: it takes a batch's video frames in one call."""
        self._controls: list[tuple[str, Track]] = []
        self._parameter_sets: dict[int, bytes] = {}
        self._last_video_dts: int | None = None
        self._reordered = 0
        self._lowat = 1
        self._batch_s = BATCH_S
        self._window_bytes = 0
        self._window_start = time.monotonic()
        self._keepalive_every = DEFAULT_SESSION_TIMEOUT_S / 2
        self._keepalive_at = 0.0
        try:
            self._sock: socket.socket | None = socket.create_connection(
                (parts.hostname, parts.port or DEFAULT_PORT), timeout=socket_timeout_s
            )
        except OSError as err:
            raise StreamError(f"cannot connect to {self._url}: {err.strerror or err}") from err
        try:
            self._info = self._play()
        except BaseException:
            self._release()
            raise

    # --- opening ----------------------------------------------------------------------------

    def _play(self) -> StreamInfo:
        options = self._request("OPTIONS", self._url, allow_failure=True)
        public = options.header("public") or ""
        self._public = {m.strip().upper() for m in public.split(",") if m.strip()}
        described = self._request("DESCRIBE", self._url, {"Accept": "application/sdp"})
        base = described.header("content-base") or described.header("content-location")
        try:
            media = parse_sdp(described.body.decode("utf-8", "replace"), base or self._url)
        except SdpError as err:
            raise UnsupportedStreamError(f"{self._url}: {err}") from err
        video_media = next((m for m in media if m.kind == "video"), None)
        if video_media is None:
            raise StreamError(f"{self._url} has no video stream")
        video_info, video_track = self._video_track(video_media)
        audio_media = next((m for m in media if m.kind == "audio"), None)
        audio_info, audio_track = self._audio_track(audio_media)
        self._setup(video_media, video_track, 0)
        self._video = video_track
        if audio_media is not None and audio_track is not None:
            try:
                self._setup(audio_media, audio_track, 2)
            except UnsupportedStreamError:
                audio_info = None  # the video still plays
        self._channels = {0: video_track}
        if audio_info is not None and audio_track is not None:
            self._channels[2] = audio_track
        played = self._request("PLAY", self._session_url(base), {"Range": "npt=0.000-"})
        self._origins(played.header("rtp-info"))
        self._keepalive_at = time.monotonic() + self._keepalive_every
        assert self._sock is not None
        self._sock.settimeout(min(POLL_S, self._timeout))
        return StreamInfo(
            codec=video_info.codec,
            width=video_info.width,
            height=video_info.height,
            fps=video_info.fps,
            time_base=video_info.time_base,
            extradata=video_info.extradata,
            audio=audio_info,
        )

    def _session_url(self, base: str | None) -> str:
        return base.rstrip("/") if base else self._url

    def _video_track(self, media: MediaDescription) -> tuple[StreamInfo, Track]:
        codec = _VIDEO.get(media.encoding)
        if codec is None:
            raise UnsupportedStreamError(f"video codec {media.encoding or '?'} is not handled")
        if codec == "h264" and media.fmtp.get("packetization-mode", "0") not in {"0", "1"}:
            raise UnsupportedStreamError("H.264 interleaved packetization is not handled")
        if codec == "hevc" and int(media.fmtp.get("sprop-max-don-diff", "0") or 0) > 0:
            raise UnsupportedStreamError("H.265 with decoding order numbers is not handled")
        if media.clock_rate <= 0:
            raise UnsupportedStreamError("the video track has no RTP clock rate")
        try:
            if codec == "h264":
                units = sprop_parameter_sets(media.fmtp.get("sprop-parameter-sets", ""))
                sps = next((u for u in units if u and u[0] & 0x1F == 7), None)
                sequence = h264_sps(sps) if sps else None
            else:
                units = []
                for key in ("sprop-vps", "sprop-sps", "sprop-pps"):
                    units += sprop_parameter_sets(media.fmtp.get(key, ""))
                sps = next((u for u in units if len(u) > 1 and (u[0] >> 1) & 0x3F == 33), None)
                sequence = hevc_sps(sps) if sps else None
        except (SdpError, BitstreamError) as err:
            raise UnsupportedStreamError(f"unreadable parameter sets: {err}") from err
        if sequence is None:
            raise UnsupportedStreamError("the SDP carries no parameter sets")
        fps = media_fps(media) or sequence.fps
        # H.264 is handed out length-prefixed with an avcC record, as MP4 stores it: the
        # recorder then copies frames as they are. H.265 stays Annex-B.
        h264 = codec == "h264"
        try:
            extradata = avcc_record(units) if h264 else b"".join(START_CODE + u for u in units if u)
        except UnsupportedTrackError as err:
            raise UnsupportedStreamError(str(err)) from err
        info = StreamInfo(
            codec=codec,
            width=sequence.width,
            height=sequence.height,
            fps=fps,
            time_base=(1, media.clock_rate),
            extradata=extradata,
        )
        self._parameter_sets = {_unit_type(u, not h264): u for u in units if u}
        track = make_video_track(media.payload_type, media.clock_rate, hevc=not h264)
        if isinstance(track, RtpTrack):
            assert isinstance(track.depacketizer, VideoDepacketizer)
            self._video_depacketizer = track.depacketizer
            _note_pure_python()
        else:
            self._video_depacketizer = self._native_video = track
        return info, track

    def _audio_track(
        self, media: MediaDescription | None
    ) -> tuple[AudioInfo | None, RtpTrack | None]:
        if media is None or media.clock_rate <= 0:
            return None, None
        depacketizer: Depacketizer
        if media.encoding == "MPEG4-GENERIC" and media.fmtp.get("mode", "").lower() in {
            "aac-hbr",
            "aac-lbr",
        }:
            try:
                depacketizer = AacDepacketizer(
                    int(media.fmtp.get("sizelength", "0")),
                    int(media.fmtp.get("indexlength", "0")),
                    int(media.fmtp.get("indexdeltalength", "0")),
                    int(media.fmtp.get("constantduration", "1024")),
                )
                config = bytes.fromhex(media.fmtp.get("config", ""))
            except ValueError:
                log_audio_not_recorded(self._url, "aac with unreadable parameters")
                return None, None
            codec = "aac"
        elif media.encoding in _G711:
            depacketizer = G711Depacketizer(media.channels)
            config = b""
            codec = _G711[media.encoding]
        else:
            log_audio_not_recorded(self._url, media.encoding.lower() or "?")
            return None, None
        info = AudioInfo(
            codec=codec,
            sample_rate=media.clock_rate,
            channels=media.channels,
            time_base=(1, media.clock_rate),
            extradata=config,
        )
        return info, RtpTrack(depacketizer, media.payload_type, media.clock_rate)

    def _setup(self, media: MediaDescription, track: Track, channel: int) -> None:
        headers = {"Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"}
        response = self._request("SETUP", media.control, headers, allow_failure=True)
        if response.status == 461:
            raise UnsupportedStreamError("the server does not offer RTP over the RTSP connection")
        self._check(response, "SETUP")
        transport = response.header("transport") or ""
        self._controls.append((media.control, track))
        match = re.search(r"interleaved=(\d+)", transport)
        if match is None:
            raise UnsupportedStreamError("the server did not agree to interleaved RTP over TCP")
        if int(match[1]) != channel:
            raise UnsupportedStreamError(f"the server moved the track to channel {match[1]}")
        session = response.header("session")
        if session:
            sid, _, params = session.partition(";")
            self._session = sid.strip()
            timeout = re.search(r"timeout=(\d+)", params)
            if timeout is not None and int(timeout[1]) > 0:
                self._keepalive_every = max(int(timeout[1]) / 2, 1.0)

    def _origins(self, rtp_info: str | None) -> None:
        """Count every track's timestamps from the instant PLAY starts (its ``rtptime``).

        Without ``RTP-Info``, each track counts from its first packet: the tracks may then be
        off by the difference of their first packets' arrival.
        """
        for entry in (rtp_info or "").split(","):
            fields = dict(
                f.strip().split("=", 1) for f in entry.split(";") if "=" in f and f.strip()
            )
            url, rtptime, seq = fields.get("url", ""), fields.get("rtptime"), fields.get("seq")
            if rtptime is None or not rtptime.isdigit():
                continue
            for control, track in self._controls:
                if _same_track(url, control):
                    track.set_origin(int(rtptime), int(seq) if seq and seq.isdigit() else None)

    # --- RTSP requests --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        uri: str,
        headers: dict[str, str] | None = None,
        *,
        allow_failure: bool = False,
    ) -> _Response:
        response = self._send_and_receive(method, uri, headers)
        if response.status == 401 and self._auth is not None:
            challenged = self._auth.challenge(response.headers.get("www-authenticate", []))
            if challenged:
                response = self._send_and_receive(method, uri, headers)
        if response.status == 401:
            raise CredentialsRefusedError(
                f"{self._url} refused the credentials ({method}: 401 {response.reason}): "
                + (
                    "check the user and password configured for this camera"
                    if self._auth is not None
                    else "the camera needs a user and password in its URL"
                )
            )
        if not allow_failure:
            self._check(response, method)
        return response

    def _check(self, response: _Response, method: str) -> None:
        if response.status == 454 or response.status >= 500 or response.status == 404:
            raise StreamError(f"{self._url}: {method} failed: {response.status} {response.reason}")
        if not 200 <= response.status < 300:
            raise UnsupportedStreamError(f"{method} answered {response.status} {response.reason}")

    def _send(self, method: str, uri: str, headers: dict[str, str] | None = None) -> None:
        self._cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {USER_AGENT}"]
        if self._session is not None:
            lines.append(f"Session: {self._session}")
        if self._auth is not None and self._auth.ready:
            authorization = self._auth.header(method, uri)
            if authorization:
                lines.append(f"Authorization: {authorization}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        sock = self._sock
        if sock is None:
            raise StreamEndedError("closed")
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except OSError as err:
            raise StreamError(f"{self._url}: {method} could not be sent: {err}") from err

    def _send_and_receive(self, method: str, uri: str, headers: dict[str, str] | None) -> _Response:
        self._send(method, uri, headers)
        cseq = str(self._cseq)
        deadline = time.monotonic() + self._timeout
        while True:
            response = self._parse_message(deliver=False)
            if response is not None and response.header("cseq") == cseq:
                return response
            if response is None:
                if time.monotonic() > deadline:
                    raise StreamError(f"{self._url}: no answer to {method}")
                self._fill()

    # --- reading ----------------------------------------------------------------------------

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of the stream (from the SDP's parameter sets)."""
        return self._info

    @property
    def native_video(self) -> bool:
        """Whether the video is read by the C video track (``cityhub.media._rtpvideo``)."""
        return self._native_video is not None

    @property
    def packets_lost(self) -> int:
        """RTP packets missing from the sequence, both tracks."""
        return sum(track.lost for track in self._channels.values())

    @property
    def frames_dropped(self) -> int:
        """Frames left out because packets they needed were lost."""
        return sum(track.depacketizer.frames_dropped for track in self._channels.values())

    def read(self) -> MediaPacket:
        """The next video or audio packet, in arrival order."""
        ready = self._ready
        while True:
            if ready:
                packet = ready.popleft()
                if not packet.audio:
                    self._check_order(packet)
                    if packet.keyframe:
                        self._follow_parameter_sets(packet)
                return packet
            if self._closed.is_set():
                raise StreamEndedError("closed")
            with self._reading:
                if self._sock is None or self._closed.is_set():
                    self._release()
                    raise StreamEndedError("closed")
                try:
                    self._fill()
                    self._parse_frames()
                except BaseException:
                    if self._closed.is_set():
                        self._release()
                    raise
            if self._out:
                ready.extend(self._out)
                self._out.clear()

    def _follow_parameter_sets(self, keyframe: MediaPacket) -> None:
        """Describe the stream anew when ``keyframe`` brought other parameter sets than the SDP's.

        ``info`` then changes (picture size, configuration record): ingest starts a new run
        at this keyframe and the recorder a new segment with the new parameter sets.
        """
        depacketizer = self._video_depacketizer
        changes = None if depacketizer is None else depacketizer.new_parameter_sets
        if not changes or changes[0][0] is not keyframe:
            return
        assert depacketizer is not None
        _packet, found = changes.popleft()
        if found == self._parameter_sets:
            return
        hevc = depacketizer.hevc
        wanted = (32, 33, 34) if hevc else (7, 8)
        if any(kind not in found for kind in wanted):
            return  # not a complete set yet: keep the current description
        units = [found[kind] for kind in wanted]
        try:
            sequence = hevc_sps(found[33]) if hevc else h264_sps(found[7])
            extradata = b"".join(START_CODE + u for u in units) if hevc else avcc_record(units)
        except (BitstreamError, UnsupportedTrackError) as err:
            _LOGGER.debug("%s: unreadable in-band parameter sets kept aside: %s", self._url, err)
            self._parameter_sets = found
            return
        self._parameter_sets = found
        if extradata == self._info.extradata:
            return
        _LOGGER.info(
            "%s: new parameter sets in the stream (%dx%d)",
            self._url,
            sequence.width,
            sequence.height,
        )
        self._info = attrs.evolve(
            self._info, width=sequence.width, height=sequence.height, extradata=extradata
        )

    def _check_order(self, packet: MediaPacket) -> None:
        last = self._last_video_dts
        self._last_video_dts = packet.dts
        if last is not None and last - 90_000 < packet.dts < last:
            self._reordered += 1
            if self._reordered >= REORDERED_MAX:
                raise UnsupportedStreamError(
                    f"{self._url}: video timestamps step back (B-frames): "
                    "this stream needs FFmpeg's reader"
                )

    def _fill(self) -> None:
        """Receive what the socket holds (at least the low-water mark, or after a pause)."""
        sock = self._sock
        if sock is None:
            raise StreamEndedError("closed")
        start, end = self._start, self._end
        if start == end:
            start = end = 0
        elif end > BUFFER_BYTES - LOWAT_MAX:  # keep room for a batch: move the tail forward
            self._view[: end - start] = self._view[start:end]
            start, end = 0, end - start
        self._start, self._end = start, end
        waited = 0.0
        while True:
            try:
                received = sock.recv_into(self._view[end:])
                break
            except TimeoutError:
                if self._closed.is_set():
                    raise StreamEndedError("closed") from None
                waited += sock.gettimeout() or POLL_S
                silent = _silence_s(sock)
                if silent is None:  # no TCP_INFO: a batch's wait may have seen data come
                    silent = waited if self._lowat <= 1 else 0.0
                if silent >= self._timeout - 0.001:
                    raise StreamError(f"{self._url}: no data for {silent:.0f} s") from None
                if self._lowat > 1:  # less came than a batch: take whatever is there
                    self._set_lowat(1)
                # The last wait ends when the timeout is up.
                sock.settimeout(max(min(POLL_S, self._timeout - silent), 0.01))
            except OSError as err:
                if self._closed.is_set():
                    raise StreamEndedError("closed") from None
                raise StreamError(f"{self._url}: {err.strerror or err}") from err
        if received == 0:
            if self._closed.is_set():
                raise StreamEndedError("closed")
            raise StreamError(f"{self._url}: the server closed the connection")
        if waited:
            sock.settimeout(min(POLL_S, self._timeout))
        self._end = end + received
        self._window_bytes += received
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            rate = self._window_bytes / (now - self._window_start)
            self._window_start, self._window_bytes = now, 0
            self._set_lowat(max(1, min(LOWAT_MAX, int(rate * self._batch_s))))
        if now >= self._keepalive_at and self._video is not None:
            self._keepalive_at = now + self._keepalive_every
            method = "GET_PARAMETER" if "GET_PARAMETER" in self._public else "OPTIONS"
            self._send(method, self._url)

    def set_low_latency(self, on: bool) -> None:
        """Wake for every packet while someone watches live, in batches otherwise.

        Batches of ``BATCH_S`` save wake-ups (CPU) but hold each frame up to that long; live
        view cannot afford it. Callable from any thread: the next read follows.
        """
        self._batch_s = 0.0 if on else BATCH_S
        if on:
            self._set_lowat(1)

    def _set_lowat(self, size: int) -> None:
        if size == self._lowat or self._sock is None:
            return
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, size)
            self._lowat = size
        except OSError:
            self._lowat = 1

    def _parse_frames(self) -> None:
        """Hand every complete interleaved frame in the buffer to its track.

        With the C video track, each run of video frames goes to it in one call, which stops
        at a frame of another channel (audio, RTCP) or an RTSP message; in Python, a run of
        FU-A middle fragments is taken in one loop (:meth:`RtpTrack.fragment_run`).
        """
        buffer, view = self._buffer, self._view
        pos, end = self._start, self._end
        channels = self._channels
        out = self._out
        now = time.time()
        native = self._native_video
        video = self._video
        if native is None:
            assert isinstance(video, RtpTrack)
            fragment, run, push = video.continue_fragment, video.fragment_run, video.push
        while end - pos >= 4:
            if native is not None:
                pos = native.parse(buffer, pos, end, now, out)
                if end - pos < 4:
                    break
            if buffer[pos] != 0x24:  # "$"
                self._start = pos
                if self._parse_message(deliver=True) is None:
                    return
                pos = self._start
                continue
            stop = pos + 4 + ((buffer[pos + 2] << 8) | buffer[pos + 3])
            if stop > end:
                break
            channel = buffer[pos + 1]
            if channel or native is not None:
                track = channels.get(channel)
                if track is not None:
                    track.push(view[pos + 4 : stop], now, out)
                pos = stop
                continue
            # Channel 0 is always the video.
            if not fragment(buffer, pos + 4, stop):
                push(view[pos + 4 : stop], now, out)
            pos = run(buffer, view, pos, stop, end)
        self._start = pos
        slack = 2 * self._batch_s
        for track in channels.values():
            track.set_clock(now, slack)

    def _parse_message(self, *, deliver: bool) -> _Response | None:
        """Take one RTSP message (a response, or a request from the server) off the buffer.

        Interleaved frames met before it are passed to their tracks (``deliver``) or skipped
        (before PLAY there are none). Returns ``None`` when no whole message is buffered yet.
        """
        buffer = self._buffer
        pos, end = self._start, self._end
        while end - pos >= 4 and buffer[pos] == 0x24:
            size = (buffer[pos + 2] << 8) | buffer[pos + 3]
            if pos + 4 + size > end:
                return None
            track = self._channels.get(buffer[pos + 1]) if deliver else None
            if track is not None:
                track.push(self._view[pos + 4 : pos + 4 + size], time.time(), self._out)
            pos += 4 + size
            self._start = pos
        if end - pos < 4:
            return None
        if not (buffer.startswith(b"RTSP/", pos) or 0x41 <= buffer[pos] <= 0x5A):
            raise StreamError(f"{self._url}: the stream lost its framing")
        head_end = buffer.find(b"\r\n\r\n", pos, end)
        if head_end < 0:
            if end - pos > _MAX_HEADER_BYTES:
                raise StreamError(f"{self._url}: an RTSP message header is too long")
            return None
        lines = bytes(buffer[pos:head_end]).decode("latin-1").split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        try:
            length = int((headers.get("content-length") or ["0"])[0])
        except ValueError:
            raise StreamError(f"{self._url}: malformed Content-Length") from None
        body_start = head_end + 4
        if body_start + length > end:
            if body_start + length - pos > BUFFER_BYTES // 2:
                raise StreamError(f"{self._url}: an RTSP message is too long")
            return None
        body = bytes(buffer[body_start : body_start + length])
        self._start = body_start + length
        first = lines[0].split(" ", 2)
        if first[0].startswith("RTSP/"):
            status = int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
            return _Response(status, first[2] if len(first) > 2 else "", headers, body)
        # A request from the server (ANNOUNCE, SET_PARAMETER...): answer that it is refused.
        cseq = (headers.get("cseq") or ["0"])[0]
        if self._sock is not None:
            reply = f"RTSP/1.0 501 Not Implemented\r\nCSeq: {cseq}\r\n\r\n"
            with contextlib.suppress(OSError):
                self._sock.sendall(reply.encode())
        return _Response(0, "", headers, body)

    # --- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop reading, from any thread: TEARDOWN, then a blocked ``read`` returns at once."""
        if self._closed.is_set():
            return
        self._closed.set()
        sock = self._sock
        if sock is None:
            return
        if self._session is not None:
            with contextlib.suppress(StreamError):
                self._send("TEARDOWN", self._url)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        if self._reading.acquire(blocking=False):
            try:
                self._release()
            finally:
                self._reading.release()

    def _release(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


@functools.cache
def _note_pure_python() -> None:
    """Say once that H.264 is read by the Python depacketiser, and why that costs more."""
    if native_video_track() is None and os.environ.get(PURE_PYTHON_ENV, "") in {"", "0"}:
        _LOGGER.warning(
            "cityhub.media._rtpvideo is not built: cameras' video is read in Python, at about "
            "twice the CPU; install gcc and python3-dev, then reinstall cityhub "
            "(bash .ci/bootstrap)"
        )


def _silence_s(sock: socket.socket) -> float | None:
    """Seconds since the last byte arrived on ``sock`` (Linux's TCP_INFO), or None.

    A reader waiting for a batch reads the rest of one cut short by a stall only after its
    wait runs out: counting silence from its reads would declare the stream dead up to a
    batch late. The kernel knows when the last segment came.
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
        (since_ms,) = _TCP_LAST_DATA_RECV.unpack_from(info, _TCP_LAST_DATA_RECV_OFFSET)
    except (AttributeError, OSError, struct.error):
        return None
    return float(since_ms) / 1000


def _unit_type(unit: bytes, hevc: bool) -> int:
    return (unit[0] >> 1) & 0x3F if hevc else unit[0] & 0x1F


def media_fps(media: MediaDescription) -> float:
    """The frame rate an SDP media section states (``a=framerate``), else 0."""
    value = media.attributes.get("framerate", "")
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def _same_track(rtp_info_url: str, control: str) -> bool:
    """Whether an ``RTP-Info`` url names the track set up at ``control`` (absolute or not)."""
    if rtp_info_url == control:
        return True
    tail = control.rsplit("/", 1)[-1]
    return bool(tail) and rtp_info_url.rstrip("/").endswith("/" + tail)


_CHOICES: dict[str, str] = {}
_NEEDS_FFMPEG: set[str] = set()
_CHOICES_LOCK = threading.Lock()


def _note_choice(url: str, choice: str) -> None:
    with _CHOICES_LOCK:
        changed = _CHOICES.get(url) != choice
        _CHOICES[url] = choice
    if changed:
        _LOGGER.info("%s: %s", strip_credentials(url), choice)


def strip_credentials(url: str) -> str:
    """``url`` without its user and password: the only form of a URL that is logged or raised."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class _FallingBack(RtspReader):
    """An RtspReader that sends its URL to FFmpeg's reader once it proves B-frames."""

    def read(self) -> MediaPacket:
        try:
            return super().read()
        except UnsupportedStreamError as err:
            with _CHOICES_LOCK:
                _NEEDS_FFMPEG.add(self._url)
            _note_choice(
                self._url, "read by FFmpeg's RTSP reader from the next connection (B-frames)"
            )
            raise StreamError(str(err)) from err


def uses_ffmpeg(url: str) -> bool:
    """Whether ``url`` was found to need FFmpeg's reader (codec, transport or B-frames)."""
    with _CHOICES_LOCK:
        return strip_credentials(url) in _NEEDS_FFMPEG


def open_url_reader(url: str) -> PacketReader:
    """The reader for a stream URL: cityhub's RTSP client when it can, else FFmpeg's."""
    if not url.startswith("rtsp://"):
        return UrlReader(url)
    if not uses_ffmpeg(url):
        try:
            reader = _FallingBack(url)
        except UnsupportedStreamError as err:
            with _CHOICES_LOCK:
                _NEEDS_FFMPEG.add(strip_credentials(url))
            _note_choice(url, f"read by FFmpeg's RTSP reader ({err})")
        else:
            _note_choice(url, "read by cityhub's RTSP client")
            return reader
    return UrlReader(url)
