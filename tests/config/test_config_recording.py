"""The ``recording:`` section and a camera's ``recording:`` key: defaults, overrides, errors."""

from __future__ import annotations

from config_kit import Issues, Load, Write

from cityhub.model import RecordingMode, RecordingSettings

CAMERAS = """
zones:
  - {id: centre, name: Centre}
cameras:
  - {id: a, name: A, driver: virtual, zone: centre}
  - {id: b, name: B, driver: virtual, zone: centre, recording: false}
  - id: c
    name: C
    driver: virtual
    zone: centre
    recording: {mode: event, pre_roll: 2.5}
"""


def test_defaults_without_a_recording_section(write: Write, load: Load) -> None:
    write("cityhub.yaml", CAMERAS)
    config = load()
    assert config.recording == RecordingSettings()
    assert config.recording.segment_seconds == 60
    a, b, c = config.cameras
    assert a.recording == RecordingSettings()
    assert b.recording == RecordingSettings(enabled=False)
    assert c.recording == RecordingSettings(mode=RecordingMode.EVENT, pre_roll=2.5)


def test_a_camera_mapping_overrides_the_section(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        "recording: {segment_seconds: 120, mode: event, pre_roll: 3, post_roll: 20}\n" + CAMERAS,
    )
    config = load()
    shared = RecordingSettings(
        mode=RecordingMode.EVENT, segment_seconds=120, pre_roll=3.0, post_roll=20.0
    )
    a, b, c = config.cameras
    assert config.recording == shared
    assert a.recording == shared
    assert b.recording == RecordingSettings(
        enabled=False, mode=RecordingMode.EVENT, segment_seconds=120, pre_roll=3.0, post_roll=20.0
    )
    assert c.recording == RecordingSettings(
        mode=RecordingMode.EVENT, segment_seconds=120, pre_roll=2.5, post_roll=20.0
    )


def test_recording_mistakes_name_file_line_and_key(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        recording:
          segment_seconds: 1
          mode: always
          pre_roll: -2
          post_rol: 5
        zones:
          - {id: centre, name: Centre}
        cameras:
          - id: a
            name: A
            driver: virtual
            zone: centre
            recording:
              segment_seconds: 601
              post_roll: 301
              preroll: 4
          - {id: b, name: B, driver: virtual, zone: centre, recording: [event]}
        """,
    )
    assert issues() == [
        "cityhub.yaml:2: recording.segment_seconds: 1 is out of range (2..600)",
        "cityhub.yaml:3: recording.mode: 'always' is not allowed (one of: continuous, event)",
        "cityhub.yaml:4: recording.pre_roll: -2 is out of range (0..300 seconds)",
        "cityhub.yaml:5: recording.post_rol: unknown key 'post_rol' (allowed: mode, "
        "segment_seconds, pre_roll, post_roll; did you mean 'post_roll'?)",
        "cityhub.yaml:14: cameras[0].recording.segment_seconds: 601 is out of range (2..600)",
        "cityhub.yaml:15: cameras[0].recording.post_roll: 301 is out of range (0..300 seconds)",
        "cityhub.yaml:16: cameras[0].recording.preroll: unknown key 'preroll' (allowed: mode, "
        "segment_seconds, pre_roll, post_roll; did you mean 'pre_roll'?)",
        "cityhub.yaml:17: cameras[1].recording: expected true, false or a mapping of recording "
        "settings (got a list)",
    ]
