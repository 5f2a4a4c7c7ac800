"""Evidence packages: real MP4s, a signed manifest, hashes, tamper detection, the register.

The legal hold is a recording fake standing in for ``Holds.create`` (tested with holds):
these tests check that an export asks for the hold with the right arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from playback_kit import FPS, HEIGHT, T0_MS, WIDTH, at, record

from cityhub.api import CameraKind, Context
from cityhub.db import Database
from cityhub.media.export import (
    Exporter,
    ExportRequest,
    InvalidExportError,
    NoFootageError,
    verify_package,
)
from cityhub.media.playback import SourceIntegrityError
from cityhub.media.signing import KEY_DIR, KEY_FILE, SigningKey, SigningKeyError
from cityhub.model import (
    Authorisation,
    CameraConfig,
    Emplacement,
    HttpConfig,
    HubConfig,
    HubSettings,
    StorageConfig,
    Zone,
)
from cityhub.storage.local import LocalStorage
from cityhub.testing import ffprobe

REFERENCE = "PV-2026-00042"
PACKAGE_FILES = {
    "cam-a.mp4",
    "cam-b.mp4",
    "VERIFY.txt",
    "public_key.pem",
    "manifest.json",
    "manifest.json.sig",
    "SHA256SUMS",
}


@attrs.define
class HoldRecorder:
    """Stands in for ``Holds(db).create``: records each call and returns hold ids from 42."""

    calls: list[tuple[Any, ...]] = attrs.field(factory=list)

    async def __call__(
        self,
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        reference: str,
        reason: str,
        context: Context,
    ) -> int:
        self.calls.append((list(cameras), start, end, reference, reason, context))
        return 41 + len(self.calls)


def hub_config(tmp_path: Path) -> HubConfig:
    camera = CameraConfig(
        id="cam-a",
        name="Mairie nord",
        kind=CameraKind.PTZ,
        driver="virtual",
        zone="centre",
        retention_days=14,
        emplacement="place-mairie",
        purpose="Protection des bâtiments publics",
        authorisation=Authorisation("DEMO-2026-001", date(2026, 1, 15), date(2031, 1, 15)),
    )
    return HubConfig(
        config_dir=tmp_path,
        hub=HubSettings(name="CSU de Millau", time_zone="Europe/Paris", data_dir=tmp_path),
        http=HttpConfig(),
        storage=StorageConfig(),
        zones=(Zone("centre", "Centre-ville"), Zone("gare", "Quartier de la gare")),
        emplacements=(
            Emplacement(
                "place-mairie", "Place de la mairie", "centre", latitude=44.098, longitude=3.0776
            ),
        ),
        cameras=(
            camera,
            attrs.evolve(
                camera, id="cam-b", name="Parvis de la gare", zone="gare", emplacement=None
            ),
        ),
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "cityhub.db")
    yield database
    await database.close()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage({}, tmp_path)


@pytest.fixture
def holds() -> HoldRecorder:
    return HoldRecorder()


@pytest.fixture
def exporter(db: Database, storage: LocalStorage, holds: HoldRecorder, tmp_path: Path) -> Exporter:
    key = SigningKey.load_or_create(tmp_path)
    return Exporter(hub_config(tmp_path), db, storage, key, holds)


def request(start_ms: int, end_ms: int, *cameras: str, reference: str = REFERENCE) -> ExportRequest:
    return ExportRequest(
        cameras=cameras or ("cam-a", "cam-b"),
        start=at(start_ms),
        end=at(end_ms),
        reference=reference,
        legal_basis="Réquisition judiciaire, art. 60-1 du code de procédure pénale",
        reason="Vol à l'arraché place de la mairie",
    )


@pytest.fixture
async def package(
    db: Database, storage: LocalStorage, exporter: Exporter, tmp_path: Path
) -> tuple[Path, dict[str, Any]]:
    """cam-a recorded 0-8 s and 12-20 s (a gap), cam-b 0-20 s; exported 2.5-14.2 s."""
    await record(db, storage, "cam-a", T0_MS, 8)
    await record(db, storage, "cam-a", T0_MS + 12_000, 8)
    await record(db, storage, "cam-b", T0_MS, 20, shade=90)
    result = await exporter.export(
        request(2500, 14_200), tmp_path / "package", Context(user="agent.dupont")
    )
    return result.path, dict(result.manifest)


async def test_package_holds_real_mp4s_and_a_complete_manifest(
    package: tuple[Path, dict[str, Any]], db: Database, holds: HoldRecorder
) -> None:
    path, manifest = package
    assert {p.name for p in path.iterdir()} == PACKAGE_FILES
    assert json.loads((path / "manifest.json").read_text("utf-8")) == manifest

    # cam-a: keyframe at 2 s .. 8 s, then 12 s .. frame at 14.2 s; cam-b: 2 s .. 14.2 s.
    for name, frames in (("cam-a.mp4", 6 * FPS + 56), ("cam-b.mp4", 12 * FPS + 6)):
        probe = ffprobe(path / name)
        assert probe.errors == ""
        assert (probe.codec, probe.width, probe.height) == ("h264", WIDTH, HEIGHT)
        assert probe.frames == frames
        assert probe.raw["frames"][0]["key_frame"] == 1
        assert abs(probe.duration - 11.7) <= 1.0, "within one GOP of the range asked for"

    tags = ffprobe(path / "cam-a.mp4", count_frames=False).raw["format"]["tags"]
    assert tags["title"] == "Mairie nord (cam-a), Place de la mairie"
    assert tags["location"] == "+44.0980+003.0776/"
    assert tags["creation_time"] == "2026-11-18T09:20:02.000000Z"
    assert REFERENCE in tags["comment"]

    cam_a, cam_b = manifest["cameras"]
    assert cam_a["name"] == "Mairie nord"
    assert cam_a["zone"] == {"id": "centre", "name": "Centre-ville"}
    assert cam_a["emplacement"]["latitude"] == 44.098
    assert cam_a["authorisation"]["order"] == "DEMO-2026-001"
    assert cam_a["stream"] == {
        "profile": "main",
        "codec": "h264",
        "width": WIDTH,
        "height": HEIGHT,
        "fps": FPS,
        "audio": None,
    }
    assert cam_a["exported"]["first_frame"] == {
        "utc": "2026-11-18T09:20:02.000Z",
        "local": "2026-11-18T10:20:02.000+01:00",
    }
    assert cam_a["exported"]["last_frame"]["utc"] == "2026-11-18T09:20:14.200Z"
    assert [(g["start"]["utc"], g["duration_s"]) for g in cam_a["gaps"]] == [
        ("2026-11-18T09:20:08.000Z", 4.0)
    ]
    assert cam_b["gaps"] == []
    assert cam_b["emplacement"] is None
    assert len(cam_a["sources"]) == 3
    assert manifest["requested"]["start"]["local"] == "2026-11-18T10:20:02.500+01:00"
    assert manifest["export"]["requested_by"] == "agent.dupont"
    assert manifest["export"]["reference"] == REFERENCE
    assert manifest["export"]["hold_id"] == 42
    assert manifest["installation"]["id"] == await db.installation_id()
    assert manifest["software"]["name"] == "cityhub"
    for entry in manifest["files"]:
        data = (path / entry["name"]).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()

    [(cameras, start, end, reference, reason, context)] = holds.calls
    assert (cameras, start, end, reference) == (["cam-a", "cam-b"], at(2500), at(14_200), REFERENCE)
    assert reason.endswith("Vol à l'arraché place de la mairie")
    assert context.user == "agent.dupont"

    row = await db.fetchone("SELECT * FROM exports")
    assert row is not None
    assert row["state"] == "complete"
    assert row["hold_id"] == 42
    assert row["path"] == str(path)
    assert json.loads(row["cameras"]) == ["cam-a", "cam-b"]
    assert row["requested_by"] == "user:agent.dupont"
    manifest_hash = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    assert row["manifest_sha256"] == manifest_hash


async def test_package_verifies_with_cityhub_and_with_standard_tools(
    package: tuple[Path, dict[str, Any]],
) -> None:
    path, manifest = package
    report = verify_package(path, manifest["signature"]["public_key_sha256"])
    assert report.ok, report.problems
    assert set(report.checked) == PACKAGE_FILES

    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=path, check=True)
    openssl = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin"]
    subprocess.run(
        [*openssl, "-in", "manifest.json", "-sigfile", "manifest.json.sig"],
        cwd=path,
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", "public_key.pem", "-outform", "DER"],
        cwd=path,
        check=True,
        capture_output=True,
    ).stdout
    assert hashlib.sha256(der).hexdigest() == manifest["signature"]["public_key_sha256"]


@pytest.mark.parametrize("name", sorted(PACKAGE_FILES))
async def test_one_altered_byte_in_any_file_fails_and_names_it(
    package: tuple[Path, dict[str, Any]], tmp_path: Path, name: str
) -> None:
    original, _manifest = package
    path = tmp_path / "copy"
    shutil.copytree(original, path)
    data = bytearray((path / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (path / name).write_bytes(bytes(data))

    report = verify_package(path)

    assert not report.ok
    assert name in {p.file for p in report.problems}, report.problems


async def test_added_file_and_foreign_key_fail(
    package: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _manifest = package
    (path / "extra.mp4").write_bytes(b"not evidence")
    report = verify_package(path, expected_fingerprint="00" * 32)
    assert {str(p).split(":")[0] for p in report.problems} == {"extra.mp4", "public_key.pem"}


async def test_refusals_say_why_and_leave_no_trace(
    db: Database, storage: LocalStorage, exporter: Exporter, holds: HoldRecorder, tmp_path: Path
) -> None:
    await record(db, storage, "cam-a", T0_MS, 4)
    out = tmp_path / "out"
    context = Context(user="agent")
    with pytest.raises(InvalidExportError, match="reference"):
        await exporter.export(request(0, 4000, "cam-a", reference="  "), out, context)
    with pytest.raises(InvalidExportError, match="range is empty"):
        await exporter.export(request(4000, 4000, "cam-a"), out, context)
    with pytest.raises(InvalidExportError, match="unknown camera 'cam-z'"):
        await exporter.export(request(0, 4000, "cam-z"), out, context)
    with pytest.raises(NoFootageError, match=r"cam-b .*no footage"):
        await exporter.export(request(0, 4000, "cam-a", "cam-b"), out, context)
    (out / "busy").mkdir(parents=True)
    with pytest.raises(InvalidExportError, match="not an empty folder"):
        await exporter.export(request(0, 4000, "cam-a"), out, context)
    assert await db.fetchall("SELECT * FROM exports") == []
    assert holds.calls == []


async def test_a_failed_export_is_registered_and_its_files_removed(
    db: Database, storage: LocalStorage, exporter: Exporter, tmp_path: Path
) -> None:
    await record(db, storage, "cam-a", T0_MS, 8)
    await record(db, storage, "cam-b", T0_MS, 8)
    row = await db.fetchone("SELECT storage_key FROM segments WHERE camera_id = 'cam-b'")
    assert row is not None
    (storage.root / row["storage_key"]).write_bytes(b"tampered")
    out = tmp_path / "out"

    with pytest.raises(SourceIntegrityError, match="altered or damaged"):
        await exporter.export(request(0, 8000), out, Context(user="agent"))

    assert list(out.iterdir()) == []
    failed = await db.fetchone("SELECT state, error FROM exports")
    assert failed is not None
    assert failed["state"] == "failed"
    assert "SHA-256" in failed["error"]


def test_signing_key_is_private_made_once_and_checked(tmp_path: Path) -> None:
    key = SigningKey.load_or_create(tmp_path)
    path = tmp_path / KEY_DIR / KEY_FILE
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    assert SigningKey.load_or_create(tmp_path).fingerprint == key.fingerprint
    assert "PRIVATE" not in repr(key)
    assert key.fingerprint in repr(key)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        SigningKey.load_or_create(tmp_path)
