"""``cityhub user`` as an admin uses it, in a real subprocess on a real database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CLI = [sys.executable, "-m", "cityhub.cli"]


def user(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "user", args[0], "-c", str(config), *args[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "cityhub.yaml").write_text(
        yaml.safe_dump({"hub": {"data_dir": str(tmp_path / "data")}, "cameras": []})
    )
    return folder


def test_add_list_change_and_disable_accounts(config: Path) -> None:
    added = user(
        config, "add", "j.martin", "--role", "operator", "--zones", "centre,gare",
        "--habilitation-reference", "Arrêté 2026-114", "--habilitation-date", "2026-01-05",
        "--habilitation-expires", "2027-01-04",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    one_time = re.search(r"One-time password for j.martin .*: (\S+)", added.stdout)
    assert one_time is not None
    assert len(one_time.group(1)) == 20

    chosen = user(config, "add", "p.leroy", "--role", "viewer", "--password-stdin",
                  stdin="Vidéoprotection-2026\n")  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    assert "One-time password" not in chosen.stdout

    listing = user(config, "list")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:2] == ["j.martin", "operator"]
    assert "habilitation Arrêté 2026-114 until 2027-01-04" in lines[0]
    assert "no habilitation" in lines[1]

    changed = user(config, "set", "p.leroy", "--role", "supervisor", "--zones", "centre")
    assert changed.returncode == 0, changed.stderr
    assert "supervisor" in changed.stdout

    disabled = user(config, "disable", "p.leroy")
    assert disabled.returncode == 0
    assert "[disabled]" in user(config, "list").stdout.splitlines()[1]

    reset = user(config, "passwd", "j.martin")
    assert reset.returncode == 0
    assert "One-time password for j.martin" in reset.stdout
    assert one_time.group(1) not in reset.stdout


def test_refusals_say_why_and_change_nothing(config: Path) -> None:
    weak = user(
        config, "add", "j.martin", "--role", "operator", "--password-stdin", stdin="court\n"
    )
    assert weak.returncode == 1
    assert "refused: the password must have at least 12 characters" in weak.stderr
    bad_name = user(config, "add", "Julie Martin", "--role", "operator")
    assert bad_name.returncode == 1
    assert "invalid account name" in bad_name.stderr
    partial = user(config, "add", "j.martin", "--role", "operator",
                   "--habilitation-reference", "A-1")  # fmt: skip
    assert partial.returncode == 1
    assert "needs all three" in partial.stderr
    missing = user(config, "disable", "nobody")
    assert missing.returncode == 1
    assert "no account is called 'nobody'" in missing.stderr
    assert user(config, "list").stdout == ""
