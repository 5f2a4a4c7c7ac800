"""Tests of the built-in local-disk storage backend."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import voluptuous as vol

from cityhub.api import StorageBackend
from cityhub.storage import InvalidKeyError, LocalStorage

KEY = "cam-1/2026/11/22/120000.mp4"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage({"path": "recordings"}, tmp_path / "data")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_is_a_storage_backend_named_local() -> None:
    assert issubclass(LocalStorage, StorageBackend)
    assert LocalStorage.NAME == "local"


def test_schema_defaults_the_path() -> None:
    assert LocalStorage.CONFIG_SCHEMA({}) == {"path": "recordings"}
    with pytest.raises(vol.Invalid):
        LocalStorage.CONFIG_SCHEMA({"path": 3})
    with pytest.raises(vol.Invalid):
        LocalStorage.CONFIG_SCHEMA({"bucket": "x"})


def test_relative_path_resolves_against_the_data_folder(tmp_path: Path) -> None:
    storage = LocalStorage(LocalStorage.CONFIG_SCHEMA({}), tmp_path / "data")
    assert storage.root == tmp_path / "data" / "recordings"
    assert storage.root.is_dir()


def test_absolute_path_is_used_as_is(tmp_path: Path) -> None:
    elsewhere = tmp_path / "nas" / "csu"
    storage = LocalStorage({"path": str(elsewhere)}, tmp_path / "data")
    assert storage.root == elsewhere
    assert elsewhere.is_dir()


def test_write_then_read_round_trips(storage: LocalStorage) -> None:
    with storage.open_write(KEY) as out:
        out.write(b"ftyp")
        out.write(b"moof" * 1000)
    assert (storage.root / KEY).is_file()
    with storage.open_read(KEY) as back:
        assert back.read() == b"ftyp" + b"moof" * 1000


def test_write_replaces_an_existing_key(storage: LocalStorage) -> None:
    with storage.open_write(KEY) as out:
        out.write(b"first, longer content")
    with storage.open_write(KEY) as out:
        out.write(b"second")
    with storage.open_read(KEY) as back:
        assert back.read() == b"second"


def test_written_bytes_are_on_disk_under_the_final_name_before_close(
    storage: LocalStorage,
) -> None:
    out = storage.open_write(KEY)
    try:
        out.write(b"segment header")
        out.flush()
        assert (storage.root / KEY).read_bytes() == b"segment header"
    finally:
        out.close()


def test_close_fsyncs_the_file_and_its_folder(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = storage.open_write(KEY)
    out.write(b"data")
    assert synced == []
    out.close()
    path = storage.root / KEY
    assert synced == [str(path), str(path.parent)]


def test_read_of_a_missing_key_raises_file_not_found(storage: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.open_read("cam-1/none.mp4")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "..",
        "../outside.mp4",
        "cam-1/../../outside.mp4",
        "cam-1/..",
        "./cam-1/a.mp4",
        "cam-1//a.mp4",
        "cam-1/",
        "cam-1\\a.mp4",
        "..\\outside.mp4",
        "cam-1/a\0.mp4",
    ],
)
def test_unsafe_keys_are_refused_and_never_escape_the_root(tmp_path: Path, key: str) -> None:
    storage = LocalStorage({"path": "recordings"}, tmp_path / "data")
    (storage.root / "cam-1").mkdir()
    before = _files(tmp_path)
    with pytest.raises(InvalidKeyError):
        storage.open_write(key)
    with pytest.raises(InvalidKeyError):
        storage.open_read(key)
    with pytest.raises(InvalidKeyError):
        storage.delete(key)
    assert _files(tmp_path) == before


def test_unsafe_prefixes_are_refused(storage: LocalStorage) -> None:
    for prefix in ("/", "../", "cam-1/../", "..", "a//", "a\\b"):
        with pytest.raises(InvalidKeyError):
            storage.list(prefix)


def test_delete_removes_the_file_and_empty_folders_up_to_the_root(storage: LocalStorage) -> None:
    for key in (KEY, "cam-1/2026/11/21/230000.mp4"):
        with storage.open_write(key) as out:
            out.write(b"x")
    storage.delete(KEY)
    assert _files(storage.root) == [
        "cam-1",
        "cam-1/2026",
        "cam-1/2026/11",
        "cam-1/2026/11/21",
        "cam-1/2026/11/21/230000.mp4",
    ]
    storage.delete("cam-1/2026/11/21/230000.mp4")
    assert _files(storage.root) == []
    assert storage.root.is_dir()


def test_delete_of_a_missing_key_is_fine(storage: LocalStorage) -> None:
    storage.delete("cam-9/2026/none.mp4")
    storage.delete(KEY)
    assert _files(storage.root) == []


def test_write_after_delete_emptied_its_folder(storage: LocalStorage) -> None:
    with storage.open_write("cam-1/a.mp4") as out:
        out.write(b"a")
    storage.delete("cam-1/a.mp4")
    with storage.open_write("cam-1/b.mp4") as out:
        out.write(b"b")
    assert storage.list() == ["cam-1/b.mp4"]


def test_list_is_sorted_and_filters_by_prefix(storage: LocalStorage) -> None:
    keys = [
        "cam-2/2026/11/22/000000.mp4",
        "cam-1/2026/11/22/120000.mp4",
        "cam-10/2026/11/22/120000.mp4",
        "cam-1/2026/11/21/230000.mp4",
        "exports/2026-0042.zip",
    ]
    for key in keys:
        with storage.open_write(key) as out:
            out.write(b"x")
    assert storage.list() == sorted(keys)
    assert storage.list("cam-1/") == [
        "cam-1/2026/11/21/230000.mp4",
        "cam-1/2026/11/22/120000.mp4",
    ]
    assert storage.list("cam-1") == [
        "cam-1/2026/11/21/230000.mp4",
        "cam-1/2026/11/22/120000.mp4",
        "cam-10/2026/11/22/120000.mp4",
    ]
    assert storage.list("cam-1/2026/11/22/12") == ["cam-1/2026/11/22/120000.mp4"]
    assert storage.list("cam-3/") == []
    assert storage.list("exports/2026-0042.zip") == ["exports/2026-0042.zip"]


def test_usage_counts_bytes_under_the_root(storage: LocalStorage) -> None:
    assert storage.usage().used == 0
    with storage.open_write(KEY) as out:
        out.write(b"x" * 10_000)
    with storage.open_write("cam-2/a.mp4") as out:
        out.write(b"y" * 2_345)
    (storage.root.parent / "outside.bin").write_bytes(b"z" * 50_000)

    usage = storage.usage()
    disk = shutil.disk_usage(storage.root)
    assert usage.used == 12_345
    assert usage.total == disk.total
    assert 0 < usage.free <= usage.total


def test_usage_follows_writes_and_deletes_without_walking_again(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    with storage.open_write(KEY) as out:
        out.write(b"x" * 1_000)
    assert storage.usage().used == 1_000  # the one walk

    def no_walk(*args: object, **kwargs: object) -> None:
        raise AssertionError("usage() walked the files again")

    monkeypatch.setattr("cityhub.storage.local.os.walk", no_walk)
    with storage.open_write("cam-2/a.mp4") as out:
        out.write(b"y" * 500)
    assert storage.usage().used == 1_500
    with storage.open_write(KEY) as out:  # replacing a file counts its new size only
        out.write(b"z" * 200)
    assert storage.usage().used == 700
    storage.delete("cam-2/a.mp4")
    storage.delete("cam-2/a.mp4")  # a second delete changes nothing
    assert storage.usage().used == 200
