"""The built-in storage backend: recordings and exports as files under one folder.

Keys map onto paths below the root (``cam-1/2026/11/22/120000.mp4``); a key that could name
anything outside the root is refused. Writes go straight to the final name so a recording
interrupted by a crash keeps what was written, and each file is fsynced when closed. Every
method blocks: the core calls them from worker threads.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import voluptuous as vol

from cityhub.api import StorageBackend, StorageUsage

__all__ = ["DEFAULT_PATH", "InvalidKeyError", "LocalStorage"]

CONF_PATH = "path"

DEFAULT_PATH = "recordings"
"""Where recordings go when ``storage.options.path`` is not set: relative to the data folder."""


class InvalidKeyError(ValueError):
    """A key (or prefix) is not a relative ``/``-separated path that stays under the root."""


def _key_parts(key: str, *, prefix: bool = False) -> list[str]:
    """The path components of ``key``; raise :class:`InvalidKeyError` when it is unsafe.

    A prefix may be empty and may end with ``/`` (its last component is then empty).
    """
    what = "prefix" if prefix else "key"
    if not key and not prefix:
        raise InvalidKeyError("empty key")
    if key.startswith("/"):
        raise InvalidKeyError(f"{what} {key!r} is absolute; keys are relative to the storage root")
    if "\\" in key or "\0" in key:
        raise InvalidKeyError(f"{what} {key!r} contains a backslash or a NUL character")
    parts = key.split("/") if key else []
    inner = parts[:-1] if prefix else parts
    for part in inner:
        if part in ("", ".", ".."):
            raise InvalidKeyError(f"{what} {key!r} has an empty, '.' or '..' component")
    if prefix and parts and parts[-1] in (".", ".."):
        raise InvalidKeyError(f"{what} {key!r} ends with a '.' or '..' component")
    return parts


class _FsyncOnClose(io.FileIO):
    """A file whose data and directory entry reach the disk when it is closed.

    ``on_closed(size)`` is called once closed, with the file's final size.
    """

    on_closed: Callable[[int], None] | None = None

    def close(self) -> None:
        if not self.closed:
            try:
                os.fsync(self.fileno())
                size = os.fstat(self.fileno()).st_size
            finally:
                super().close()
            _fsync_dir(Path(str(self.name)).parent)
            if self.on_closed is not None:
                self.on_closed(size)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(StorageBackend):
    """Recordings and exports as files under a folder of a local or mounted disk."""

    NAME = "local"
    DESCRIPTION = "Files under a folder of a local or mounted disk."
    CONFIG_SCHEMA = vol.Schema({vol.Optional(CONF_PATH, default=DEFAULT_PATH): str})

    def __init__(self, options: Mapping[str, Any], base_dir: Path) -> None:
        super().__init__(options, base_dir)
        path = Path(options.get(CONF_PATH, DEFAULT_PATH)).expanduser()
        self.root = path if path.is_absolute() else base_dir / path
        self.root.mkdir(parents=True, exist_ok=True)
        self._used: int | None = None
        self._used_lock = threading.Lock()

    def _count(self, delta: int) -> None:
        """Add ``delta`` bytes to the running total (once it has been taken)."""
        with self._used_lock:
            if self._used is not None:
                self._used += delta

    def _size_of(self, path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0

    def _path_of(self, key: str) -> Path:
        """The file that stores ``key``; raise :class:`InvalidKeyError` for an unsafe key."""
        return self.root.joinpath(*_key_parts(key))

    def open_write(self, key: str) -> BinaryIO:
        """Create or replace ``key`` and its folders; the file is fsynced when closed."""
        path = self._path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        replaced = self._size_of(path)
        try:
            raw = _FsyncOnClose(path, "wb")
        except FileNotFoundError:
            # A concurrent delete removed the folder just made (it was empty): make it again.
            path.parent.mkdir(parents=True, exist_ok=True)
            raw = _FsyncOnClose(path, "wb")
        self._count(-replaced)
        raw.on_closed = self._count
        return io.BufferedWriter(raw)

    def open_read(self, key: str) -> BinaryIO:
        """Open ``key`` for reading; raise ``FileNotFoundError`` when absent."""
        return self._path_of(key).open("rb")

    def delete(self, key: str) -> None:
        """Remove ``key`` (a missing one is fine) and the folders it leaves empty."""
        path = self._path_of(key)
        size = self._size_of(path)
        try:
            path.unlink()
        except FileNotFoundError:
            size = 0
        self._count(-size)
        folder = path.parent
        while folder != self.root:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent

    def list(self, prefix: str = "") -> Sequence[str]:
        """Every key starting with ``prefix`` (a string prefix, as in object stores), sorted."""
        parts = _key_parts(prefix, prefix=True)
        start = self.root.joinpath(*parts[:-1])
        keys = []
        for folder, _dirs, files in os.walk(start):
            relative = Path(folder).relative_to(self.root).parts
            for name in files:
                key = "/".join((*relative, name))
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def usage(self) -> StorageUsage:
        """The disk's size and free space, and the bytes the files under the root take.

        The files are walked once, at the first call; from then on the total follows this
        backend's own writes and deletes, so retention can ask every pass at city scale.
        """
        disk = shutil.disk_usage(self.root)
        with self._used_lock:
            if self._used is None:
                self._used = self._walk_used()
            used = self._used
        return StorageUsage(total=disk.total, used=used, free=disk.free)

    def _walk_used(self) -> int:
        used = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    used += os.lstat(os.path.join(folder, name)).st_size
                except FileNotFoundError:
                    continue
        return used
