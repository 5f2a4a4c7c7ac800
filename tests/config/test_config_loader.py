"""The YAML loader: tags, includes, secrets, environment variables, lines of every issue."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_kit import Issues, Load, Write

from cityhub.config import ConfigError
from cityhub.redact import redact

ZONES = """
zones:
  - id: centre
    name: Centre
"""


def test_empty_file_is_a_valid_configuration(write: Write, load: Load) -> None:
    write("cityhub.yaml", "")
    config = load()
    assert config.cameras == ()
    assert config.hub.name == "cityhub"


def test_missing_root_file(tmp_path: Path, load: Load) -> None:
    with pytest.raises(ConfigError) as caught:
        load()
    assert len(caught.value.issues) == 1
    assert caught.value.issues[0].format(tmp_path) == (
        f"cityhub.yaml: file not found (the configuration folder {tmp_path} needs one)"
    )


def test_root_must_be_a_mapping(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "- a\n- b\n")
    assert issues() == ["cityhub.yaml: expected a mapping of sections (got a list)"]


def test_syntax_error_in_root_file_has_its_line(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        hub:
          name: Millau
          time_zone: Europe/Paris
         data_dir: data
        """,
    )
    assert issues() == [
        "cityhub.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping at line 1)"
    ]


def test_syntax_error_in_included_file_keeps_checking_the_rest(
    write: Write, issues: Issues
) -> None:
    write(
        "cityhub.yaml", "hub: {name: Millau, time_zone: Mars/Olympus}\ncameras: !include c.yaml\n"
    )
    write("c.yaml", "- id: a\n  name: [unclosed\n")
    found = issues()
    assert found[0] == (
        "cityhub.yaml:1: hub.time_zone: unknown time zone 'Mars/Olympus' "
        "(an IANA name such as 'Europe/Paris')"
    )
    assert found[1].startswith("c.yaml:3: cameras: invalid YAML: ")
    assert len(found) == 2


def test_duplicate_keys_are_reported_at_the_second(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        http:
          port: 8123
          host: 0.0.0.0
          port: 8124
        """,
    )
    assert issues() == [
        "cityhub.yaml:4: http.port: key 'port' is written twice in the same mapping "
        "(first at line 2); keep one"
    ]


def test_merge_keys_are_not_duplicates(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        """
        zones:
          - &base {id: centre, name: Centre, retention_days: 10}
          - <<: *base
            id: gare
            name: Gare
        """,
    )
    config = load()
    assert [(z.id, z.retention_days) for z in config.zones] == [("centre", 10), ("gare", 10)]


# ------------------------------------------------------------------------------ !secret


def test_secret_is_read_and_registered_for_redaction(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        ZONES
        + """
cameras:
  - id: cam-1
    name: Parvis
    driver: onvif
    zone: centre
    options:
      host: 10.0.0.5
      password: !secret cam_password
""",
    )
    write("secrets.yaml", "cam_password: Zq7-fake-Pw\nother_secret: never-used-fake\n")
    config = load()
    assert config.camera("cam-1").options["password"] == "Zq7-fake-Pw"
    assert redact("rtsp login with Zq7-fake-Pw failed") == "rtsp login with *** failed"
    assert redact("never-used-fake") == "***"


def test_missing_secret_names_the_defined_ones(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub:\n  name: !secret hub_nam\n")
    write("secrets.yaml", "hub_name: x\ncam_password: y\n")
    assert issues() == [
        "cityhub.yaml:2: hub.name: !secret hub_nam: 'hub_nam' is not defined in secrets.yaml "
        "(defined: cam_password, hub_name; did you mean 'hub_name'?)"
    ]


def test_secret_without_secrets_file(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "# Millau\nhub:\n  name: !secret hub_name\n")
    assert issues() == [
        "cityhub.yaml:3: hub.name: !secret hub_name: there is no secrets.yaml beside "
        "cityhub.yaml (create it with the line 'hub_name: ...')"
    ]


def test_secrets_file_with_syntax_error_is_reported_once(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub:\n  name: !secret a\nhttp:\n  host: !secret b\n")
    write("secrets.yaml", "a: 1\nb: [2\n")
    found = issues()
    assert len(found) == 1
    assert found[0].startswith("secrets.yaml:3: invalid YAML: ")


def test_secrets_file_cannot_use_secret(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub:\n  name: !secret a\n")
    write("secrets.yaml", "a: !secret b\nb: x\n")
    assert issues() == ["secrets.yaml:1: a: !secret b: secrets.yaml cannot use !secret itself"]


def test_secrets_file_must_be_a_mapping(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub:\n  name: !secret a\n")
    write("secrets.yaml", "- a\n")
    assert issues() == ["secrets.yaml:1: expected a mapping of secret names to values"]


# ------------------------------------------------------------------------------ !include


def test_nested_includes_are_relative_to_the_including_file(write: Write, load: Load) -> None:
    write("cityhub.yaml", ZONES + "cameras: !include cameras/all.yaml\n")
    write("cameras/all.yaml", "- !include gare.yaml\n- !include ../parvis.yaml\n")
    write("cameras/gare.yaml", "id: gare-1\nname: Gare\ndriver: virtual\nzone: centre\n")
    write("parvis.yaml", "{id: parvis-1, name: Parvis, driver: virtual, zone: centre}\n")
    assert [c.id for c in load().cameras] == ["gare-1", "parvis-1"]


def test_issue_in_a_nested_include_has_that_files_line(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", ZONES + "cameras: !include cameras/all.yaml\n")
    write("cameras/all.yaml", "- !include gare.yaml\n")
    write(
        "cameras/gare.yaml", "id: gare-1\nname: Gare\ndriver: virtual\nzone: centre\nkind: dome\n"
    )
    assert issues() == [
        "cameras/gare.yaml:5: cameras[0].kind: 'dome' is not allowed "
        "(one of: fixed, ptz, panoramic)"
    ]


def test_missing_include(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "# Millau\n# cameras\ncameras: !include camras.yaml\n")
    assert issues() == [
        "cityhub.yaml:3: cameras: !include camras.yaml: file not found (camras.yaml)"
    ]


def test_include_cycle(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "zones: !include a.yaml\n")
    write("a.yaml", "- id: x\n  name: !include b.yaml\n")
    write("b.yaml", "!include a.yaml\n")
    assert issues() == [
        "b.yaml:1: zones[0].name: !include a.yaml: include cycle (a.yaml -> b.yaml -> a.yaml)"
    ]


def test_include_of_the_root_file_is_a_cycle(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub: !include cityhub.yaml\n")
    assert issues() == [
        "cityhub.yaml:1: hub: !include cityhub.yaml: include cycle (cityhub.yaml -> cityhub.yaml)"
    ]


def test_include_needs_a_file_name(write: Write, issues: Issues) -> None:
    write("cityhub.yaml", "hub: !include\n")
    assert issues() == ["cityhub.yaml:1: hub: !include needs a name after it"]


# ------------------------------------------------------------------------------ !env_var


def test_env_var_is_read(write: Write, load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYHUB_TEST_PORT", "9000")
    write("cityhub.yaml", "http:\n  port: !env_var CITYHUB_TEST_PORT 8123\n")
    assert load().http.port == 9000


def test_env_var_default(write: Write, load: Load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYHUB_TEST_HOST", raising=False)
    write("cityhub.yaml", "http:\n  host: !env_var CITYHUB_TEST_HOST 0.0.0.0\n")
    assert load().http.host == "0.0.0.0"


def test_env_var_missing_without_default(
    write: Write, issues: Issues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITYHUB_TEST_HOST", raising=False)
    write("cityhub.yaml", "http:\n  port: 80\n  host: !env_var CITYHUB_TEST_HOST\n")
    assert issues() == [
        "cityhub.yaml:3: http.host: !env_var CITYHUB_TEST_HOST: the environment variable "
        "CITYHUB_TEST_HOST is not set (set it, or give a default: !env_var CITYHUB_TEST_HOST VALUE)"
    ]


def test_unreadable_value_gives_one_issue_but_its_key_is_still_checked(
    write: Write, issues: Issues
) -> None:
    write(
        "cityhub.yaml",
        "http:\n  port: !secret http_port\n  ssl_key: !secret ssl_key\n",
    )
    write("secrets.yaml", "ssl_key: fake-key-material\n")
    assert issues() == [
        "cityhub.yaml:2: http.port: !secret http_port: 'http_port' is not defined in "
        "secrets.yaml (defined: ssl_key)",
        "cityhub.yaml:3: http.ssl_key: unknown key 'ssl_key' (allowed: host, port, "
        "tls_certificate, tls_key; did you mean 'tls_key'?)",
    ]
