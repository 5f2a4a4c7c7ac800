"""How an issue reads: file relative to the config folder, line, key path, message."""

from __future__ import annotations

from pathlib import Path

from cityhub.config import ConfigError, ConfigIssue


def test_format_inside_and_outside_the_config_folder(tmp_path: Path) -> None:
    inside = ConfigIssue(tmp_path / "cameras" / "gare.yaml", 7, "cameras[1].kind", "bad")
    outside = ConfigIssue(Path("/etc/cityhub/shared.yaml"), 3, "zones", "bad")
    assert inside.format(tmp_path) == "cameras/gare.yaml:7: cameras[1].kind: bad"
    assert inside.format(None) == f"{tmp_path}/cameras/gare.yaml:7: cameras[1].kind: bad"
    assert outside.format(tmp_path) == "/etc/cityhub/shared.yaml:3: zones: bad"


def test_format_without_line_or_path(tmp_path: Path) -> None:
    assert ConfigIssue(tmp_path / "cityhub.yaml", None, "", "file not found").format(tmp_path) == (
        "cityhub.yaml: file not found"
    )
    assert ConfigIssue(None, None, "http.port", "bad").format(tmp_path) == "http.port: bad"


def test_error_lists_every_issue_one_per_line(tmp_path: Path) -> None:
    error = ConfigError(
        [
            ConfigIssue(tmp_path / "cityhub.yaml", 4, "retention_days", "too long"),
            ConfigIssue(tmp_path / "cameras.yaml", 2, "cameras[0].zone", "unknown"),
        ],
        tmp_path,
    )
    assert str(error) == (
        "cityhub.yaml:4: retention_days: too long\ncameras.yaml:2: cameras[0].zone: unknown"
    )
    assert len(error.issues) == 2
