"""CPU of a segment's audio track: G.711 transcoded to AAC, beside AAC muxed as it came.

Run from the repository root:

    .venv/bin/python benchmarks/audio.py [--minutes 10]

A tone with a little noise is encoded once, with PyAV, to 8 kHz mono G.711 u-law in 20 ms
packets (160 samples, as cameras send it) and to 16 kHz mono AAC at 32 kbit/s. Each is then
written through :class:`cityhub.media.audio.AudioTrack` into an in-memory fragmented MP4,
as the recorder's writer thread does: the thread's CPU time (``time.thread_time``) per minute
of audio is printed for both. Muxing AAC as it came is the baseline; the difference is what
the G.711 to AAC transcode costs.
"""

from __future__ import annotations

import argparse
import array
import io
import math
import random
import time
from fractions import Fraction

import av

from cityhub.api import AudioInfo
from cityhub.media.audio import AudioTrack
from cityhub.media.recorder import MOVFLAGS


def encode(codec: str, rate: int, seconds: float, packet_samples: int) -> list[bytes]:
    """``seconds`` of a noisy 440 Hz tone encoded with ``codec``, one bytes per packet."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.format = "fltp" if codec == "aac" else "s16"
    if codec == "aac":
        ctx.bit_rate = 32_000
    ctx.time_base = Fraction(1, rate)
    noise = random.Random(1)
    total = round(seconds * rate)
    wave = [
        0.3 * math.sin(2 * math.pi * 440 * n / rate) + 0.01 * noise.gauss(0.0, 1.0)
        for n in range(total)
    ]
    packets: list[bytes] = []
    for start in range(0, total, packet_samples):
        chunk = wave[start : start + packet_samples]
        fmt = "fltp" if codec == "aac" else "s16"
        frame = av.AudioFrame(format=fmt, layout="mono", samples=len(chunk))
        if codec == "aac":
            frame.planes[0].update(array.array("f", chunk).tobytes())
        else:
            frame.planes[0].update(array.array("h", (round(x * 32767) for x in chunk)).tobytes())
        frame.sample_rate = rate
        frame.pts = start
        packets += [bytes(p) for p in ctx.encode(frame)]
    packets += [bytes(p) for p in ctx.encode(None)]
    return packets


def measure(info: AudioInfo, packets: list[bytes], ticks: int) -> float:
    """CPU seconds this thread spends writing ``packets`` through an AudioTrack."""
    started = time.thread_time()
    container = av.open(io.BytesIO(), "w", format="mp4", options={"movflags": MOVFLAGS})
    track = AudioTrack(container, info)
    for index, data in enumerate(packets):
        track.mux(data, index * ticks, ticks)
    track.close()
    container.close()
    return time.thread_time() - started


def main() -> None:
    """Print CPU seconds per minute of audio, G.711 transcoded and AAC as it came."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    g711 = encode("pcm_mulaw", 8000, seconds, 160)
    aac = encode("aac", 16000, seconds, 1024)
    aac_info = AudioInfo("aac", 16000, 1, (1, 16000), _aac_config())
    g711_info = AudioInfo("pcm_mulaw", 8000, 1, (1, 8000))
    copy_s = measure(aac_info, aac, 1024)
    transcode_s = measure(g711_info, g711, 160)
    print(f"{args.minutes:g} min of audio, CPU seconds per minute of audio:")
    print(f"  AAC muxed as it came (baseline): {copy_s / args.minutes:.4f}")
    print(f"  G.711 u-law transcoded to AAC:   {transcode_s / args.minutes:.4f}")
    print(f"  transcode, share of one core:    {transcode_s / seconds:.3%}")


def _aac_config() -> bytes:
    """The AudioSpecificConfig of 16 kHz mono AAC-LC."""
    return bytes.fromhex("1408")


if __name__ == "__main__":
    main()
