"""The ``ptz:`` section and a camera's ``ptz:`` key: defaults, overrides, tours, errors."""

from __future__ import annotations

from config_kit import Issues, Load, Write

from cityhub.model import CameraPtz, PtzSettings, Tour, TourStep

CAMERAS = """
zones:
  - {id: centre, name: Centre}
cameras:
  - {id: fixed, name: Fixed, driver: virtual, zone: centre}
  - id: dome
    name: Dome
    kind: ptz
    driver: virtual
    zone: centre
    ptz:
      lock_timeout: 15
      home_preset: parvis
      tours:
        - name: patrol
          steps:
            - {preset: parvis, dwell: 20}
            - {preset: 2, dwell: 7.5}
        - name: night
          steps: [{preset: rue, dwell: 60}]
"""


def test_defaults_and_camera_overrides(write: Write, load: Load) -> None:
    write("cityhub.yaml", CAMERAS)
    config = load()
    assert config.ptz == PtzSettings(deadman_timeout=1.0, lock_timeout=30.0)
    fixed, dome = config.cameras
    assert fixed.ptz == CameraPtz()
    assert dome.ptz == CameraPtz(
        deadman_timeout=1.0,
        lock_timeout=15.0,
        home_preset="parvis",
        tours=(
            Tour("patrol", (TourStep("parvis", 20.0), TourStep("2", 7.5))),
            Tour("night", (TourStep("rue", 60.0),)),
        ),
    )
    assert dome.ptz.tour("night").steps == (TourStep("rue", 60.0),)


def test_the_section_sets_every_camera_s_defaults(write: Write, load: Load) -> None:
    write(
        "cityhub.yaml",
        "ptz: {deadman_timeout: 0.5, lock_timeout: 20, return_home_after: 120}\n" + CAMERAS,
    )
    fixed, dome = load().cameras
    assert fixed.ptz == CameraPtz(deadman_timeout=0.5, lock_timeout=20.0, return_home_after=120.0)
    assert (dome.ptz.deadman_timeout, dome.ptz.lock_timeout) == (0.5, 15.0)
    assert dome.ptz.return_home_after == 120.0


def test_ptz_mistakes_name_file_line_and_key(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        ptz:
          deadman_timeout: 30
          lock_timout: 10
        zones:
          - {id: centre, name: Centre}
        cameras:
          - id: dome
            name: Dome
            kind: ptz
            driver: virtual
            zone: centre
            ptz:
              return_home_after: -5
              tours:
                - name: patrol
                  steps:
                    - {preset: [a, b], dwell: 20}
                    - {preset: rue, dwell: -3}
                    - {preset: gare, dwel: 4}
                - name: patrol
                  steps: []
                - name: empty
                  speed: 2
                  steps: {preset: a}
        """,
    )
    assert issues() == [
        "cityhub.yaml:2: ptz.deadman_timeout: 30 is out of range (0.2..10 seconds)",
        "cityhub.yaml:3: ptz.lock_timout: unknown key 'lock_timout' (allowed: deadman_timeout, "
        "lock_timeout, return_home_after; did you mean 'lock_timeout'?)",
        "cityhub.yaml:13: cameras[0].ptz.return_home_after: -5 is out of range (1..86400 seconds)",
        "cityhub.yaml:17: cameras[0].ptz.tours[0].steps[0].preset: expected a name (got a list)",
        "cityhub.yaml:18: cameras[0].ptz.tours[0].steps[1].dwell: -3 is out of range "
        "(1..86400 seconds)",
        "cityhub.yaml:19: cameras[0].ptz.tours[0].steps[2].dwel: unknown key 'dwel' "
        "(allowed: preset, dwell; did you mean 'dwell'?)",
        "cityhub.yaml:19: cameras[0].ptz.tours[0].steps[2].dwell: required key 'dwell' is missing",
        "cityhub.yaml:20: cameras[0].ptz.tours[1].name: duplicate tour name 'patrol' (first "
        "defined at cityhub.yaml:15); give each tour of a camera its own name",
        "cityhub.yaml:21: cameras[0].ptz.tours[1].steps: a tour needs at least one step "
        "(a list of {preset, dwell})",
        "cityhub.yaml:23: cameras[0].ptz.tours[2].speed: unknown key 'speed' (allowed: name, "
        "steps)",
        "cityhub.yaml:24: cameras[0].ptz.tours[2].steps: expected a list (got a mapping)",
    ]


def test_ptz_settings_need_a_camera_that_moves(write: Write, issues: Issues) -> None:
    write(
        "cityhub.yaml",
        """
        zones:
          - {id: centre, name: Centre}
        cameras:
          - id: wall
            name: Wall
            driver: virtual
            zone: centre
            ptz: {home_preset: parvis}
        """,
    )
    assert issues() == [
        "cityhub.yaml:8: cameras[0].ptz: a camera of kind 'fixed' cannot pan, tilt or zoom "
        "(set kind: ptz, or remove ptz:)"
    ]


def test_a_patrol_names_one_of_the_camera_s_tours(write: Write, load: Load, issues: Issues) -> None:
    write("cityhub.yaml", CAMERAS.replace("      home_preset: parvis\n", "      patrol: night\n"))
    assert load().cameras[1].ptz.patrol == "night"
    write("cityhub.yaml", CAMERAS.replace("      home_preset: parvis\n", "      patrol: nuit\n"))
    assert issues() == [
        "cityhub.yaml:12: cameras[1].ptz.patrol: no tour 'nuit' on this camera (tours: patrol, "
        "night); patrol names one of the camera's ptz: tours:"
    ]
