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
    """What ffprobe reports of a media file: its video stream, duration and decode errors."""

    codec: str
    width: int
    height: int
    duration: float
    frames: int
    keyframes: int
    errors: str
    raw: dict[str, Any]


def ffprobe(path: Path, *, count_frames: bool = True) -> FfprobeResult:
    """Probe ``path`` with ffprobe (decoding every frame when ``count_frames``).

    Raises ``AssertionError`` with ffprobe's own words when the file is not readable media.
    """
    exe = shutil.which("ffprobe")
    if exe is None:
        raise RuntimeError("ffprobe is not installed (Debian package ffmpeg)")
    cmd = [exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    if count_frames:
        cmd += ["-show_entries", "frame=key_frame", "-select_streams", "v:0"]
    proc = subprocess.run(
        [*cmd, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"ffprobe failed on {path}: {proc.stderr.strip()}")
    data = json.loads(proc.stdout)
    video = next((s for s in data.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise AssertionError(f"{path} has no video stream")
    frames = data.get("frames", [])
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
    )
