"""CPU cost of recording one stream, and writing through a file object versus a path.

Run from the repository root:

    .venv/bin/python benchmarks/recording.py [seconds-of-video]

A virtual camera's loop clip (1280x720, 25 fps, 2 s GOP; 4 Mbit/s asked, about 0.8 Mbit/s
as the static scene encodes) is read once, then muxed without pacing into fragmented MP4
segment files of 60 s, three ways, each timed by this process's CPU time per second of video
(percent of one core when recording in real time):

- ``recorder``: the recorder's own segment writer (PyAV writing to the storage backend's file
  object, counting and hashing bytes on the way, fsync on close);
- ``path``: PyAV writing the same packets to a path (FFmpeg's own file I/O), then the file is
  hashed by reading it back: the baseline the file-object route is compared with;
- ``ffmpeg``: ``ffmpeg -c copy`` remuxing the same H.264 to fMP4, from its child CPU time.
"""

from __future__ import annotations

import hashlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

from cityhub.api import MediaPacket, StreamInfo
from cityhub.media.index import SegmentTrigger
from cityhub.media.recorder import MOVFLAGS, _SegmentFile
from cityhub.storage.local import LocalStorage
from cityhub.testing import RecordingDriverHost
from cityhub_virtual.driver import VirtualCamera

SEGMENT_S = 60
OPTIONS = {"width": 1280, "height": 720, "fps": 25, "bitrate": 4_000_000, "gop": 50}


def _packets(work: Path, seconds: int) -> tuple[StreamInfo, list[MediaPacket]]:
    host = RecordingDriverHost(cache_dir=work / "cache")
    reader = VirtualCamera(host, OPTIONS).open_stream("main")
    info = reader.info
    frames = reader._frames  # type: ignore[attr-defined]  # the clip, without pacing
    reader.close()
    step = 90000 // 25
    packets = [
        MediaPacket(f.data, i * step, i * step, f.keyframe, 1e9 + i / 25, step)
        for i, f in enumerate(frames[i % len(frames)] for i in range(seconds * 25))
    ]
    return info, packets


def _recorder(work: Path, info: StreamInfo, packets: list[MediaPacket]) -> float:
    storage = LocalStorage({"path": "rec"}, work)
    start = time.process_time()
    segment: _SegmentFile | None = None
    for number, packet in enumerate(packets):
        if packet.keyframe and (segment is None or number % (SEGMENT_S * 25) == 0):
            if segment is not None:
                segment.close(storage)
            segment = _SegmentFile(storage, f"r{number}.mp4", info, packet, SegmentTrigger.EVENT)
        assert segment is not None
        segment.write(packet)
    assert segment is not None
    segment.close(storage)
    return time.process_time() - start


def _path(work: Path, info: StreamInfo, packets: list[MediaPacket]) -> float:
    start = time.process_time()
    tb = Fraction(*info.time_base)
    for first in range(0, len(packets), SEGMENT_S * 25):
        path = work / f"p{first}.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": MOVFLAGS}) as out:
            stream = out.add_stream("h264", rate=25)
            stream.width, stream.height = info.width, info.height
            stream.time_base = tb
            stream.codec_context.extradata = info.extradata
            for packet in packets[first : first + SEGMENT_S * 25]:
                p = av.Packet(packet.data)
                p.dts, p.pts, p.duration = packet.dts, packet.pts, packet.duration
                p.time_base, p.is_keyframe, p.stream = tb, packet.keyframe, stream
                out.mux(p)
        hashlib.sha256(path.read_bytes()).hexdigest()
    return time.process_time() - start


def _ffmpeg(work: Path, info: StreamInfo, packets: list[MediaPacket]) -> float | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    raw = work / "in.h264"
    raw.write_bytes(b"".join(p.data for p in packets))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [exe, "-v", "error", "-y", "-r", "25", "-i", str(raw), "-c", "copy", "-f", "mp4"]
    subprocess.run([*command, "-movflags", MOVFLAGS, str(work / "f.mp4")], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(seconds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        info, packets = _packets(work, seconds)
        size = sum(len(p.data) for p in packets)
        print(
            f"{seconds} s of 1280x720 25 fps H.264 ({8 * size / seconds / 1e6:.1f} Mbit/s), "
            f"{SEGMENT_S} s segments"
        )
        for name, case in (("recorder", _recorder), ("path", _path), ("ffmpeg", _ffmpeg)):
            runs = [case(work, info, packets) for _ in range(3)]
            best = min((t for t in runs if t is not None), default=None)
            if best is None:
                print(f"{name:9} skipped (not installed)")
                continue
            print(f"{name:9} {best:6.3f} s CPU = {100 * best / seconds:5.2f} % of a core")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 120)
