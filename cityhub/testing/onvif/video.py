"""Live H.264 of the simulator's picture: one encoder thread and one feed per profile.

Each thread draws the scene at the PTZ position of the moment and encodes it with libx264
(no B-frames, zero latency, a keyframe every second) into a
:class:`cityhub.testing.rtsp.LiveFeed` that the RTSP test server reads. A thread encodes only
while someone watches, so an idle simulator costs no CPU.
"""

from __future__ import annotations

import fractions
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from cityhub.testing.rtsp import LiveFeed

if TYPE_CHECKING:
    from cityhub.testing.onvif.media import MediaProfile
    from cityhub.testing.onvif.simulator import OnvifSimulator

__all__ = ["LiveVideo"]

_LOGGER = logging.getLogger(__name__)
IDLE_POLL_S = 0.5
"""How often an idle encoder thread checks for a watcher (it is also woken at once)."""
MAX_LAG_S = 1.0
"""An encoder further behind real time than this skips ahead instead of catching up."""


class _Encoder:
    """One profile's encoder thread and its feed."""

    def __init__(self, sim: OnvifSimulator, profile: MediaProfile) -> None:
        self.sim = sim
        self.profile = profile
        self.feed = LiveFeed()
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"onvif-sim-encoder-{profile.token}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.feed.close()
        self._thread.join(5.0)

    def _codec(self) -> Any:
        import av

        profile = self.profile
        codec: Any = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = profile.width, profile.height
        codec.pix_fmt = "yuv420p"
        rate = fractions.Fraction(profile.fps).limit_denominator(1000)
        codec.framerate = rate
        codec.time_base = 1 / rate
        codec.bit_rate = profile.bitrate
        codec.gop_size = profile.gop
        codec.max_b_frames = 0
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": (
                f"keyint={profile.gop}:min-keyint={profile.gop}:scenecut=0:"
                "bframes=0:repeat-headers=1:threads=1"
            ),
        }
        codec.open()
        return codec

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            _LOGGER.exception("the simulator's %s encoder stopped", self.profile.token)

    def _loop(self) -> None:
        import av
        from av.video.frame import PictureType

        codec = None
        size = (self.profile.width, self.profile.height)
        interval = 1.0 / self.profile.fps
        due = time.monotonic()
        pts = 0
        while not self._stop.is_set():
            if self.feed.readers == 0:
                codec = None  # a new watcher starts a fresh stream with its headers
                self.feed.wait_for_reader(IDLE_POLL_S)
                due = time.monotonic()
                continue
            if codec is None:
                codec = self._codec()
                pts = 0
            picture = self.sim.picture_at(size)
            video_frame: Any = av.VideoFrame
            frame = video_frame.from_image(picture).reformat(format="yuv420p")
            frame.pts = pts
            pts += 1
            if self.feed.keyframe_wanted.is_set():
                self.feed.keyframe_wanted.clear()
                frame.pict_type = PictureType.I
            for packet in codec.encode(frame):
                self.feed.write(bytes(packet), bool(packet.is_keyframe))
            self.frames += 1
            due += interval
            delay = due - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -MAX_LAG_S:
                due = time.monotonic()


class LiveVideo:
    """The encoders of every profile of a simulator."""

    def __init__(self, sim: OnvifSimulator) -> None:
        self._encoders = {profile.token: _Encoder(sim, profile) for profile in sim.profiles}

    def start(self) -> None:
        """Start the encoder threads (idle until someone watches)."""
        for encoder in self._encoders.values():
            encoder.start()

    def stop(self) -> None:
        """Stop the threads and close the feeds."""
        for encoder in self._encoders.values():
            encoder.stop()

    def feed_port(self, profile: str) -> int:
        """The TCP port of a profile's feed."""
        return self._encoders[profile].feed.port

    def frames_encoded(self) -> dict[str, int]:
        """Frames encoded so far per profile."""
        return {token: encoder.frames for token, encoder in self._encoders.items()}
