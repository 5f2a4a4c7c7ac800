"""Section schemas: defaults, allowed values, and the messages of each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_kit import Issues, Load, Write

from cityhub.model import HttpConfig, HubSettings, StorageConfig

ZONES = """
zones:
  - id: centre
    name: Centre
"""


def test_defaults(write: Write, load: Load, tmp_path: Path) -> None:
    write("cityhub.yaml", "hub:\nhttp:\n")
    config = load()
    assert config.config_dir == tmp_path
    assert config.hub == HubSettings(
        name="cityhub", time_zone="Europe/Paris", data_dir=tmp_path / "data"
    )
    assert config.http == HttpConfig(host="127.0.0.1", port=8123)
    assert config.storage == StorageConfig(backend="local", options={"min_free_gb": 50})


def test_data_dir_is_resolved_against_the_config_folder(
    write: Write, load: Load, tmp_path: Path
) -> None:
    write("cityhub.yaml", "hub:\n  data_dir: ../recordings/./millau\n")
    assert load().hub.data_dir == tmp_path.parent / "recordings" / "millau"
    write("cityhub.yaml", "hub:\n  data_dir: /srv/cityhub\n")
    assert load().hub.data_dir == Path("/srv/cityhub")


def test_relative_config_dir_gives_absolute_paths(
    write: Write, load: Load, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("conf/cityhub.yaml", "")
    monkeypatch.chdir(tmp_path)
    config = load(Path("conf"))
    assert config.config_dir == tmp_path / "conf"
    assert config.hub.data_dir == tmp_path / "conf" / "data"


def test_time_zone_is_checked_with_a_suggestion(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub:\n  name: Millau\n  time_zone: Europe/Pari\n")
    assert issues() == [
        "cityhub.yaml:3: hub.time_zone: unknown time zone 'Europe/Pari' "
        "(an IANA name such as 'Europe/Paris'; did you mean 'Europe/Paris'?)"
    ]


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("-1", "-1 is out of range (1..65535, or 0 for any free port)"),
        ("70000", "70000 is out of range (1..65535, or 0 for any free port)"),
        ("http", "expected a whole number (got the text 'http')"),
        ("true", "expected a whole number (got true)"),
    ],
)
def test_http_port(write: Write, issues: Issues, port: str, message: str) -> None:
    write("cityhub.yaml", f"http:\n  host: 0.0.0.0\n  port: {port}\n")
    assert issues() == [f"cityhub.yaml:3: http.port: {message}"]


def test_http_port_zero_means_any_free_port(write: Write, load: Load) -> None:
    write("cityhub.yaml", "http:\n  port: 0\n")
    assert load().http.port == 0


def test_unknown_top_level_key_suggests_a_close_one(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "retension_days: 10\n")
    assert issues() == [
        "cityhub.yaml:1: retension_days: unknown key 'retension_days' (allowed: hub, http, "
        "storage, recording, ptz, wall, retention_days, sites, zones, emplacements, cameras, "
        "notifiers, users, roles; "
        "did you mean 'retention_days'?)"
    ]


def test_unknown_key_in_a_section(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "http:\n  adress: 0.0.0.0\n  tls: true\n")
    assert issues() == [
        "cityhub.yaml:2: http.adress: unknown key 'adress' (allowed: host, port, "
        "tls_certificate, tls_key)",
        "cityhub.yaml:3: http.tls: unknown key 'tls' (allowed: host, port, tls_certificate, "
        "tls_key; did you mean 'tls_key'?)",
    ]


def test_unknown_key_in_a_nested_mapping(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
cameras:
  - id: cam-1
    name: Parvis
    driver: virtual
    zone: centre
    authorisation:
      order: 2021-117
      date: 2021-03-01
      expire: 2026-03-01
""",
    )
    assert issues() == [
        "cityhub.yaml:10: cameras[0].authorisation.expires: required key 'expires' is missing",
        "cityhub.yaml:13: cameras[0].authorisation.expire: unknown key 'expire' "
        "(allowed: order, date, expires; did you mean 'expires'?)",
    ]


@pytest.mark.parametrize(
    ("where", "yaml_text", "line", "path"),
    [
        ("top level", "retention_days: 45\n", 1, "retention_days"),
        ("zone", "zones:\n  - id: centre\n    name: C\n    retention_days: 45\n", 4,
         "zones[0].retention_days"),
        ("camera", ZONES + "cameras:\n  - {id: c, name: C, driver: virtual, zone: centre,\n"
         "     retention_days: 45}\n", 6, "cameras[0].retention_days"),
    ],
)  # fmt: skip
def test_retention_above_the_legal_maximum_is_refused(
    write: Write, issues: Issues, where: str, yaml_text: str, line: int, path: str
) -> None:
    write("cityhub.yaml", yaml_text)
    assert issues() == [
        f"cityhub.yaml:{line}: {path}: 45 is above the legal maximum of 30 days "
        "(set 1..30; Code de la sécurité intérieure, art. L252-5)"
    ]


def test_retention_below_one_day(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "retention_days: 0\n")
    assert issues() == [
        "cityhub.yaml:1: retention_days: 0 is below the minimum of 1 day (set 1..30)"
    ]


def test_camera_kind_and_id(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
cameras:
  - {id: ok, name: A, driver: virtual, zone: centre}
  - id: Gare 1
    name: B
    kind: dome
    driver: virtual
    zone: centre
    enabled: maybe
""",
    )
    assert issues() == [
        "cityhub.yaml:7: cameras[1].id: 'Gare 1' is not a valid id (use lowercase letters, "
        "digits, '-' and '_', starting with a letter or digit)",
        "cityhub.yaml:9: cameras[1].kind: 'dome' is not allowed (one of: fixed, ptz, panoramic)",
        "cityhub.yaml:12: cameras[1].enabled: expected true or false (got the text 'maybe')",
    ]


def test_missing_required_keys_point_at_the_item(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", ZONES + "cameras:\n  - id: cam-1\n    name: Parvis\n")
    assert issues() == [
        "cityhub.yaml:5: cameras[0].driver: required key 'driver' is missing",
        "cityhub.yaml:5: cameras[0].zone: required key 'zone' is missing",
    ]


def test_shapes(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        hub: [a]
        sites: {id: x}
        zones:
          - centre
        cameras:
          - {id: c, name: C, driver: virtual, zone: centre, options: [fps]}
        """,
    )
    assert issues() == [
        "cityhub.yaml:1: hub: expected a mapping of keys to values (got a list)",
        "cityhub.yaml:2: sites: expected a list (got a mapping)",
        "cityhub.yaml:4: zones[0]: expected a mapping of keys to values (got the text 'centre')",
        "cityhub.yaml:6: cameras[0].options: expected a mapping of keys to values (got a list)",
        "cityhub.yaml:6: cameras[0].zone: unknown zone 'centre' (defined zones: none)",
    ]


def test_emplacement_values(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
emplacements:
  - id: mat-1
    name: Mât place du Mandarous
    zone: centre
    kind: pole
    latitude: 94.1
    longitude: east
    phase: 0
""",
    )
    assert issues() == [
        "cityhub.yaml:9: emplacements[0].kind: 'pole' is not allowed "
        "(one of: mast, wall, building, other)",
        "cityhub.yaml:10: emplacements[0].latitude: 94.1 is out of range (-90..90)",
        "cityhub.yaml:11: emplacements[0].longitude: expected a number of degrees "
        "(got the text 'east')",
        "cityhub.yaml:12: emplacements[0].phase: 0 is out of range (at least 1)",
    ]


def test_dates(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
users:
  - username: agent.martin
    role: operator
    habilitation:
      reference: HAB-2024-07
      date: 03/01/2024
      expires: 2029-01-03 08:00:00
""",
    )
    assert issues() == [
        "cityhub.yaml:10: users[0].habilitation.date: expected a date like 2024-03-31 "
        "(got the text '03/01/2024')",
        "cityhub.yaml:11: users[0].habilitation.expires: expected a date like 2024-03-31, "
        "without a time (got the date and time 2029-01-03 08:00:00)",
    ]


def test_user_zones_and_roles(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
roles:
  admin:
    permissions: [live]
  Night Shift:
    permissions: [live]
  patrol:
    permissions: [live, playbak, 3]
users:
  - username: agent.martin
    role: patrol
    zones: centre
""",
    )
    assert issues() == [
        "cityhub.yaml:6: roles.admin: role 'admin' is built in and cannot be redefined "
        "(admin, supervisor, operator, viewer)",
        "cityhub.yaml:8: roles.Night Shift: 'Night Shift' is not a valid id (use lowercase "
        "letters, digits, '-' and '_', starting with a letter or digit)",
        "cityhub.yaml:11: roles.patrol.permissions[1]: 'playbak' is not allowed (one of: live, "
        "playback, export, ptz, config, users, audit; did you mean 'playback'?)",
        "cityhub.yaml:11: roles.patrol.permissions[2]: '3' is not allowed (one of: live, "
        "playback, export, ptz, config, users, audit)",
        "cityhub.yaml:15: users[0].zones: expected a list (got the text 'centre')",
    ]


def test_errors_in_one_camera_do_not_hide_the_others(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
cameras:
  - {id: a, name: A, driver: virtual, zone: centre, kind: dome}
  - {id: b, name: B, driver: virtual, zone: centre, recording: sometimes}
  - {id: c, name: C, driver: virtual, zone: centre, phase: -1, retention_days: 31}
""",
    )
    assert issues() == [
        "cityhub.yaml:6: cameras[0].kind: 'dome' is not allowed (one of: fixed, ptz, panoramic)",
        "cityhub.yaml:7: cameras[1].recording: expected true, false or a mapping of recording "
        "settings (got the text 'sometimes')",
        "cityhub.yaml:8: cameras[2].phase: -1 is out of range (at least 1)",
        "cityhub.yaml:8: cameras[2].retention_days: 31 is above the legal maximum of 30 days "
        "(set 1..30; Code de la sécurité intérieure, art. L252-5)",
    ]


def test_storage_free_space_keys(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        "storage:\n  purge_interval: 30\n  min_free_percent: 15\n  min_free_gb: 200\n"
        "  critical_free_percent: 3\n  min_retention_days: 5\n",
    )
    storage = load().storage
    assert (storage.purge_interval_s, storage.min_free_percent, storage.min_free_gb) == (
        30.0,
        15.0,
        200.0,
    )
    assert (storage.critical_free_percent, storage.min_retention_days) == (3.0, 5)


def test_storage_marks_are_checked(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        "storage:\n  min_free_percent: 5\n  critical_free_percent: 8\n  min_retention_days: 31\n",
    )
    assert issues() == [
        "cityhub.yaml:4: storage.min_retention_days: 31 is out of range (0..30)",
    ]
    write("cityhub.yaml", "storage:\n  min_free_percent: 5\n  critical_free_percent: 8\n")
    assert issues() == [
        "cityhub.yaml:3: storage.critical_free_percent: 8 is above min_free_percent (5): "
        "the critical mark must be the lower one",
    ]
