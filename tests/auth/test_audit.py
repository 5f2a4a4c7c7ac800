"""The audit log: appending, the hash chain, queries, the refusing triggers, tampering found
by ``verify`` and by ``cityhub audit verify``."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import yaml

from cityhub.api import Context
from cityhub.auth.audit import (
    GENESIS_HASH,
    AuditLog,
    AuditRecord,
    canonical,
    entry_hash,
    is_audited,
)
from cityhub.const import DATABASE_FILE
from cityhub.db import Database

T0 = datetime(2026, 11, 22, 9, 0, 0, 123000, tzinfo=UTC)
ALICE = Context(user="alice")
NIGHT = Context(automation="night-alarm")

RECORDS = [
    AuditRecord.of("ptz.goto_preset", ALICE, T0, camera_id="dome", details={"preset": "rue"}),
    AuditRecord.of(
        "recording.export",
        ALICE,
        T0 + timedelta(minutes=1),
        start_ms=1_700_000_000_000,
        end_ms=1_700_000_060_000,
        details={"cameras": ["dome", "gare"], "reference": "PV 2026/117"},
        reason="réquisition",
        client="10.0.0.7",
    ),
    AuditRecord.of("ptz.home", NIGHT, T0 + timedelta(minutes=2), camera_id="gare"),
    AuditRecord.of("camera.restart", Context(), T0 + timedelta(minutes=3), camera_id="dome"),
]


async def write_log(path: Path) -> None:
    db = await Database.open(path)
    try:
        log = AuditLog(db)
        for record in RECORDS:
            await log.append(record)
    finally:
        await db.close()


def tamper(path: Path, *statements: str) -> Path:
    """A copy of the database with the triggers dropped and ``statements`` run on it."""
    copy = path.with_name("tampered.db")
    shutil.copy(path, copy)
    raw = sqlite3.connect(copy)
    try:
        raw.execute("DROP TRIGGER audit_log_never_updated")
        raw.execute("DROP TRIGGER audit_log_never_deleted")
        for statement in statements:
            raw.execute(statement)
        raw.commit()
    finally:
        raw.close()  # the last connection to close writes the WAL back into the file
    return copy


async def verify(path: Path) -> tuple[int | None, str | None, int]:
    db = await Database.open(path)
    try:
        report = await AuditLog(db).verify()
    finally:
        await db.close()
    return report.broken_seq, report.problem, report.checked


async def test_entries_are_chained_and_verified(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / DATABASE_FILE)
    log = AuditLog(db)
    assert (await log.verify()).ok
    entries = [await log.append(record) for record in RECORDS]
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(entries):
        assert after.prev_hash == before.hash
    first = entries[0]
    assert first.time_utc == "2026-11-22T09:00:00.123Z"
    assert first.actor == "user:alice"
    assert first.context_id == ALICE.id
    assert first.hash == hashlib.sha256(canonical(first)).hexdigest() == entry_hash(first)
    fields = json.loads(canonical(first))
    assert "hash" not in fields
    assert fields["prev_hash"] == GENESIS_HASH
    assert entries[1].as_dict()["details"] == {
        "cameras": ["dome", "gare"],
        "reference": "PV 2026/117",
    }
    assert (entries[1].reason, entries[1].client) == ("réquisition", "10.0.0.7")

    report = await log.verify()
    assert report.ok
    assert (report.checked, report.last_seq, report.last_hash) == (4, 4, entries[-1].hash)

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await db.execute("UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        await db.execute("DELETE FROM audit_log WHERE seq = 4")
    await db.close()


async def test_queries_by_time_actor_camera_and_action(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / DATABASE_FILE)
    log = AuditLog(db)
    for record in RECORDS:
        await log.append(record)

    async def seqs(**filters: object) -> list[int]:
        return [e.seq for e in await log.entries(**filters)]  # type: ignore[arg-type]

    assert await seqs() == [1, 2, 3, 4]
    assert await seqs(actor="user:alice") == [1, 2]
    assert await seqs(camera_id="dome") == [1, 2, 4]  # 2 names dome among its cameras
    assert await seqs(camera_id="gare") == [2, 3]
    assert await seqs(action="ptz.*") == [1, 3]
    assert await seqs(action="ptz.home") == [3]
    assert await seqs(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3)) == [2, 3]
    assert await seqs(after_seq=2, limit=1) == [3]
    await db.close()


async def test_verify_finds_the_first_tampered_entry(tmp_path: Path) -> None:
    path = tmp_path / DATABASE_FILE
    await write_log(path)
    assert await verify(path) == (None, None, 4)

    changed = tamper(path, 'UPDATE audit_log SET details = \'{"preset":"gare"}\' WHERE seq = 1')
    broken, problem, checked = await verify(changed)
    assert (broken, checked) == (1, 0)
    assert problem == "entry 1 was changed after it was written (its hash does not match)"

    removed = tamper(path, "DELETE FROM audit_log WHERE seq = 3")
    broken, problem, _ = await verify(removed)
    assert broken == 3
    assert problem is not None
    assert problem.startswith("entry 3 is missing (the next entry is 4)")

    # A forger who rewrites an entry and recomputes its hash breaks the link after it.
    db = await Database.open(path)
    entry = (await AuditLog(db).entries())[1]
    await db.close()
    forged = attrs.evolve(entry, actor="user:mallory", hash="")
    rehashed = entry_hash(forged)
    relinked = tamper(
        path, f"UPDATE audit_log SET actor = 'user:mallory', hash = '{rehashed}' WHERE seq = 2"
    )
    broken, problem, _ = await verify(relinked)
    assert broken == 3
    assert problem is not None
    assert problem.startswith("entry 3 does not follow entry 2")

    cut = tamper(path, "DELETE FROM audit_log WHERE seq = 1")
    assert (await verify(cut))[:1] == (1,)


def test_audited_services_are_one_list() -> None:
    assert is_audited("ptz.move")
    assert is_audited("ptz.tour_start")
    assert not is_audited("ptz.status")
    assert not is_audited("ptz.presets")
    assert is_audited("recording.export")
    assert is_audited("recording.hold")
    assert not is_audited("recording.timeline")
    assert is_audited("camera.restart")
    assert not is_audited("notify.ops")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cityhub.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_audit_verify_and_export_commands(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "cityhub.yaml").write_text(yaml.safe_dump({"hub": {"data_dir": "data"}}))

    missing = run_cli("audit", "verify", "-c", str(config_dir))
    assert missing.returncode == 1
    assert "no database at" in missing.stderr

    path = config_dir / "data" / DATABASE_FILE
    asyncio.run(write_log(path))
    good = run_cli("audit", "verify", "-c", str(config_dir))
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("OK: 4 audit entries, chain intact; last entry 4, hash ")

    exported = run_cli("audit", "export", "--csv", "-c", str(config_dir), "--camera", "dome")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["seq"], r["action"]) for r in rows] == [
        ("1", "ptz.goto_preset"),
        ("2", "recording.export"),
        ("4", "camera.restart"),
    ]
    assert rows[1]["reason"] == "réquisition"
    assert exported.stderr.strip() == "3 audit entries exported"
    out = tmp_path / "audit.csv"
    window = run_cli(
        "audit", "export", "--csv", "-c", str(config_dir), "--action", "ptz.*",
        "--from", "2026-11-22T10:01:00", "--out", str(out),
    )  # fmt: skip
    assert window.returncode == 0, window.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    # 10:01 in Paris is 09:01 UTC: the second ptz entry only.
    assert [(r["seq"], r["actor"], r["camera_id"]) for r in rows] == [
        ("3", "automation:night-alarm", "gare")
    ]
    bad_time = run_cli("audit", "export", "-c", str(config_dir), "--from", "yesterday")
    assert bad_time.returncode == 1
    assert "--from 'yesterday' is not an ISO-8601 time" in bad_time.stderr

    tampered = tamper(path, "UPDATE audit_log SET camera_id = 'gare' WHERE seq = 2")
    shutil.move(tampered, path)
    bad = run_cli("audit", "verify", "-c", str(config_dir))
    assert bad.returncode == 1
    assert bad.stderr.startswith("FAILED at entry 2: entry 2 was changed after it was written")
    assert "Entries 1..1 are intact" in bad.stderr

    (config_dir / "cityhub.yaml").write_text("hub: {data_dir: data, colour: blue}\n")
    broken_config = run_cli("audit", "verify", "-c", str(config_dir))
    assert broken_config.returncode == 2
    assert "cityhub.yaml:1: hub.colour: unknown key 'colour'" in broken_config.stderr
