"""Merging findings into devices, choosing their driver, spotting adopted ones, and the YAML
snippet, which must pass the real configuration check (the same load_config as check-config)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import voluptuous as vol

from cityhub.api import CameraDriver, CameraKind, DiscoveryMatcher, hookimpl
from cityhub.config import load_config
from cityhub.discovery.devices import (
    FOUND_BY_WSD,
    DiscoveredDevice,
    choose_driver,
    collect_matchers,
    find_adopter,
    merge,
    resolve,
)
from cityhub.discovery.mdns import ONVIF_TYPE, RTSP_TYPE, ZeroconfService
from cityhub.discovery.report import camera_id_for, render_snippet, render_table, slug
from cityhub.discovery.wsd import ONVIF_TYPES, Endpoint, Sighting
from cityhub.model import CameraConfig
from cityhub.plugins import Plugins
from cityhub.storage.local import LocalStorage
from cityhub_rtsp.driver import RtspCamera

ONVIF = DiscoveryMatcher(driver="onvifish", onvif_scopes=("onvif://www.onvif.org/",))
ACME = DiscoveryMatcher(
    driver="acme", onvif_scopes=("onvif://www.onvif.org/",), manufacturers=("acme",), priority=10
)
RTSP = DiscoveryMatcher(driver="rtsp", zeroconf_types=(RTSP_TYPE,), priority=-10)


class HostDriver(CameraDriver):
    """A driver addressed by host and port, as ONVIF drivers are."""

    NAME = "onvifish"
    CONFIG_SCHEMA = vol.Schema(
        {
            vol.Required("host"): str,
            vol.Optional("port", default=80): int,
            vol.Required("username"): str,
            vol.Required("password"): str,
        }
    )


def sighting(address: str, *scopes: str, port: int | None = None, endpoint: str = "") -> Sighting:
    netloc = f"{address}:{port}" if port else address
    return Sighting(
        Endpoint(
            endpoint or f"urn:uuid:{address}",
            types=ONVIF_TYPES,
            scopes=tuple(f"onvif://www.onvif.org/{s}" for s in scopes),
            xaddrs=(
                "http://[fe80::1]/onvif/device_service",
                f"http://{netloc}/onvif/device_service",
            ),
        ),
        sender=address,
    )


def service(
    address: str, type_: str = RTSP_TYPE, port: int = 554, instance: str = "", **txt: str
) -> ZeroconfService:
    return ZeroconfService(
        type=type_,
        name=f"{instance or 'Cam ' + address}.{type_}",
        server=f"cam-{address.replace('.', '-')}.local.",
        addresses=(address,),
        port=port,
        properties=txt,
    )


def camera(camera_id: str, **options: object) -> CameraConfig:
    return CameraConfig(
        id=camera_id,
        name=camera_id,
        kind=CameraKind.FIXED,
        driver="rtsp",
        zone="centre",
        retention_days=14,
        options=options,
    )


def test_one_device_per_address_whichever_way_it_was_found() -> None:
    devices = merge(
        [sighting("10.0.0.5", "name/Rue%20Gambetta", "hardware/X1", port=8080)],
        [
            service("10.0.0.5", port=8554, path="/live/main", vendor="Acme"),
            service("10.0.0.7", model="Z9", manufacturer="Zeta"),
            service("10.0.0.10", ONVIF_TYPE, port=8000),
        ],
    )

    assert [d.address for d in devices] == ["10.0.0.5", "10.0.0.7", "10.0.0.10"]
    gambetta, zeta, onvif_only = devices
    assert gambetta.found_by == (FOUND_BY_WSD, RTSP_TYPE)
    assert gambetta.name == "Rue Gambetta"
    assert gambetta.hardware == "X1"
    assert gambetta.manufacturer == "Acme"
    assert gambetta.onvif_url == "http://10.0.0.5:8080/onvif/device_service"
    assert gambetta.onvif_port == 8080
    assert gambetta.rtsp_url == "rtsp://10.0.0.5:8554/live/main"
    assert (zeta.name, zeta.hardware, zeta.manufacturer) == ("Cam 10.0.0.7", "Z9", "Zeta")
    assert zeta.rtsp_url == "rtsp://10.0.0.7:554/"
    assert onvif_only.onvif_url == "http://10.0.0.10:8000/onvif/device_service"
    json.dumps([d.as_dict() for d in devices])  # what the service and --json return


def test_a_service_on_several_addresses_joins_the_device_on_one_of_them() -> None:
    two_addresses = ZeroconfService(
        type=RTSP_TYPE, name=f"Cam.{RTSP_TYPE}", server="cam.local.",
        addresses=("192.168.1.5", "10.0.0.5"), port=554,
    )  # fmt: skip

    (device,) = merge([sighting("10.0.0.5")], [two_addresses])

    assert device.address == "10.0.0.5"
    assert device.found_by == (FOUND_BY_WSD, RTSP_TYPE)


def test_highest_priority_matcher_wins() -> None:
    matchers = [RTSP, ONVIF, ACME]
    acme, other, rtsp_only, unknown = merge(
        [
            sighting("10.0.0.1", "mfr/ACME%20Vision"),
            sighting("10.0.0.2", "name/Zeta%20cam"),
        ],
        [
            service("10.0.0.1"),
            service("10.0.0.2"),
            service("10.0.0.3"),
            service("10.0.0.4", "_x._tcp.local."),
        ],
    )

    assert choose_driver(acme, matchers) == "acme"
    assert choose_driver(other, matchers) == "onvifish"
    assert choose_driver(rtsp_only, matchers) == "rtsp"
    assert choose_driver(unknown, matchers) is None


def test_manufacturer_only_matcher_reads_zeroconf_vendor_hints() -> None:
    (device,) = merge([], [service("10.0.0.8", "_acme-video._tcp.local.", vendor="ACME")])
    by_vendor = DiscoveryMatcher(driver="acme", manufacturers=("Acme",))
    by_type = DiscoveryMatcher(driver="acme", zeroconf_types=("_acme-video._tcp.local.",))
    wrong_vendor = DiscoveryMatcher(driver="zeta", manufacturers=("Zeta",))

    assert choose_driver(device, [by_vendor]) == "acme"
    assert choose_driver(device, [by_type]) == "acme"
    assert choose_driver(device, [wrong_vendor]) is None


@pytest.mark.parametrize(
    ("options", "adopted"),
    [
        ({"host": "10.0.0.5"}, True),
        ({"url": "rtsp://10.0.0.5:554/Streaming/Channels/101"}, True),
        ({"streams": [{"url": "rtsp://10.0.0.5/sub"}]}, True),
        ({"host": "cam-10-0-0-5.local"}, True),
        ({"host": "cam-10-0-0-5"}, True),
        ({"url": "rtsp://10.0.0.50/x", "host": "10.0.0.55"}, False),
        ({"note": "10.0.0.5"}, False),
    ],
)
def test_adopted_when_a_camera_points_at_the_device(
    options: dict[str, object], *, adopted: bool
) -> None:
    (device,) = merge([sighting("10.0.0.5")], [service("10.0.0.5")])
    cameras = [camera("autre", url="rtsp://10.9.9.9/x"), camera("rue-gambetta", **options)]

    assert find_adopter(device, cameras) == ("rue-gambetta" if adopted else None)


def test_collect_matchers_isolates_broken_plugins(caplog: pytest.LogCaptureFixture) -> None:
    class Good:
        @hookimpl
        def cityhub_camera_drivers(self) -> Sequence[type[CameraDriver]]:
            return [HostDriver]

        @hookimpl
        def cityhub_discovery_matchers(self) -> Sequence[DiscoveryMatcher]:
            return [ONVIF, DiscoveryMatcher(driver="not-installed"), "junk"]  # type: ignore[list-item]

    class Broken:
        @hookimpl
        def cityhub_discovery_matchers(self) -> Sequence[DiscoveryMatcher]:
            raise RuntimeError("vendor SDK missing")

    plugins = Plugins.load(entry_points=False, extra=[Good(), Broken()])

    assert collect_matchers(plugins) == [ONVIF]
    assert "vendor SDK missing" in caplog.text
    assert "'not-installed', which is not installed" in caplog.text
    assert "'junk' is not a DiscoveryMatcher" in caplog.text


def test_ids_are_slugs_and_unique() -> None:
    taken = {"hotel-de-ville"}
    named = DiscoveredDevice("10.0.0.1", name="Hôtel de Ville")
    unnamed = DiscoveredDevice("10.0.0.2")

    assert slug("  Caméra n°3: «Gare» ") == "camera-n3-gare"
    assert camera_id_for(named, taken) == "hotel-de-ville-2"
    assert camera_id_for(named, taken) == "hotel-de-ville-3"
    assert camera_id_for(unnamed, taken) == "camera-10-0-0-2"


CONFIG = """\
zones:
  - {id: gare, name: Gare}
  - {id: centre, name: Centre}
cameras:
  - id: gare-ptz
    name: Gare
    driver: rtsp
    zone: gare
    options: {url: "rtsp://10.0.0.3/main"}
"""


def test_snippet_passes_the_configuration_check(tmp_path: Path) -> None:
    (tmp_path / "cityhub.yaml").write_text(CONFIG)
    drivers: dict[str, type[CameraDriver]] = {"rtsp": RtspCamera, "onvifish": HostDriver}
    backends = {"local": LocalStorage}
    config = load_config(tmp_path, camera_drivers=drivers, storage_backends=backends, notifiers={})
    devices = resolve(
        merge(
            [
                sighting("10.0.0.1", "name/Gare%20PTZ", port=8080),  # id taken: gets -2
                sighting("10.0.0.3", "name/Already"),
            ],
            [
                service("10.0.0.2", port=8554, instance='Quai "A": nord #1'),
                service("10.0.0.4", "_x._tcp.local.", instance="Nobody"),
            ],
        ),
        [ONVIF, RTSP],
        config.cameras,
    )
    assert [d.driver for d in devices] == ["onvifish", "rtsp", "onvifish", None]

    snippet, secrets = render_snippet(devices, drivers, config)

    assert "# 10.0.0.3 (Already): already adopted as camera gare-ptz" in snippet
    assert "# 10.0.0.4 (Nobody): no installed driver claims it" in snippet
    assert secrets == [
        "gare_ptz_2_username",
        "gare_ptz_2_password",
        "quai_a_nord_1_username",
        "quai_a_nord_1_password",
    ]
    (tmp_path / "cityhub.yaml").write_text(CONFIG + snippet)
    (tmp_path / "secrets.yaml").write_text("".join(f"{name}: value-{name}\n" for name in secrets))
    checked = load_config(tmp_path, camera_drivers=drivers, storage_backends=backends, notifiers={})

    added = {c.id: c for c in checked.cameras}
    assert set(added) == {"gare-ptz", "gare-ptz-2", "quai-a-nord-1"}
    assert added["gare-ptz-2"].options == {
        "host": "10.0.0.1", "port": 8080,
        "username": "value-gare_ptz_2_username", "password": "value-gare_ptz_2_password",
    }  # fmt: skip
    assert added["quai-a-nord-1"].name == 'Quai "A": nord #1'
    assert added["quai-a-nord-1"].zone == "gare"
    assert added["quai-a-nord-1"].options["url"] == "rtsp://10.0.0.2:8554/"


def test_snippet_without_configuration_names_a_zone_to_set() -> None:
    (device,) = resolve(merge([], [service("10.0.0.2")]), [RTSP])

    snippet, _ = render_snippet([device], {"rtsp": RtspCamera})

    assert "    zone: set-me  # a zone of your configuration's zones:" in snippet
    assert 'url: "rtsp://10.0.0.2:554/"  # add the stream\'s path' in snippet


def test_table_lists_every_device() -> None:
    devices = [
        DiscoveredDevice("10.0.0.1", name="Rue\nGambetta", onvif_port=80, rtsp_port=554,
                         found_by=(FOUND_BY_WSD, RTSP_TYPE), driver="rtsp", adopted_by="cam-1"),
        DiscoveredDevice("10.0.0.2", found_by=(ONVIF_TYPE,)),
    ]  # fmt: skip

    lines = render_table(devices).splitlines()

    assert lines[0].split() == ["ADDRESS", "NAME", "HARDWARE", "LOCATION", "SERVICES", "FOUND",
                                "BY", "DRIVER", "ADOPTED"]  # fmt: skip
    assert "Rue Gambetta" in lines[1]
    assert "onvif:80 rtsp:554" in lines[1]
    assert lines[2].split() == ["10.0.0.2", "-", "-", "-", "-", "_onvif._tcp", "-", "-"]
    assert lines[1].endswith("ws-discovery, _rtsp._tcp  rtsp    cam-1")
    assert render_table([]) == "No device found."
