"""The loop clip cache: reused across cameras and restarts, never left half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityhub_virtual import clip as clip_module

OPTIONS = {"mode": "loop", "width": 160, "height": 90, "fps": 10, "gop": 10, "clip_seconds": 1}


def _cache_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.iterdir()) if cache_dir.exists() else []


def test_second_open_reuses_the_cache(make_camera, tmp_path: Path) -> None:
    first = make_camera(OPTIONS)
    first.open_stream("main").close()
    first.open_stream("main").close()
    assert first.clips.encodes == 1
    (path,) = _cache_files(tmp_path / "cache")
    mtime = path.stat().st_mtime_ns

    restarted = make_camera(OPTIONS)
    reader = restarted.open_stream("main")
    assert reader.read().keyframe
    reader.close()
    assert restarted.clips.encodes == 0
    assert path.stat().st_mtime_ns == mtime


def test_other_parameters_get_another_clip(make_camera, tmp_path: Path) -> None:
    make_camera(OPTIONS).open_stream("main").close()
    other = make_camera({**OPTIONS, "bitrate": 200_000})
    other.open_stream("main").close()
    assert other.clips.encodes == 1
    assert len(_cache_files(tmp_path / "cache")) == 2


def test_a_crash_while_writing_leaves_no_cache(make_camera, tmp_path: Path, monkeypatch) -> None:
    real_serialise = clip_module.serialise

    def _crash(clip, out) -> None:
        real_serialise(clip, out)
        out.truncate(out.tell() // 2)
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(clip_module, "serialise", _crash)
    with pytest.raises(KeyboardInterrupt):
        make_camera(OPTIONS).open_stream("main")
    assert _cache_files(tmp_path / "cache") == []

    monkeypatch.setattr(clip_module, "serialise", real_serialise)
    camera = make_camera(OPTIONS)
    camera.open_stream("main").close()
    assert camera.clips.encodes == 1
    assert len(_cache_files(tmp_path / "cache")) == 1


def test_a_damaged_cache_is_encoded_again(make_camera, tmp_path: Path) -> None:
    first = make_camera(OPTIONS)
    first.open_stream("main").close()
    (path,) = _cache_files(tmp_path / "cache")
    path.write_bytes(path.read_bytes()[:-7])

    second = make_camera(OPTIONS)
    reader = second.open_stream("main")
    reader.read()
    reader.close()
    assert second.clips.encodes == 1
    third = make_camera(OPTIONS)
    third.open_stream("main").close()
    assert third.clips.encodes == 0


def test_an_unwritable_cache_still_streams(make_camera, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    camera = make_camera(OPTIONS, cache_dir=blocker)
    reader = camera.open_stream("main")
    assert reader.read().keyframe
    reader.close()
