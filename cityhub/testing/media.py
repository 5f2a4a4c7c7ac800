"""Media checks for tests: run ffprobe on a file and return what it found."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class FfprobeResult:
    """What ffprobe reports of a media file: its video stream, duration and decode errors.

    ``frames`` and ``keyframes`` count the video's frames; ``audio_*`` describe the first
    audio stream (``audio_codec`` is ``None`` without one; ``audio_frames`` counts its
    decoded frames) and ``duration``/``audio_duration`` are the file's and the audio's.
    """

    codec: str
    width: int
    height: int
    duration: float
    frames: int
    keyframes: int
    errors: str
    raw: dict[str, Any]
    audio_codec: str | None = None
    audio_sample_rate: int = 0
    audio_channels: int = 0
    audio_duration: float = 0.0
    audio_frames: int = 0


def ffprobe(path: Path, *, count_frames: bool = True) -> FfprobeResult:
    """Probe ``path`` with ffprobe (decoding every frame when ``count_frames``).

    Raises ``AssertionError`` with ffprobe's own words when the file is not readable media.
    """
    exe = shutil.which("ffprobe")
    if exe is None:
        raise RuntimeError("ffprobe is not installed (Debian package ffmpeg)")
    cmd = [exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    if count_frames:
        cmd += ["-show_entries", "frame=media_type,key_frame"]
    proc = subprocess.run(
        [*cmd, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"ffprobe failed on {path}: {proc.stderr.strip()}")
    data = json.loads(proc.stdout)
    video = next((s for s in data.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise AssertionError(f"{path} has no video stream")
    audio = next((s for s in data.get("streams", []) if s.get("codec_type") == "audio"), None)
    frames = [f for f in data.get("frames", []) if f.get("media_type") == "video"]
    duration = float(data.get("format", {}).get("duration") or video.get("duration") or 0.0)
    return FfprobeResult(
        codec=str(video.get("codec_name")),
        width=int(video.get("width", 0)),
        height=int(video.get("height", 0)),
        duration=duration,
        frames=len(frames),
        keyframes=sum(1 for f in frames if f.get("key_frame") == 1),
        errors=proc.stderr.strip(),
        raw=data,
        audio_codec=None if audio is None else str(audio.get("codec_name")),
        audio_sample_rate=0 if audio is None else int(audio.get("sample_rate", 0)),
        audio_channels=0 if audio is None else int(audio.get("channels", 0)),
        audio_duration=0.0 if audio is None else float(audio.get("duration") or 0.0),
        audio_frames=sum(1 for f in data.get("frames", []) if f.get("media_type") == "audio"),
    )
