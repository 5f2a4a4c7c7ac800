"""Evidence packages: recordings of one or more cameras over a range, signed for the courts.

A package is a folder (see docs/export.md)::

    <camera-id>.mp4      one per camera: remuxed, never transcoded, faststart MP4
    VERIFY.txt           how to check the package without cityhub
    public_key.pem       the installation's Ed25519 public key
    manifest.json        cameras, places, ranges asked for and exported, gaps, who, why,
                         and the size and SHA-256 of every file above
    manifest.json.sig    the Ed25519 signature of manifest.json (64 raw bytes)
    SHA256SUMS           every file but itself, in ``sha256sum -c`` format

Every export is written in the ``exports`` register and places a legal hold on its range, so
the original segments outlive the retention period as long as the case needs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from cityhub import __version__
from cityhub.api import Context, StorageBackend
from cityhub.db import Database, format_utc
from cityhub.media.index import TimeRange, from_ms, gap_tolerance_ms, to_ms
from cityhub.media.playback import (
    DEFAULT_STREAM,
    NoFootageError,
    Playback,
    RemuxResult,
)
from cityhub.media.signing import (
    SigningKey,
    SigningKeyError,
    fingerprint,
    load_public_key,
    verify_signature,
)
from cityhub.model import CameraConfig, HubConfig

__all__ = [
    "FORMAT",
    "MANIFEST_FILE",
    "PUBLIC_KEY_FILE",
    "SIGNATURE_FILE",
    "SUMS_FILE",
    "ExportError",
    "ExportRequest",
    "ExportResult",
    "Exporter",
    "InvalidExportError",
    "NoFootageError",
    "PlaceHold",
    "Problem",
    "VerifyReport",
    "verify_package",
]

_LOGGER = logging.getLogger(__name__)

FORMAT = "cityhub-evidence/1"
"""The manifest's ``format``: bumped whenever a verifier must read the package differently."""
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.json.sig"
PUBLIC_KEY_FILE = "public_key.pem"
SUMS_FILE = "SHA256SUMS"
VERIFY_FILE = "VERIFY.txt"
HASH_CHUNK_BYTES = 1 << 20
"""Read size (bytes) when hashing package files: streams large MP4s at disk speed."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_SUMS_LINE = re.compile(r"^(?P<hash>[0-9a-f]{64}) [ *](?P<name>.+)$")

PlaceHold = Callable[[Sequence[str], datetime, datetime, str, str, Context], Awaitable[int]]
"""Places a legal hold: ``(cameras, start, end, reference, reason, context) -> hold id``."""

ExportProgress = Callable[[str, int, int], None]
"""Called with (camera id, milliseconds of its range done, milliseconds in the range)."""

VERIFY_TEXT = """\
This folder is an evidence package exported by cityhub (format {format}).

To check it without cityhub (Linux, macOS, or any system with OpenSSL 3 and sha256sum):

  1. Every file is intact:
       sha256sum -c SHA256SUMS
  2. The manifest was signed by the key in public_key.pem:
       openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
           -in manifest.json -sigfile manifest.json.sig
  3. That key is the installation's: its fingerprint
       openssl pkey -pubin -in public_key.pem -outform DER | sha256sum
     must equal the one the town declared, which manifest.json also shows:
       {fingerprint}

With cityhub: cityhub export verify FOLDER
"""


class ExportError(Exception):
    """Base class of the errors an export raises; the message is meant for the operator."""


class InvalidExportError(ExportError):
    """The request cannot be exported as asked (no reference, empty range, unknown camera...)."""


@attrs.frozen
class ExportRequest:
    """What to export: cameras, a range (timezone-aware), and why."""

    cameras: tuple[str, ...]
    start: datetime
    end: datetime
    reference: str
    legal_basis: str
    reason: str
    stream: str = DEFAULT_STREAM


@attrs.frozen
class ExportResult:
    """A finished export: its register id, folder, signed manifest and hold."""

    export_id: int
    path: Path
    manifest_sha256: str
    hold_id: int
    manifest: Mapping[str, Any]


@attrs.frozen
class Problem:
    """One thing wrong with a package: the file concerned and what is wrong."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@attrs.frozen
class VerifyReport:
    """The outcome of :func:`verify_package`: every problem found, and the files checked."""

    path: Path
    problems: tuple[Problem, ...]
    checked: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether every hash and the signature check out."""
        return not self.problems


class Exporter:
    """Writes evidence packages from the recordings, and records them in the register."""

    def __init__(
        self,
        config: HubConfig,
        db: Database,
        storage: StorageBackend,
        signing_key: SigningKey,
        place_hold: PlaceHold,
    ) -> None:
        self.config = config
        self.db = db
        self.playback = Playback(db, storage)
        self.signing_key = signing_key
        self.place_hold = place_hold
        self.time_zone = ZoneInfo(config.hub.time_zone)

    async def export(
        self,
        request: ExportRequest,
        out_dir: Path,
        context: Context,
        progress: ExportProgress | None = None,
    ) -> ExportResult:
        """Write the package for ``request`` into ``out_dir`` (absent or empty); return it.

        Raises :class:`InvalidExportError` for a request that cannot be exported and
        :class:`NoFootageError` when a camera recorded nothing over the range.
        """
        cameras = self._check(request, out_dir)
        for camera in cameras:
            timeline = await self.playback.timeline(
                camera.id, request.stream, request.start, request.end
            )
            if not timeline.segments:
                raise NoFootageError(
                    f"camera {camera.id} ({camera.name}) has no footage of stream "
                    f"{request.stream} between {self._local(to_ms(request.start))} and "
                    f"{self._local(to_ms(request.end))}"
                )
        out_dir = await asyncio.to_thread(_make_out_dir, out_dir)
        export_id = await self._register(request, context)
        written: list[Path] = []
        try:
            hold_id = await self._hold(export_id, request, context)
            camera_entries = []
            for camera in cameras:
                path = out_dir / f"{_UNSAFE_NAME.sub('_', camera.id)}.mp4"
                written.append(path)
                result = await self.playback.remux_to_file(
                    camera.id,
                    request.stream,
                    request.start,
                    request.end,
                    path,
                    verify_sources=True,
                    metadata=self._tags(camera, request),
                    progress=None if progress is None else _for_camera(progress, camera.id),
                )
                camera_entries.append(self._camera_entry(camera, request, result, path))
            manifest = self._manifest(
                export_id,
                request,
                context,
                hold_id,
                camera_entries,
                await self.db.installation_id(),
            )
            manifest_sha256 = await asyncio.to_thread(
                self._write_package, manifest, out_dir, written
            )
        except BaseException as err:
            await asyncio.to_thread(_remove, written)
            await self._finish(export_id, "failed", error=str(err) or type(err).__name__)
            raise
        await self._finish(export_id, "complete", path=out_dir, manifest_sha256=manifest_sha256)
        _LOGGER.info(
            "Export %d (%s) written to %s by %s",
            export_id,
            request.reference,
            out_dir,
            context.origin,
        )
        return ExportResult(export_id, out_dir, manifest_sha256, hold_id, manifest)

    # --- steps ----------------------------------------------------------------------------

    def _check(self, request: ExportRequest, out_dir: Path) -> list[CameraConfig]:
        """The cameras to export; raise :class:`InvalidExportError` for a bad request."""
        for field, label in (
            ("reference", "a reference (requisition or case number)"),
            ("legal_basis", "a legal basis"),
            ("reason", "a reason"),
        ):
            if not str(getattr(request, field)).strip():
                raise InvalidExportError(f"an export needs {label}")
        if not request.cameras:
            raise InvalidExportError("an export needs at least one camera")
        if len(set(request.cameras)) != len(request.cameras):
            raise InvalidExportError("a camera is named twice")
        if to_ms(request.end) <= to_ms(request.start):
            raise InvalidExportError(
                f"the range is empty: it ends ({self._local(to_ms(request.end))}) at or before "
                f"it starts ({self._local(to_ms(request.start))})"
            )
        cameras = []
        for camera_id in request.cameras:
            try:
                cameras.append(self.config.camera(camera_id))
            except KeyError:
                known = ", ".join(c.id for c in self.config.cameras) or "none"
                raise InvalidExportError(
                    f"unknown camera {camera_id!r} (configured: {known})"
                ) from None
        return cameras

    async def _register(self, request: ExportRequest, context: Context) -> int:
        row = await self.db.fetchone(
            "INSERT INTO exports (created_at, requested_by, context_id, reference, legal_basis,"
            " reason, cameras, stream, start_ms, end_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (
                format_utc(datetime.now(UTC)),
                context.origin,
                context.id,
                request.reference.strip(),
                request.legal_basis.strip(),
                request.reason.strip(),
                json.dumps(list(request.cameras)),
                request.stream,
                to_ms(request.start),
                to_ms(request.end),
            ),
        )
        assert row is not None
        return int(row["id"])

    async def _hold(self, export_id: int, request: ExportRequest, context: Context) -> int:
        """Hold the range's footage for the case; record the hold in the register."""
        hold_id = await self.place_hold(
            list(request.cameras),
            request.start,
            request.end,
            request.reference.strip(),
            f"export {export_id}: {request.reason.strip()}",
            context,
        )
        await self.db.execute("UPDATE exports SET hold_id = ? WHERE id = ?", (hold_id, export_id))
        return hold_id

    async def _finish(
        self,
        export_id: int,
        state: str,
        *,
        path: Path | None = None,
        manifest_sha256: str | None = None,
        error: str | None = None,
    ) -> None:
        await self.db.execute(
            "UPDATE exports SET state = ?, path = ?, manifest_sha256 = ?, error = ?,"
            " finished_at = ? WHERE id = ?",
            (
                state,
                None if path is None else str(path),
                manifest_sha256,
                error,
                format_utc(datetime.now(UTC)),
                export_id,
            ),
        )

    def _tags(self, camera: CameraConfig, request: ExportRequest) -> dict[str, str]:
        """MP4 tags, so the file alone still says which camera, where, and for what case."""
        emplacement = next(
            (e for e in self.config.emplacements if e.id == camera.emplacement), None
        )
        place = f", {emplacement.name}" if emplacement else ""
        tags = {
            "title": f"{camera.name} ({camera.id}){place}",
            "comment": f"{self.config.hub.name}: {request.reference.strip()}",
        }
        if emplacement and emplacement.latitude is not None and emplacement.longitude is not None:
            tags["location"] = f"{emplacement.latitude:+08.4f}{emplacement.longitude:+09.4f}/"
        return tags

    def _camera_entry(
        self, camera: CameraConfig, request: ExportRequest, result: RemuxResult, path: Path
    ) -> dict[str, Any]:
        """The manifest's description of one camera's file."""
        start_ms, end_ms = to_ms(request.start), to_ms(request.end)
        tolerance = gap_tolerance_ms(result.fps)
        gaps = list(result.gaps)
        if result.first_ms - start_ms > tolerance:
            gaps.insert(0, TimeRange(start_ms, result.first_ms))
        if end_ms - result.end_ms > tolerance:
            gaps.append(TimeRange(result.end_ms, end_ms))
        zone = next((z for z in self.config.zones if z.id == camera.zone), None)
        emplacement = next(
            (e for e in self.config.emplacements if e.id == camera.emplacement), None
        )
        return {
            "id": camera.id,
            "name": camera.name,
            "kind": camera.kind.value,
            "purpose": camera.purpose,
            "authorisation": None
            if camera.authorisation is None
            else {
                "order": camera.authorisation.order,
                "granted": camera.authorisation.granted.isoformat(),
                "expires": camera.authorisation.expires.isoformat(),
            },
            "zone": {"id": camera.zone, "name": zone.name if zone else None},
            "emplacement": None
            if emplacement is None
            else {
                "id": emplacement.id,
                "name": emplacement.name,
                "address": emplacement.address,
                "latitude": emplacement.latitude,
                "longitude": emplacement.longitude,
            },
            "stream": {
                "profile": request.stream,
                "codec": result.codec,
                "width": result.width,
                "height": result.height,
                "fps": round(result.fps, 3),
                "audio": None
                if result.audio is None
                else {
                    "codec": result.audio.codec,
                    "sample_rate": result.audio.sample_rate,
                    "channels": result.audio.channels,
                    "packets": result.audio.packets,
                },
            },
            "file": path.name,
            "exported": {
                "first_frame": self._instant(result.first_ms),
                "last_frame": self._instant(result.last_ms),
                "end": self._instant(result.end_ms),
                "frames": result.frames,
                "duration_s": (result.end_ms - result.first_ms) / 1000,
            },
            "gaps": [
                {
                    "start": self._instant(g.start_ms),
                    "end": self._instant(g.end_ms),
                    "duration_s": g.duration_ms / 1000,
                }
                for g in gaps
            ],
            "sources": [
                {
                    "storage_key": s.storage_key,
                    "start": format_utc(from_ms(s.start_ms)),
                    "end": format_utc(from_ms(s.end_ms)),
                    "state": s.state,
                    "sha256": s.sha256,
                }
                for s in result.sources
            ],
        }

    def _manifest(
        self,
        export_id: int,
        request: ExportRequest,
        context: Context,
        hold_id: int,
        cameras: list[dict[str, Any]],
        installation_id: str,
    ) -> dict[str, Any]:
        """The manifest, less its ``files`` (added once the files are written)."""
        return {
            "format": FORMAT,
            "software": {"name": "cityhub", "version": __version__},
            "installation": {
                "id": installation_id,
                "name": self.config.hub.name,
                "time_zone": self.config.hub.time_zone,
            },
            "export": {
                "id": export_id,
                "created_at": self._instant(to_ms(datetime.now(UTC))),
                "requested_by": context.user or context.origin,
                "reference": request.reference.strip(),
                "legal_basis": request.legal_basis.strip(),
                "reason": request.reason.strip(),
                "hold_id": hold_id,
            },
            "requested": {
                "start": self._instant(to_ms(request.start)),
                "end": self._instant(to_ms(request.end)),
            },
            "cameras": cameras,
            "files": [],
            "signature": {
                "algorithm": "Ed25519",
                "file": SIGNATURE_FILE,
                "public_key": PUBLIC_KEY_FILE,
                "public_key_sha256": self.signing_key.fingerprint,
            },
        }

    def _write_package(self, manifest: dict[str, Any], out_dir: Path, written: list[Path]) -> str:
        """Write VERIFY.txt, the public key, the manifest, its signature and SHA256SUMS.

        Fills the manifest's ``files``; returns the manifest's SHA-256.
        """
        extras = {
            VERIFY_FILE: VERIFY_TEXT.format(
                format=FORMAT, fingerprint=self.signing_key.fingerprint
            ).encode(),
            PUBLIC_KEY_FILE: self.signing_key.public_pem(),
        }
        for name, content in extras.items():
            written.append(out_dir / name)
            (out_dir / name).write_bytes(content)
        names = [c["file"] for c in manifest["cameras"]] + list(extras)
        manifest["files"] = [_file_entry(out_dir / name) for name in names]
        data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
        for name, content in ((MANIFEST_FILE, data), (SIGNATURE_FILE, self.signing_key.sign(data))):
            written.append(out_dir / name)
            (out_dir / name).write_bytes(content)
        listed = [*names, MANIFEST_FILE, SIGNATURE_FILE]
        sums = "".join(f"{_sha256_file(out_dir / name)}  {name}\n" for name in listed)
        written.append(out_dir / SUMS_FILE)
        (out_dir / SUMS_FILE).write_text(sums, encoding="utf-8")
        return hashlib.sha256(data).hexdigest()

    def _instant(self, ms: int) -> dict[str, str]:
        """An instant as stored (UTC) and as read by people (local time with its offset)."""
        return {"utc": format_utc(from_ms(ms)), "local": self._local(ms)}

    def _local(self, ms: int) -> str:
        return from_ms(ms).astimezone(self.time_zone).isoformat(timespec="milliseconds")


def _make_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` (or accept it empty); return its absolute path."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InvalidExportError(f"{out_dir} exists and is not an empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir.resolve()


def _remove(paths: Sequence[Path]) -> None:
    """Delete the files of a failed export."""
    for path in paths:
        path.unlink(missing_ok=True)


def _for_camera(progress: ExportProgress, camera_id: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        progress(camera_id, done, total)

    return report


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _file_entry(path: Path) -> dict[str, Any]:
    return {"name": path.name, "size": path.stat().st_size, "sha256": _sha256_file(path)}


# --- verification ---------------------------------------------------------------------------


def verify_package(folder: Path, expected_fingerprint: str | None = None) -> VerifyReport:
    """Check every hash of a package and the signature of its manifest; list what fails.

    With ``expected_fingerprint`` (the one the town declared), the package's public key must
    also be that key.
    """
    if not folder.is_dir():
        return VerifyReport(folder, (Problem(str(folder), "not a folder"),), ())
    problems: list[Problem] = []
    present = sorted(p.name for p in folder.iterdir() if p.is_file())
    actual = {name: _sha256_file(folder / name) for name in present}

    manifest_bytes = (folder / MANIFEST_FILE).read_bytes() if MANIFEST_FILE in actual else None
    manifest: dict[str, Any] = {}
    if manifest_bytes is None:
        problems.append(Problem(MANIFEST_FILE, "missing"))
    else:
        try:
            loaded = json.loads(manifest_bytes)
            if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} manifest")
            manifest = loaded
        except (ValueError, UnicodeDecodeError) as err:
            problems.append(Problem(MANIFEST_FILE, f"unreadable ({err})"))
    signed = _manifest_hashes(manifest, problems)

    sums = _read_sums(folder, actual, problems)
    for name, expected in sums.items():
        if name not in actual:
            problems.append(Problem(SUMS_FILE, f"lists {name!r}, which is not in the package"))
        elif actual[name] != expected:
            if signed.get(name, ("", 0))[0] == actual[name]:
                problems.append(
                    Problem(SUMS_FILE, f"the entry for {name} does not match the signed manifest")
                )
            else:
                problems.append(Problem(name, "SHA-256 differs from SHA256SUMS: file altered"))
    for name in present:
        if name != SUMS_FILE and name not in sums and SUMS_FILE in actual:
            problems.append(Problem(name, "not listed in SHA256SUMS: added after the export"))

    for name, (expected, size) in signed.items():
        if name not in actual:
            problems.append(Problem(name, "listed in the manifest but missing"))
        elif actual[name] != expected or (folder / name).stat().st_size != size:
            problems.append(Problem(name, "SHA-256 differs from the signed manifest: altered"))

    if manifest_bytes is not None and manifest:
        _check_signature(folder, manifest, manifest_bytes, actual, problems)
    if expected_fingerprint is not None and PUBLIC_KEY_FILE in actual:
        _check_fingerprint(folder, expected_fingerprint.strip().lower(), problems)
    return VerifyReport(folder, tuple(problems), tuple(present))


def _manifest_hashes(
    manifest: Mapping[str, Any], problems: list[Problem]
) -> dict[str, tuple[str, int]]:
    """Name -> (SHA-256, size) of every file the manifest lists."""
    hashes: dict[str, tuple[str, int]] = {}
    for entry in manifest.get("files", []) if manifest else []:
        try:
            hashes[str(entry["name"])] = (str(entry["sha256"]), int(entry["size"]))
        except (KeyError, TypeError, ValueError):
            problems.append(Problem(MANIFEST_FILE, f"malformed file entry {entry!r}"))
    return hashes


def _read_sums(folder: Path, actual: Mapping[str, str], problems: list[Problem]) -> dict[str, str]:
    """Name -> SHA-256 from SHA256SUMS; malformed lines are problems."""
    if SUMS_FILE not in actual:
        problems.append(Problem(SUMS_FILE, "missing"))
        return {}
    sums: dict[str, str] = {}
    try:
        text = (folder / SUMS_FILE).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(SUMS_FILE, "not UTF-8 text: altered"))
        return {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _SUMS_LINE.match(line)
        if match is None or "/" in match["name"]:
            problems.append(Problem(SUMS_FILE, f"line {number} is malformed: {line!r}"))
            continue
        sums[match["name"]] = match["hash"]
    return sums


def _check_signature(
    folder: Path,
    manifest: Mapping[str, Any],
    manifest_bytes: bytes,
    actual: Mapping[str, str],
    problems: list[Problem],
) -> None:
    """Check the public key against the manifest's fingerprint, then the signature."""
    if PUBLIC_KEY_FILE not in actual:
        problems.append(Problem(PUBLIC_KEY_FILE, "missing"))
        return
    if SIGNATURE_FILE not in actual:
        problems.append(Problem(SIGNATURE_FILE, "missing"))
        return
    try:
        public_key = load_public_key((folder / PUBLIC_KEY_FILE).read_bytes())
    except SigningKeyError as err:
        problems.append(Problem(PUBLIC_KEY_FILE, str(err)))
        return
    declared = manifest.get("signature", {}).get("public_key_sha256")
    if fingerprint(public_key) != declared:
        problems.append(
            Problem(
                PUBLIC_KEY_FILE,
                f"fingerprint {fingerprint(public_key)} differs from the manifest's {declared}",
            )
        )
    signature = (folder / SIGNATURE_FILE).read_bytes()
    if not verify_signature(public_key, manifest_bytes, signature):
        problems.append(
            Problem(
                SIGNATURE_FILE,
                f"the signature does not verify {MANIFEST_FILE} with {PUBLIC_KEY_FILE}: "
                f"the manifest or the signature was altered",
            )
        )


def _check_fingerprint(folder: Path, expected: str, problems: list[Problem]) -> None:
    """Check that the package's public key is the one whose fingerprint is ``expected``."""
    try:
        public_key = load_public_key((folder / PUBLIC_KEY_FILE).read_bytes())
    except SigningKeyError:
        return  # already reported by the signature check
    if fingerprint(public_key) != expected:
        problems.append(
            Problem(
                PUBLIC_KEY_FILE,
                f"this is not the expected key: fingerprint {fingerprint(public_key)}, "
                f"expected {expected}",
            )
        )
