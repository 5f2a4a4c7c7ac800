"""The loop clip: encoded once per set of encoding parameters, cached on disk, held in memory.

Cache file layout (all integers big-endian): the magic ``CHVCLIP1``; a 4-byte length and a
UTF-8 JSON header (``width``, ``height``, ``fps``, ``gop``, ``frames``); a 4-byte length and
the Annex-B SPS/PPS; then per frame a 4-byte length, a flags byte (bit 0: keyframe) and the
Annex-B access unit. A file is written under a temporary name and renamed into place, so a
crash never leaves a partial cache under the final name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

import attrs
import av

from cityhub_virtual.encoder import EncodedFrame, H264Encoder, parameter_sets
from cityhub_virtual.models import EncodingProfile
from cityhub_virtual.scene import SceneRenderer

__all__ = ["Clip", "ClipCacheError", "ClipStore", "encode_clip"]

CLIP_FORMAT_VERSION = 1
MAGIC = b"CHVCLIP1"
CACHE_PREFIX = "virtual-loop-"
CACHE_SUFFIX = ".chclip"
STALE_TEMP_SECONDS = 600.0
"""Temporary files older than this are left-overs of a crash and are removed."""
_LENGTH = struct.Struct(">I")
_RECORD = struct.Struct(">IB")
_KEYFRAME = 0x01


class ClipCacheError(Exception):
    """A cache file is unreadable, truncated or for other parameters."""


@attrs.frozen
class Clip:
    """An encoded loop: its SPS/PPS and its frames, starting with a keyframe."""

    profile: EncodingProfile
    extradata: bytes
    frames: tuple[EncodedFrame, ...]


def loop_caption(index: int, fps: int) -> str:
    """The caption of loop frame ``index``: its offset in the clip."""
    return f"LOOP {index / fps:06.3f} s"


def loop_clock_ms(index: int, fps: int) -> int:
    """The clock burnt into loop frame ``index``: its offset in the clip, in milliseconds."""
    return index * 1000 // fps


def encode_clip(profile: EncodingProfile, frames: int, renderer: SceneRenderer) -> Clip:
    """Render and encode a loop of ``frames`` frames (a whole number of GOPs)."""
    encoder = H264Encoder(profile)
    encoded: list[EncodedFrame] = []
    index = 0
    while len(encoded) < frames:
        image = renderer.render(
            loop_clock_ms(index, profile.fps), loop_caption(index, profile.fps), index / frames
        )
        encoded.extend(encoder.encode(image, index))
        index += 1
    encoded = encoded[:frames]
    if not encoded[0].keyframe:
        raise RuntimeError("the encoder did not start the loop with a keyframe")
    return Clip(profile=profile, extradata=parameter_sets(encoded[0].data), frames=tuple(encoded))


def cache_key(profile: EncodingProfile, frames: int, title: str) -> str:
    """A hash of everything that shapes the clip's bytes."""
    material = {
        "format": CLIP_FORMAT_VERSION,
        "av": av.__version__,
        "width": profile.width,
        "height": profile.height,
        "fps": profile.fps,
        "bitrate": profile.bitrate,
        "gop": profile.gop,
        "frames": frames,
        "title": title,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]


def _header(profile: EncodingProfile, frames: int) -> dict[str, int]:
    return {
        "width": profile.width,
        "height": profile.height,
        "fps": profile.fps,
        "gop": profile.gop,
        "frames": frames,
    }


def serialise(clip: Clip, out: BinaryIO) -> None:
    """Write ``clip`` in the cache file layout."""
    header = json.dumps(_header(clip.profile, len(clip.frames)), sort_keys=True).encode()
    out.write(MAGIC)
    out.write(_LENGTH.pack(len(header)) + header)
    out.write(_LENGTH.pack(len(clip.extradata)) + clip.extradata)
    for frame in clip.frames:
        out.write(_RECORD.pack(len(frame.data), _KEYFRAME if frame.keyframe else 0))
        out.write(frame.data)


def _take(data: memoryview, offset: int, size: int) -> tuple[bytes, int]:
    if offset + size > len(data):
        raise ClipCacheError("truncated")
    return bytes(data[offset : offset + size]), offset + size


def deserialise(blob: bytes, profile: EncodingProfile, frames: int) -> Clip:
    """Parse a cache file's bytes; raises :class:`ClipCacheError` unless it is whole and fits."""
    data = memoryview(blob)
    magic, offset = _take(data, 0, len(MAGIC))
    if magic != MAGIC:
        raise ClipCacheError("not a clip cache file")
    raw, offset = _take(data, offset, _LENGTH.size)
    raw, offset = _take(data, offset, _LENGTH.unpack(raw)[0])
    try:
        header = json.loads(raw)
    except ValueError as err:
        raise ClipCacheError(f"bad header: {err}") from None
    expected = _header(profile, frames)
    if header != expected:
        raise ClipCacheError(f"header {header} does not match {expected}")
    raw, offset = _take(data, offset, _LENGTH.size)
    extradata, offset = _take(data, offset, _LENGTH.unpack(raw)[0])
    encoded = []
    for _ in range(frames):
        raw, offset = _take(data, offset, _RECORD.size)
        size, flags = _RECORD.unpack(raw)
        payload, offset = _take(data, offset, size)
        encoded.append(EncodedFrame(data=payload, keyframe=bool(flags & _KEYFRAME)))
    if offset != len(data):
        raise ClipCacheError("trailing bytes")
    if not encoded or not encoded[0].keyframe or not extradata:
        raise ClipCacheError("the clip does not start with a keyframe")
    return Clip(profile=profile, extradata=extradata, frames=tuple(encoded))


def write_atomically(path: Path, clip: Clip) -> None:
    """Write ``clip`` to ``path`` through a temporary file renamed into place."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            serialise(clip, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class ClipStore:
    """The loop clips of one camera: in memory, else from the disk cache, else encoded.

    ``encodes`` counts the clips this store had to encode (diagnostics, tests).
    """

    def __init__(self, cache_dir: Path, title: str, logger: logging.Logger) -> None:
        self.cache_dir = cache_dir
        self.title = title
        self.logger = logger
        self.encodes = 0
        self._clips: dict[str, Clip] = {}
        self._lock = threading.Lock()

    def path_for(self, profile: EncodingProfile, frames: int) -> Path:
        """Where the clip for ``profile`` is cached."""
        key = cache_key(profile, frames, self.title)
        return self.cache_dir / f"{CACHE_PREFIX}{key}{CACHE_SUFFIX}"

    def get(self, profile: EncodingProfile, frames: int, renderer: SceneRenderer) -> Clip:
        """The clip of ``frames`` frames for ``profile``; blocking (may encode)."""
        with self._lock:
            clip = self._clips.get(profile.name)
            if clip is None or clip.profile != profile or len(clip.frames) != frames:
                clip = self._load_or_encode(profile, frames, renderer)
                self._clips[profile.name] = clip
            return clip

    def _load_or_encode(
        self, profile: EncodingProfile, frames: int, renderer: SceneRenderer
    ) -> Clip:
        path = self.path_for(profile, frames)
        try:
            clip = deserialise(path.read_bytes(), profile, frames)
        except FileNotFoundError:
            pass
        except (OSError, ClipCacheError) as err:
            self.logger.warning("Ignoring the unreadable loop cache %s: %s", path.name, err)
        else:
            self.logger.debug("Loaded the %s loop from %s", profile.name, path.name)
            return clip
        started = time.perf_counter()
        clip = encode_clip(profile, frames, renderer)
        self.encodes += 1
        self.logger.info(
            "Encoded the %s loop (%d frames, %dx%d) in %.2f s",
            profile.name,
            frames,
            profile.width,
            profile.height,
            time.perf_counter() - started,
        )
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temporaries()
            write_atomically(path, clip)
        except OSError as err:
            self.logger.warning("Cannot cache the loop in %s: %s", self.cache_dir, err)
        return clip

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files a crash left behind."""
        limit = time.time() - STALE_TEMP_SECONDS
        for temp in self.cache_dir.glob(f".{CACHE_PREFIX}*.tmp"):
            try:
                if temp.stat().st_mtime < limit:
                    temp.unlink()
            except OSError:
                continue
