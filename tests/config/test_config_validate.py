"""Cross checks between sections, plugin option schemas, and the HubConfig built."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
from config_kit import BACKENDS, NOTIFIERS, Issues, Load, Write

from cityhub.api import CameraDriver, CameraKind
from cityhub.config import ConfigError, ConfigIssue, load_config
from cityhub.model import (
    Authorisation,
    CameraConfig,
    Emplacement,
    Habilitation,
    HttpConfig,
    HubConfig,
    HubSettings,
    NotifierConfig,
    Permission,
    RecordingSettings,
    RoleConfig,
    Site,
    StorageConfig,
    UserConfig,
    Zone,
)

PLACES = """
sites:
  - {id: millau, name: Millau}
zones:
  - {id: centre, name: Centre-ville, site: millau}
  - {id: gare, name: Quartier de la gare, site: millau}
emplacements:
  - {id: mandarous, name: Place du Mandarous, zone: centre}
  - {id: parvis-gare, name: Parvis de la gare, zone: gare}
"""
"""Lines 1-8 of the files that start with it; line 9 is the next one."""


def test_duplicate_ids_name_the_first(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        sites:
          - {id: millau, name: Millau}
          - {id: millau, name: Millau bis}
        zones:
          - {id: centre, name: Centre}
          - {id: centre, name: Centre bis}
        emplacements:
          - {id: m, name: M, zone: centre}
          - {id: m, name: M bis, zone: centre}
        cameras:
          - {id: cam-1, name: A, driver: virtual, zone: centre}
          - {id: cam-1, name: B, driver: virtual, zone: centre}
          - {id: 12, name: C, driver: virtual, zone: centre}
          - {id: "12", name: D, driver: virtual, zone: centre}
        notifiers:
          - {id: astreinte, type: mail, options: {to: [a@example.org]}}
          - {id: astreinte, type: mail, options: {to: [b@example.org]}}
        users:
          - {username: agent.martin, role: operator}
          - {username: agent.martin, role: viewer}
        """,
    )
    assert issues() == [
        "cityhub.yaml:3: sites[1].id: duplicate site id 'millau' (first defined at cityhub.yaml:2)",
        "cityhub.yaml:6: zones[1].id: duplicate zone id 'centre' (first defined at cityhub.yaml:5)",
        "cityhub.yaml:9: emplacements[1].id: duplicate emplacement id 'm' "
        "(first defined at cityhub.yaml:8)",
        "cityhub.yaml:12: cameras[1].id: duplicate camera id 'cam-1' "
        "(first defined at cityhub.yaml:11)",
        "cityhub.yaml:14: cameras[3].id: duplicate camera id '12' "
        "(first defined at cityhub.yaml:13)",
        "cityhub.yaml:17: notifiers[1].id: duplicate notifier id 'astreinte' "
        "(first defined at cityhub.yaml:16)",
        "cityhub.yaml:20: users[1].username: duplicate username 'agent.martin' "
        "(first defined at cityhub.yaml:19)",
    ]


def test_duplicate_across_files(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", PLACES + "cameras: !include cameras.yaml\n")
    write(
        "cameras.yaml",
        """
        - {id: cam-1, name: A, driver: virtual, zone: centre}
        # the same camera, pasted twice
        - {id: cam-1, name: A, driver: virtual, zone: centre}
        """,
    )
    assert issues() == [
        "cameras.yaml:3: cameras[1].id: duplicate camera id 'cam-1' "
        "(first defined at cameras.yaml:1)"
    ]


def test_unknown_references_list_what_exists(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        storage:
          backend: nfs
        sites:
          - {id: millau, name: Millau}
        zones:
          - {id: centre, name: Centre-ville, site: milau}
          - {id: gare, name: Gare}
        emplacements:
          - {id: mandarous, name: Place du Mandarous, zone: centr}
        cameras:
          - {id: a, name: A, driver: onvf, zone: gare}
          - {id: b, name: B, driver: virtual, zone: centr, emplacement: mandarou}
        notifiers:
          - {id: astreinte, type: sms}
        roles:
          night-shift: {permissions: [live]}
        users:
          - {username: agent.martin, role: night-shif, zones: [gare, centre, port]}
        """,
    )
    assert issues() == [
        "cityhub.yaml:2: storage.backend: unknown storage backend 'nfs' "
        "(installed backends: local)",
        "cityhub.yaml:6: zones[0].site: unknown site 'milau' (defined sites: millau; "
        "did you mean 'millau'?)",
        "cityhub.yaml:9: emplacements[0].zone: unknown zone 'centr' (defined zones: centre, gare; "
        "did you mean 'centre'?)",
        "cityhub.yaml:11: cameras[0].driver: unknown camera driver 'onvf' "
        "(installed drivers: onvif, virtual; did you mean 'onvif'?)",
        "cityhub.yaml:12: cameras[1].emplacement: unknown emplacement 'mandarou' "
        "(defined emplacements: mandarous; did you mean 'mandarous'?)",
        "cityhub.yaml:12: cameras[1].zone: unknown zone 'centr' (defined zones: centre, gare; "
        "did you mean 'centre'?)",
        "cityhub.yaml:14: notifiers[0].type: unknown notifier type 'sms' (installed types: mail)",
        "cityhub.yaml:18: users[0].role: unknown role 'night-shif' (roles: admin, supervisor, "
        "operator, viewer, night-shift; did you mean 'night-shift'?)",
        "cityhub.yaml:18: users[0].zones[2]: unknown zone 'port' (defined zones: centre, gare)",
    ]


def test_declared_role_can_be_given_to_a_user(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        """
        roles:
          night-shift:
            permissions: [live, ptz]
          auditor:
        users:
          - {username: agent.martin, role: night-shift}
          - {username: cnil, role: auditor}
        """,
    )
    config = load()
    assert config.roles == (
        RoleConfig(name="night-shift", permissions=frozenset({Permission.LIVE, Permission.PTZ})),
        RoleConfig(name="auditor", permissions=frozenset()),
    )
    assert [u.role for u in config.users] == ["night-shift", "auditor"]


def test_emplacement_must_be_in_the_cameras_zone(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        PLACES
        + """cameras:
  - {id: ok, name: A, driver: virtual, zone: centre, emplacement: mandarous}
  - id: wrong
    name: B
    driver: virtual
    zone: centre
    emplacement: parvis-gare
""",
    )
    assert issues() == [
        "cityhub.yaml:15: cameras[1].emplacement: emplacement 'parvis-gare' is in zone 'gare', "
        "not in the camera's zone 'centre' (move the camera to zone 'gare' or pick an "
        "emplacement of zone 'centre')"
    ]


def test_expiry_must_follow_the_date(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        PLACES
        + """cameras:
  - id: a
    name: A
    driver: virtual
    zone: centre
    authorisation: {order: 2021-117, date: 2021-03-01, expires: 2021-03-01}
users:
  - username: agent.martin
    role: operator
    habilitation:
      reference: HAB-7
      date: 2024-01-10
      expires: 2023-01-10
""",
    )
    assert issues() == [
        "cityhub.yaml:14: cameras[0].authorisation.expires: 2021-03-01 is not after the date "
        "of the authorisation (2021-03-01); the expiry must come later",
        "cityhub.yaml:21: users[0].habilitation.expires: 2023-01-10 is not after the date of "
        "the habilitation (2024-01-10); the expiry must come later",
    ]


def test_five_mistakes_in_two_files(write: Write, tmp_path: Path, load: Load) -> None:
    write(
        "cityhub.yaml",
        """
        hub:
          name: Millau
          time_zone: Europe/Paris
        retension_days: 10
        zones:
          - {id: centre, name: Centre-ville, retention_days: 45}
          - {id: gare, name: Gare}
        cameras: !include cameras.yaml
        """,
    )
    write(
        "cameras.yaml",
        """
        - id: mandarous-1
          name: Mandarous nord
          driver: virtual
          zone: centre
        - id: mandarous-2
          name: Mandarous sud
          kind: dome
          driver: virtual
          zone: centre
        - id: gare-1
          name: Parvis
          driver: virtual
          zone: centr
          options:
            fps: 60
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load()
    config_file, cameras_file = tmp_path / "cityhub.yaml", tmp_path / "cameras.yaml"
    assert caught.value.issues == [
        ConfigIssue(
            config_file,
            4,
            "retension_days",
            "unknown key 'retension_days' (allowed: hub, http, storage, recording, ptz, "
            "wall, retention_days, sites, zones, emplacements, cameras, notifiers, users, roles; "
            "did you mean 'retention_days'?)",
        ),
        ConfigIssue(
            config_file,
            6,
            "zones[0].retention_days",
            "45 is above the legal maximum of 30 days "
            "(set 1..30; Code de la sécurité intérieure, art. L252-5)",
        ),
        ConfigIssue(
            cameras_file,
            7,
            "cameras[1].kind",
            "'dome' is not allowed (one of: fixed, ptz, panoramic)",
        ),
        ConfigIssue(
            cameras_file,
            13,
            "cameras[2].zone",
            "unknown zone 'centr' (defined zones: centre, gare; did you mean 'centre'?)",
        ),
        ConfigIssue(
            cameras_file,
            15,
            "cameras[2].options.fps",
            "value must be at most 30 (got the number 60)",
        ),
    ]
    assert str(caught.value).splitlines()[2] == (
        "cameras.yaml:7: cameras[1].kind: 'dome' is not allowed (one of: fixed, ptz, panoramic)"
    )


# ------------------------------------------------------------------------------ plugin options


def test_plugin_options_errors_have_the_options_lines(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        PLACES
        + """storage:
  backend: local
  options:
    min_free_gb: lots
cameras:
  - id: gare-ptz
    name: Gare PTZ
    driver: onvif
    zone: gare
    options:
      port: 70000
      usrname: admin
notifiers:
  - id: astreinte
    type: mail
    options:
      to: astreinte@example.org
""",
    )
    assert issues() == [
        "cityhub.yaml:12: storage.options.min_free_gb: expected int (got the text 'lots')",
        "cityhub.yaml:18: cameras[0].options.host: required key 'host' is missing",
        "cityhub.yaml:19: cameras[0].options.port: value must be at most 65535 "
        "(got the number 70000)",
        "cityhub.yaml:20: cameras[0].options.usrname: unknown key 'usrname' "
        "(allowed: host, port, username, password; did you mean 'username'?)",
        "cityhub.yaml:25: notifiers[0].options.to: expected a list "
        "(got the text 'astreinte@example.org')",
    ]


def test_plugin_options_missing_key_in_an_included_file(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", PLACES + "cameras:\n  - id: a\n    name: A\n    driver: onvif\n"
          "    zone: gare\n    options: !include onvif-a.yaml\n")  # fmt: skip
    write("onvif-a.yaml", "# no host\nport: 80\n")
    assert issues() == ["onvif-a.yaml:2: cameras[0].options.host: required key 'host' is missing"]


def test_secret_values_are_masked_in_messages(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        PLACES
        + """cameras:
  - id: a
    name: A
    driver: onvif
    zone: gare
    options:
      host: 10.0.0.5
      port: !secret onvif_port
""",
    )
    write("secrets.yaml", "onvif_port: s3cr3t-fake-port\n")
    assert issues() == [
        "cityhub.yaml:16: cameras[0].options.port: expected int (got the text '***')"
    ]


def test_a_failing_plugin_schema_is_reported_not_raised(write: Write, tmp_path: Path) -> None:
    def explode(value: Any) -> Any:
        raise RuntimeError("schema bug")

    class Broken(CameraDriver):
        NAME = "broken"
        CONFIG_SCHEMA = vol.Schema(explode)

    write("cityhub.yaml", PLACES + "cameras:\n  - {id: a, name: A, driver: broken, zone: gare}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(
            tmp_path,
            camera_drivers={"broken": Broken},
            storage_backends=BACKENDS,
            notifiers=NOTIFIERS,
        )
    assert [i.format(tmp_path) for i in caught.value.issues] == [
        "cityhub.yaml:10: cameras[0].options: 'broken' failed while checking its options "
        "(RuntimeError: schema bug); report this to the plugin's authors"
    ]


# ------------------------------------------------------------------------------ the result


def test_valid_configuration_builds_the_expected_hub_config(
    write: Write, load: Load, tmp_path: Path
) -> None:
    write(
        "cityhub.yaml",
        """
        hub:
          name: CSU de Millau
          time_zone: Europe/Paris
          data_dir: /srv/cityhub
        http:
          host: 0.0.0.0
          port: 8443
        storage:
          backend: local
          options:
            min_free_gb: 200
        retention_days: 10
        sites:
          - {id: millau, name: Millau}
        zones:
          - {id: centre, name: Centre-ville, site: millau, retention_days: 7}
          - {id: gare, name: Quartier de la gare}
        emplacements:
          - id: mandarous
            name: Place du Mandarous
            zone: centre
            kind: wall
            latitude: 44.0983
            longitude: 3.0775
            address: Place du Mandarous, 12100 Millau
            phase: 1
        cameras:
          - id: mandarous-ptz
            name: Mandarous PTZ
            kind: ptz
            driver: onvif
            zone: centre
            emplacement: mandarous
            phase: 1
            purpose: Protection des bâtiments publics
            authorisation: {order: 2021-117, date: 2021-03-01, expires: 2026-03-01}
            options: {host: 10.20.0.11, username: csu}
          - {id: gare-1, name: Gare parvis, driver: virtual, zone: gare}
          - id: gare-2
            name: Gare quais
            kind: panoramic
            driver: virtual
            zone: gare
            retention_days: 30
            enabled: false
            recording: false
            options: {fps: 25}
        notifiers:
          - {id: astreinte, type: mail, options: {to: [astreinte@example.org]}}
        roles:
          night-shift: {permissions: [live, ptz]}
        users:
          - username: agent.martin
            full_name: Camille Martin
            role: night-shift
            zones: [centre]
            habilitation: {reference: HAB-2024-07, date: 2024-01-10, expires: 2029-01-10}
        """,
    )
    assert load() == HubConfig(
        config_dir=tmp_path,
        hub=HubSettings(
            name="CSU de Millau", time_zone="Europe/Paris", data_dir=Path("/srv/cityhub")
        ),
        http=HttpConfig(host="0.0.0.0", port=8443),
        storage=StorageConfig(backend="local", options={"min_free_gb": 200}),
        sites=(Site(id="millau", name="Millau"),),
        zones=(
            Zone(id="centre", name="Centre-ville", site="millau", retention_days=7),
            Zone(id="gare", name="Quartier de la gare"),
        ),
        emplacements=(
            Emplacement(
                id="mandarous",
                name="Place du Mandarous",
                zone="centre",
                kind="wall",
                latitude=44.0983,
                longitude=3.0775,
                address="Place du Mandarous, 12100 Millau",
                phase=1,
            ),
        ),
        cameras=(
            CameraConfig(
                id="mandarous-ptz",
                name="Mandarous PTZ",
                kind=CameraKind.PTZ,
                driver="onvif",
                zone="centre",
                retention_days=7,
                emplacement="mandarous",
                phase=1,
                purpose="Protection des bâtiments publics",
                authorisation=Authorisation(
                    order="2021-117", granted=date(2021, 3, 1), expires=date(2026, 3, 1)
                ),
                options={"host": "10.20.0.11", "port": 80, "username": "csu"},
            ),
            CameraConfig(
                id="gare-1",
                name="Gare parvis",
                kind=CameraKind.FIXED,
                driver="virtual",
                zone="gare",
                retention_days=10,
                options={"fps": 10},
            ),
            CameraConfig(
                id="gare-2",
                name="Gare quais",
                kind=CameraKind.PANORAMIC,
                driver="virtual",
                zone="gare",
                retention_days=30,
                enabled=False,
                recording=RecordingSettings(enabled=False),
                options={"fps": 25},
            ),
        ),
        notifiers=(
            NotifierConfig(
                id="astreinte", type="mail", options={"to": ["astreinte@example.org"], "port": 25}
            ),
        ),
        users=(
            UserConfig(
                username="agent.martin",
                role="night-shift",
                full_name="Camille Martin",
                zones=("centre",),
                habilitation=Habilitation(
                    reference="HAB-2024-07", granted=date(2024, 1, 10), expires=date(2029, 1, 10)
                ),
            ),
        ),
        roles=(
            RoleConfig(
                name="night-shift", permissions=frozenset({Permission.LIVE, Permission.PTZ})
            ),
        ),
    )


def test_retention_defaults_to_fourteen_days(write: Write, load: Load) -> None:
    write("cityhub.yaml", PLACES + "cameras:\n  - {id: a, name: A, driver: virtual, zone: gare}\n")
    assert load().camera("a").retention_days == 14


def test_options_are_plain_mappings(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        PLACES + "notifiers:\n  - {id: n, type: mail, options: {to: [a@example.org]}}\n",
    )
    options = load().notifiers[0].options
    assert type(options) is dict
    assert type(options["to"]) is list
