"""Validate a loaded configuration tree, check references across sections, build the HubConfig.

Each section, and each item of a list section, is validated on its own, and cross checks
read the loaded values rather than the validated ones, so a mistake in one camera never hides
a mistake in another (or in another key of the same camera). Every issue found is kept; the
:class:`~cityhub.model.HubConfig` is built only when there are none.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import attrs
import voluptuous as vol

from cityhub.api import CameraDriver, CameraKind, Notifier, StorageBackend
from cityhub.config import schema
from cityhub.config.errors import ConfigIssue, display_path
from cityhub.config.loader import Mark, NodeDict, NodeList, format_path, locate, suggest
from cityhub.config.messages import allowed_keys, humanize, is_unknown_key, path_key
from cityhub.model import (
    BUILTIN_ROLES,
    DEFAULT_RETENTION_DAYS,
    Authorisation,
    CameraConfig,
    CameraPtz,
    Emplacement,
    Habilitation,
    HttpConfig,
    HubConfig,
    HubSettings,
    NotifierConfig,
    Permission,
    PtzSettings,
    RecordingMode,
    RecordingSettings,
    RoleConfig,
    Site,
    StorageConfig,
    Tour,
    TourStep,
    UserConfig,
    WallSettings,
    Zone,
)
from cityhub.redact import redact

KeyPath = tuple[Hashable, ...]
_T = TypeVar("_T")

_ID_NOUNS = {
    "sites": ("id", "site id"),
    "zones": ("id", "zone id"),
    "emplacements": ("id", "emplacement id"),
    "cameras": ("id", "camera id"),
    "notifiers": ("id", "notifier id"),
    "users": ("username", "username"),
}


class Checker:
    """Validates one loaded tree against the schemas and the installed plugins."""

    def __init__(
        self,
        root: Any,
        root_file: Path,
        config_dir: Path,
        *,
        camera_drivers: Mapping[str, type[CameraDriver]],
        storage_backends: Mapping[str, type[StorageBackend]],
        notifiers: Mapping[str, type[Notifier]],
    ) -> None:
        self.root = root
        self.root_mark = Mark(root_file, None)
        self.config_dir = config_dir
        self.camera_drivers = camera_drivers
        self.storage_backends = storage_backends
        self.notifier_types = notifiers
        self.issues: list[ConfigIssue] = []
        self.single: dict[str, dict[str, Any] | None] = {}
        self.items: dict[str, list[dict[str, Any] | None]] = {}
        self.options: dict[KeyPath, dict[str, Any]] = {}
        self.retention: int | None = DEFAULT_RETENTION_DAYS
        self.roles: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------------------- reporting

    def report(self, path: KeyPath, message: str, *, about_key: bool = False) -> None:
        """Record an issue about the value at ``path`` (silent when that value is unreadable).

        An issue ``about_key`` (an unknown key) concerns the key itself, whatever its value.
        """
        where = locate(self.root, self.root_mark, path)
        holder = locate(self.root, self.root_mark, path[:-1]) if about_key else where
        if holder.unresolved:
            return
        self.issues.append(
            ConfigIssue(where.mark.file, where.mark.line, format_path(path), redact(message))
        )

    def _report_invalid(self, error: vol.Invalid, prefix: KeyPath, used: Any) -> None:
        relative = tuple(path_key(element) for element in error.path)
        path = (*prefix, *relative)
        where = locate(self.root, self.root_mark, path)
        keys = allowed_keys(used, relative[:-1]) if relative else None
        about_key = where.exists and is_unknown_key(error)
        self.report(path, humanize(error, where.value, where.exists, keys), about_key=about_key)

    def validate(self, used: Any, value: Any, path: KeyPath) -> Any:
        """``value`` validated by ``used`` (a schema), or ``None`` after reporting its errors."""
        try:
            return used(value)
        except vol.MultipleInvalid as errors:
            for error in errors.errors:
                self._report_invalid(error, path, used)
        except vol.Invalid as error:
            self._report_invalid(error, path, used)
        return None

    def where(self, path: KeyPath) -> str:
        """``file:line`` of the value at ``path``, for messages that point elsewhere."""
        mark = locate(self.root, self.root_mark, path).mark
        shown = display_path(mark.file, self.config_dir)
        return f"{shown}:{mark.line}" if mark.line is not None else shown

    # ---------------------------------------------------------------------------- sections

    def run(self) -> None:
        """Validate every section, then check the references between them."""
        if self.root is None:
            self.root = NodeDict()
        if not isinstance(self.root, dict):
            self.report((), f"expected a mapping of sections (got {schema.describe(self.root)})")
            return
        for key in self.root:
            if key not in schema.TOP_LEVEL_KEYS:
                keys = list(schema.TOP_LEVEL_KEYS)
                self.report(
                    (key,),
                    f"unknown key '{key}' (allowed: {', '.join(keys)}{suggest(str(key), keys)})",
                    about_key=True,
                )
        for section, used in schema.SINGLE_SECTIONS.items():
            raw = self.root.get(section)
            self.single[section] = self.validate(
                used, NodeDict() if raw is None else raw, (section,)
            )
        if "retention_days" in self.root:
            self.retention = self.validate(
                schema.RETENTION_SCHEMA, self.root["retention_days"], ("retention_days",)
            )
        for section, used in schema.LIST_SECTIONS.items():
            self.items[section] = self._validate_list(section, used)
        self._validate_roles()
        self._validate_plugin_options()
        self._check_duplicates()
        self._check_references()
        self._check_dates()
        self._check_tours()
        self._check_tls_files()

    def _config_path(self, value: str | None) -> Path | None:
        """``value`` as a path, relative ones from the configuration folder."""
        if value is None:
            return None
        return Path(os.path.normpath(self.config_dir / Path(value).expanduser()))

    def _check_tls_files(self) -> None:
        http = self.single.get("http")
        if not http:
            return
        for key in ("tls_certificate", "tls_key"):
            path = self._config_path(http.get(key))
            if path is not None and not path.is_file():
                self.report(
                    ("http", key),
                    f"no file {path} (a PEM {key.removeprefix('tls_')}, relative to the "
                    f"configuration folder)",
                )

    def _validate_list(self, section: str, used: vol.Schema) -> list[dict[str, Any] | None]:
        raw = self.root.get(section)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.report((section,), f"expected a list (got {schema.describe(raw)})")
            return []
        return [self.validate(used, item, (section, index)) for index, item in enumerate(raw)]

    def _validate_roles(self) -> None:
        raw = self.root.get("roles")
        if raw is None:
            return
        if not isinstance(raw, dict):
            self.report(
                ("roles",), f"expected a mapping of role names (got {schema.describe(raw)})"
            )
            return
        for role, body in raw.items():
            path = ("roles", role)
            valid_name = self.validate(schema.ROLE_NAME_SCHEMA, role, path)
            if valid_name in BUILTIN_ROLES:
                builtin = ", ".join(BUILTIN_ROLES)
                self.report(path, f"role '{role}' is built in and cannot be redefined ({builtin})")
                continue
            validated = self.validate(
                schema.ROLE_SCHEMA, NodeDict() if body is None else body, path
            )
            if valid_name is not None and validated is not None:
                self.roles[valid_name] = validated

    def _raw_items(self, section: str) -> list[tuple[int, dict[Any, Any]]]:
        raw = self.root.get(section)
        if not isinstance(raw, list):
            return []
        return [(i, item) for i, item in enumerate(raw) if isinstance(item, dict)]

    # ---------------------------------------------------------------------------- plugins

    def _validate_plugin_options(self) -> None:
        storage = self.root.get("storage")
        storage = storage if isinstance(storage, dict) else {}
        self._plugin_options(
            ("storage",),
            storage.get("backend", schema.DEFAULT_STORAGE_BACKEND),
            storage.get("options"),
            self.storage_backends,
        )
        for index, item in self._raw_items("cameras"):
            self._plugin_options(
                ("cameras", index), item.get("driver"), item.get("options"), self.camera_drivers
            )
        for index, item in self._raw_items("notifiers"):
            self._plugin_options(
                ("notifiers", index), item.get("type"), item.get("options"), self.notifier_types
            )

    def _plugin_options(
        self,
        path: KeyPath,
        kind: Any,
        options: Any,
        plugins: Mapping[str, type[CameraDriver] | type[StorageBackend] | type[Notifier]],
    ) -> None:
        plugin_name = schema.as_text(kind)
        if (
            plugin_name is None
            or plugin_name not in plugins
            or not isinstance(options, dict | None)
        ):
            return
        plugin = plugins[plugin_name]
        options_path = (*path, "options")
        try:
            validated = self.validate(
                plugin.CONFIG_SCHEMA, NodeDict() if options is None else options, options_path
            )
        except Exception as err:  # a plugin's schema is not ours to trust
            self.report(
                options_path,
                f"'{plugin_name}' failed while checking its options "
                f"({type(err).__name__}: {err}); report this to the plugin's authors",
            )
            return
        if validated is not None:
            self.options[path] = plain(validated)

    # ---------------------------------------------------------------------------- cross checks

    def _check_duplicates(self) -> None:
        for section, (key, noun) in _ID_NOUNS.items():
            first: dict[str, KeyPath] = {}
            for index, item in self._raw_items(section):
                value = schema.as_text(item.get(key))
                if value is None:
                    continue
                path = (section, index, key)
                if value in first:
                    self.report(
                        path,
                        f"duplicate {noun} '{value}' (first defined at {self.where(first[value])})",
                    )
                else:
                    first[value] = path

    def _defined(self, section: str, key: str = "id") -> list[str]:
        found: list[str] = []
        for _, item in self._raw_items(section):
            value = schema.as_text(item.get(key))
            if value is not None and value not in found:
                found.append(value)
        return found

    def _reference(
        self, path: KeyPath, value: Any, noun: str, defined: Sequence[str], defined_label: str
    ) -> str | None:
        """Report ``value`` unless it names one of ``defined``; the name when it does."""
        found = schema.as_text(value)
        if found is None:
            return None
        if found in defined:
            return found
        listed = ", ".join(defined) if defined else "none"
        self.report(
            path, f"unknown {noun} '{found}' ({defined_label}: {listed}{suggest(found, defined)})"
        )
        return None

    def _check_references(self) -> None:
        sites = self._defined("sites")
        zones = self._defined("zones")
        zone_of_emplacement: dict[str, str] = {}
        for index, item in self._raw_items("zones"):
            if "site" in item:
                self._reference(
                    ("zones", index, "site"), item["site"], "site", sites, "defined sites"
                )
        for index, item in self._raw_items("emplacements"):
            zone = self._reference(
                ("emplacements", index, "zone"), item.get("zone"), "zone", zones, "defined zones"
            )
            emplacement_id = schema.as_text(item.get("id"))
            if zone is not None and emplacement_id is not None:
                zone_of_emplacement.setdefault(emplacement_id, zone)
        emplacements = self._defined("emplacements")
        drivers = sorted(self.camera_drivers)
        for index, item in self._raw_items("cameras"):
            self._reference(
                ("cameras", index, "driver"),
                item.get("driver"),
                "camera driver",
                drivers,
                "installed drivers",
            )
            zone = self._reference(
                ("cameras", index, "zone"), item.get("zone"), "zone", zones, "defined zones"
            )
            if "emplacement" not in item:
                continue
            emplacement = self._reference(
                ("cameras", index, "emplacement"),
                item["emplacement"],
                "emplacement",
                emplacements,
                "defined emplacements",
            )
            placed = zone_of_emplacement.get(emplacement) if emplacement is not None else None
            if zone is not None and placed is not None and placed != zone:
                self.report(
                    ("cameras", index, "emplacement"),
                    f"emplacement '{emplacement}' is in zone '{placed}', not in the camera's "
                    f"zone '{zone}' (move the camera to zone '{placed}' or pick an emplacement "
                    f"of zone '{zone}')",
                )
        self._check_storage_backend()
        types = sorted(self.notifier_types)
        for index, item in self._raw_items("notifiers"):
            self._reference(
                ("notifiers", index, "type"),
                item.get("type"),
                "notifier type",
                types,
                "installed types",
            )
        declared = self.root.get("roles")
        roles = list(BUILTIN_ROLES)
        if isinstance(declared, dict):
            roles += [r for r in map(schema.as_text, declared) if r is not None and r not in roles]
        for index, item in self._raw_items("users"):
            self._reference(("users", index, "role"), item.get("role"), "role", roles, "roles")
            scope = item.get("zones")
            if isinstance(scope, list):
                for position, zone in enumerate(scope):
                    self._reference(
                        ("users", index, "zones", position), zone, "zone", zones, "defined zones"
                    )

    def _check_storage_backend(self) -> None:
        storage = self.root.get("storage")
        storage = storage if isinstance(storage, dict) else {}
        self._reference(
            ("storage", "backend"),
            storage.get("backend", schema.DEFAULT_STORAGE_BACKEND),
            "storage backend",
            sorted(self.storage_backends),
            "installed backends",
        )

    def _check_dates(self) -> None:
        for section, key, noun in (
            ("cameras", "authorisation", "the authorisation"),
            ("users", "habilitation", "the habilitation"),
        ):
            for index, item in self._raw_items(section):
                body = item.get(key)
                if not isinstance(body, dict):
                    continue
                granted = _date_or_none(body.get("date"))
                expires = _date_or_none(body.get("expires"))
                if granted is not None and expires is not None and expires <= granted:
                    self.report(
                        (section, index, key, "expires"),
                        f"{expires.isoformat()} is not after the date of {noun} "
                        f"({granted.isoformat()}); the expiry must come later",
                    )

    def _check_tours(self) -> None:
        for index, item in self._raw_items("cameras"):
            ptz = item.get("ptz")
            kind = schema.as_text(item.get("kind", CameraKind.FIXED.value))
            if "ptz" in item and kind == CameraKind.FIXED.value:
                self.report(
                    ("cameras", index, "ptz"),
                    "a camera of kind 'fixed' cannot pan, tilt or zoom (set kind: ptz, or "
                    "remove ptz:)",
                    about_key=True,
                )
            tours = ptz.get("tours") if isinstance(ptz, dict) else None
            patrol = schema.as_text(ptz.get("patrol")) if isinstance(ptz, dict) else None
            if not isinstance(tours, list):
                tours = []
            names = [schema.as_text(tour.get("name")) for tour in tours if isinstance(tour, dict)]
            if patrol is not None and patrol not in names:
                known = ", ".join(n for n in names if n) or "none configured"
                self.report(
                    ("cameras", index, "ptz", "patrol"),
                    f"no tour '{patrol}' on this camera (tours: {known}); patrol names one of "
                    f"the camera's ptz: tours:",
                )
            first: dict[str, KeyPath] = {}
            for position, tour in enumerate(tours):
                found = schema.as_text(tour.get("name")) if isinstance(tour, dict) else None
                if found is None:
                    continue
                path: KeyPath = ("cameras", index, "ptz", "tours", position, "name")
                if found in first:
                    self.report(
                        path,
                        f"duplicate tour name '{found}' (first defined at "
                        f"{self.where(first[found])}); give each tour of a camera its own name",
                    )
                else:
                    first[found] = path

    # ---------------------------------------------------------------------------- building

    def build(self) -> HubConfig:
        """The HubConfig of a tree :meth:`run` found no issue in."""
        hub = _present(self.single["hub"])
        http = _present(self.single["http"])
        storage = _present(self.single["storage"])
        recording = _recording(_present(self.single["recording"]))
        ptz_section = _present(self.single["ptz"])
        ptz = PtzSettings(
            deadman_timeout=ptz_section["deadman_timeout"],
            lock_timeout=ptz_section["lock_timeout"],
            return_home_after=ptz_section.get("return_home_after"),
        )
        default_retention = _present(self.retention)
        zones = tuple(_zone(item) for item in self._valid("zones"))
        zone_retention = {zone.id: zone.retention_days for zone in zones}
        cameras = tuple(
            _camera(
                item,
                self.options.get(("cameras", index), {}),
                zone_retention.get(item["zone"]) or default_retention,
                recording,
                ptz,
            )
            for index, item in enumerate(self._valid("cameras"))
        )
        data_dir = Path(hub["data_dir"]).expanduser()
        return HubConfig(
            config_dir=self.config_dir,
            hub=HubSettings(
                name=hub["name"],
                time_zone=hub["time_zone"],
                data_dir=Path(os.path.normpath(self.config_dir / data_dir)),
            ),
            http=HttpConfig(
                host=http["host"],
                port=http["port"],
                tls_certificate=self._config_path(http.get("tls_certificate")),
                tls_key=self._config_path(http.get("tls_key")),
            ),
            storage=StorageConfig(
                backend=storage["backend"],
                options=self.options.get(("storage",), {}),
                purge_interval_s=storage["purge_interval"],
                min_free_percent=storage["min_free_percent"],
                min_free_gb=storage.get("min_free_gb"),
                critical_free_percent=storage["critical_free_percent"],
                min_retention_days=storage["min_retention_days"],
            ),
            recording=recording,
            ptz=ptz,
            wall=WallSettings(monitors=tuple(_present(self.single["wall"])["monitors"])),
            sites=tuple(Site(id=item["id"], name=item["name"]) for item in self._valid("sites")),
            zones=zones,
            emplacements=tuple(_emplacement(item) for item in self._valid("emplacements")),
            cameras=cameras,
            notifiers=tuple(
                NotifierConfig(
                    id=item["id"],
                    type=item["type"],
                    options=self.options.get(("notifiers", index), {}),
                )
                for index, item in enumerate(self._valid("notifiers"))
            ),
            users=tuple(_user(item) for item in self._valid("users")),
            roles=tuple(
                RoleConfig(
                    name=role, permissions=frozenset(Permission(p) for p in body["permissions"])
                )
                for role, body in self.roles.items()
            ),
        )

    def _valid(self, section: str) -> list[dict[str, Any]]:
        return [_present(item) for item in self.items[section]]


def _present(value: _T | None) -> _T:
    if value is None:
        raise AssertionError("building a configuration that has issues")
    return value


def _date_or_none(value: Any) -> date | None:
    try:
        return schema.a_date(value)
    except vol.Invalid:
        return None


def plain(value: Any) -> Any:
    """``value`` with every loaded mapping and list turned into a plain ``dict`` and ``list``."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | NodeList):
        return [plain(item) for item in value]
    return value


def _zone(item: dict[str, Any]) -> Zone:
    return Zone(
        id=item["id"],
        name=item["name"],
        site=item.get("site"),
        retention_days=item.get("retention_days"),
    )


def _emplacement(item: dict[str, Any]) -> Emplacement:
    return Emplacement(
        id=item["id"],
        name=item["name"],
        zone=item["zone"],
        kind=item["kind"],
        latitude=item.get("latitude"),
        longitude=item.get("longitude"),
        address=item.get("address"),
        phase=item.get("phase"),
    )


def _recording(item: dict[str, Any], base: RecordingSettings | None = None) -> RecordingSettings:
    """Recording settings from a validated mapping, missing keys taken from ``base``."""
    base = base or RecordingSettings()
    return RecordingSettings(
        enabled=True,
        mode=RecordingMode(item.get("mode", base.mode)),
        segment_seconds=item.get("segment_seconds", base.segment_seconds),
        pre_roll=item.get("pre_roll", base.pre_roll),
        post_roll=item.get("post_roll", base.post_roll),
    )


def _camera_ptz(item: dict[str, Any] | None, defaults: PtzSettings) -> CameraPtz:
    """A camera's PTZ settings: its own ``ptz:`` keys, the rest from the ``ptz:`` section."""
    own = item or {}
    return CameraPtz(
        deadman_timeout=own.get("deadman_timeout", defaults.deadman_timeout),
        lock_timeout=own.get("lock_timeout", defaults.lock_timeout),
        home_preset=own.get("home_preset"),
        return_home_after=own.get("return_home_after", defaults.return_home_after),
        tours=tuple(
            Tour(
                name=tour["name"],
                steps=tuple(TourStep(preset=s["preset"], dwell=s["dwell"]) for s in tour["steps"]),
            )
            for tour in own.get("tours", [])
        ),
        patrol=own.get("patrol"),
    )


def _camera(
    item: dict[str, Any],
    options: dict[str, Any],
    zone_retention: int,
    recording: RecordingSettings,
    ptz: PtzSettings,
) -> CameraConfig:
    authorisation = item.get("authorisation")
    own = item["recording"]
    return CameraConfig(
        id=item["id"],
        name=item["name"],
        kind=CameraKind(item["kind"]),
        driver=item["driver"],
        zone=item["zone"],
        retention_days=item.get("retention_days") or zone_retention,
        emplacement=item.get("emplacement"),
        phase=item.get("phase"),
        purpose=item.get("purpose"),
        authorisation=(
            Authorisation(
                order=authorisation["order"],
                granted=authorisation["date"],
                expires=authorisation["expires"],
            )
            if authorisation is not None
            else None
        ),
        enabled=item["enabled"],
        recording=(
            _recording(own, recording)
            if isinstance(own, dict)
            else attrs.evolve(recording, enabled=own)
        ),
        options=options,
        ptz=_camera_ptz(item.get("ptz"), ptz),
    )


def _user(item: dict[str, Any]) -> UserConfig:
    habilitation = item.get("habilitation")
    return UserConfig(
        username=item["username"],
        role=item["role"],
        full_name=item.get("full_name"),
        zones=tuple(item["zones"]),
        habilitation=(
            Habilitation(
                reference=habilitation["reference"],
                granted=habilitation["date"],
                expires=habilitation["expires"],
            )
            if habilitation is not None
            else None
        ),
    )
