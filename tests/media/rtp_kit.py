"""Hand-built RTP and a scripted RTSP server on loopback, for the RTSP client's parser tests;
and what the tests against a real RTSP server share (reading video, a hub's configuration).

The scripted server answers OPTIONS, DESCRIBE, SETUP and PLAY with fixed responses, then sends
a given byte stream of interleaved RTP cut into given chunk sizes (each sent on its own, a
moment apart, so the client receives the stream split at those boundaries), then stays silent
until the client leaves. It stands in for a camera sending exactly the packets a test needs
(lost, wrapped, fragmented): GStreamer's server cannot be made to send those.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import Any

from cityhub.api import MediaPacket, PacketReader

H264_SPS = bytes.fromhex("6742c01eda0280bfe584000003000400000300ca3c58ba80")
"""The SPS of the RTSP test server's 640x360 25 fps clip (baseline, VUI timing at 25 fps)."""
H264_PPS = bytes.fromhex("68ce3c80")


def rtp(seq: int, timestamp: int, payload: bytes, *, marker: bool = False, pt: int = 96) -> bytes:
    """One RTP packet (version 2, no CSRC, no extension)."""
    return (
        struct.pack(
            ">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, 1
        )
        + payload
    )


def interleaved(channel: int, packet: bytes) -> bytes:
    """An RTP packet framed for RTSP over TCP (``$``, channel, length)."""
    return b"$" + bytes((channel,)) + struct.pack(">H", len(packet)) + packet


def fu_a(nal: bytes, pieces: int) -> list[bytes]:
    """FU-A payloads carrying ``nal`` (header byte included) in ``pieces`` fragments."""
    header, body = nal[0], nal[1:]
    step = -(-len(body) // pieces)
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    out = []
    for index, chunk in enumerate(chunks):
        flags = (0x80 if index == 0 else 0) | (0x40 if index == len(chunks) - 1 else 0)
        out.append(bytes((header & 0xE0 | 28, flags | header & 0x1F)) + chunk)
    return out


def stap_a(*nals: bytes) -> bytes:
    """A STAP-A payload aggregating ``nals``."""
    return b"\x18" + b"".join(struct.pack(">H", len(n)) + n for n in nals)


def h264_sdp(*, audio: str = "") -> str:
    """An SDP with the test clip's H.264 track (and ``audio``, an m= section, if given)."""
    sprop = ",".join(base64.b64encode(n).decode() for n in (H264_SPS, H264_PPS))
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=scripted\r\nt=0 0\r\na=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        f"a=fmtp:96 packetization-mode=1;sprop-parameter-sets={sprop}\r\n"
        "a=control:stream=0\r\n" + audio
    )


class ScriptedRtspServer:
    """Serves one session of ``stream`` (interleaved bytes) sent in ``chunks`` sizes."""

    def __init__(
        self,
        sdp: str,
        stream: bytes,
        chunks: Iterable[int] = (),
        *,
        rtp_info: str = "",
        gap_s: float = 0.002,
    ) -> None:
        self.sdp = sdp
        self.stream = stream
        self.chunks = list(chunks)
        self.rtp_info = rtp_info
        self.gap_s = gap_s
        self.requests: list[str] = []
        self.sent_at: float | None = None
        """When the whole stream was sent (``time.monotonic()``), then the server goes silent."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._done = threading.Event()
        self._thread.start()

    @property
    def url(self) -> str:
        """Where the session is served."""
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def close(self) -> None:
        """Stop serving."""
        self._done.set()
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            pending = b""
            while not self._done.is_set():
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(4096)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                request = head.decode()
                self.requests.append(request)
                method = request.split(" ", 1)[0]
                cseq = next(
                    line.split(":", 1)[1].strip()
                    for line in request.split("\r\n")
                    if line.lower().startswith("cseq:")
                )
                conn.sendall(self._reply(method, cseq, request).encode())
                if method == "PLAY":
                    self._play(conn)
                elif method == "TEARDOWN":
                    return

    def _reply(self, method: str, cseq: str, request: str) -> str:
        headers = [f"CSeq: {cseq}"]
        body = ""
        if method == "OPTIONS":
            headers.append("Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")
        elif method == "DESCRIBE":
            body = self.sdp
            headers += ["Content-Type: application/sdp", f"Content-Base: {self.url}/"]
        elif method == "SETUP":
            transport = next(
                line.split(":", 1)[1].strip()
                for line in request.split("\r\n")
                if line.lower().startswith("transport:")
            )
            headers += [f"Transport: {transport}", "Session: 12345678;timeout=60"]
        elif method == "PLAY" and self.rtp_info:
            headers.append(f"RTP-Info: {self.rtp_info}")
        headers.append(f"Content-Length: {len(body.encode())}")
        return "RTSP/1.0 200 OK\r\n" + "\r\n".join(headers) + "\r\n\r\n" + body

    def _play(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pos = 0
        sizes = self.chunks or [len(self.stream)]
        index = 0
        while pos < len(self.stream):
            size = sizes[index % len(sizes)]
            index += 1
            conn.sendall(self.stream[pos : pos + size])
            pos += size
            time.sleep(self.gap_s)
        self.sent_at = time.monotonic()


def video_packets(reader: PacketReader, count: int) -> list[MediaPacket]:
    """The next ``count`` video packets ``reader`` gives (audio ones are read past)."""
    got: list[MediaPacket] = []
    while len(got) < count:
        packet = reader.read()
        if not packet.audio:
            got.append(packet)
    return got


def rtsp_hub_config(urls: dict[str, str], segment_seconds: int = 2) -> dict[str, Any]:
    """A hub recording one ``rtsp`` camera per id in ``urls`` (its stream URL), in one zone."""
    cameras = [
        {"id": camera, "name": camera, "driver": "rtsp", "zone": "centre", "options": {"url": url}}
        for camera, url in urls.items()
    ]
    return {
        "http": {"port": 0},
        "recording": {"segment_seconds": segment_seconds},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": cameras,
    }
