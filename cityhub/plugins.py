"""Finds and loads plugins (entry-point group ``cityhub`` plus the built-ins) and their kinds."""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from types import ModuleType
from typing import Any

import attrs
import pluggy

from cityhub import hookspecs
from cityhub.api import PROJECT_NAME, CameraDriver, Notifier, StorageBackend, capabilities_of

_LOGGER = logging.getLogger(__name__)

BUILTIN_PLUGINS: tuple[str, ...] = ("cityhub.builtin",)
"""Modules registered as plugins before any entry point: the core's own kinds."""

KIND_HOOKS: dict[str, tuple[str, type]] = {
    "camera_drivers": ("cityhub_camera_drivers", CameraDriver),
    "storage_backends": ("cityhub_storage_backends", StorageBackend),
    "notifiers": ("cityhub_notifiers", Notifier),
}
"""Kind -> (hook that returns it, base class every returned class must subclass)."""


@attrs.define
class PluginReport:
    """What one plugin is and provides, or why it failed to load."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    provides: dict[str, list[str]] = attrs.field(factory=dict)
    capabilities: dict[str, list[str]] = attrs.field(factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the plugin loaded and all its hooks answered."""
        return self.error is None


def _importer(module_name: str) -> Callable[[], Any]:
    return lambda: importlib.import_module(module_name)


def _constant(obj: object) -> Callable[[], Any]:
    return lambda: obj


class Plugins:
    """The loaded plugins and the kinds they contribute, by NAME."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.reports: list[PluginReport] = []
        self.camera_drivers: dict[str, type[CameraDriver]] = {}
        self.storage_backends: dict[str, type[StorageBackend]] = {}
        self.notifiers: dict[str, type[Notifier]] = {}

    @classmethod
    def load(
        cls,
        *,
        entry_points: bool = True,
        extra: Iterable[ModuleType | object] = (),
    ) -> Plugins:
        """Register the built-ins, every ``cityhub`` entry point and ``extra``; collect kinds."""
        plugins = cls()
        for module_name in BUILTIN_PLUGINS:
            plugins._register_module(module_name, _importer(module_name), builtin=True)
        if entry_points:
            for ep in sorted(metadata.entry_points(group=PROJECT_NAME), key=lambda e: e.name):
                plugins._register_entry_point(ep)
        for obj in extra:
            name = getattr(obj, "__name__", repr(obj))
            plugins._register_module(name, _constant(obj), builtin=False)
        plugins._collect_kinds()
        return plugins

    def _register_entry_point(self, ep: metadata.EntryPoint) -> None:
        report = PluginReport(name=ep.name, module=ep.value)
        if ep.dist is not None:
            report.distribution = ep.dist.name
            report.version = ep.dist.version
        self._register(report, ep.load)

    def _register_module(self, name: str, load: Callable[[], Any], *, builtin: bool) -> None:
        self._register(PluginReport(name=name, module=name, builtin=builtin), load)

    def _register(self, report: PluginReport, load: Callable[[], Any]) -> None:
        self.reports.append(report)
        try:
            plugin = load()
            self.manager.register(plugin, name=report.name)
        except Exception:
            report.error = traceback.format_exc()
            _LOGGER.error(
                "Plugin %s (%s) failed to load:\n%s", report.name, report.module, report.error
            )

    def _report(self, plugin_name: str) -> PluginReport:
        return next(r for r in self.reports if r.name == plugin_name)

    def _collect_kinds(self) -> None:
        registries: dict[str, dict[str, Any]] = {
            "camera_drivers": self.camera_drivers,
            "storage_backends": self.storage_backends,
            "notifiers": self.notifiers,
        }
        for kind, (hook_name, base) in KIND_HOOKS.items():
            hook = getattr(self.manager.hook, hook_name)
            for impl in hook.get_hookimpls():
                report = self._report(impl.plugin_name)
                try:
                    returned: Sequence[Any] = impl.function() or []
                except Exception:
                    report.error = traceback.format_exc()
                    _LOGGER.error(
                        "Plugin %s failed in %s:\n%s", report.name, hook_name, report.error
                    )
                    continue
                for item in returned:
                    self._add_kind(report, kind, base, item, registries[kind])

    def _add_kind(
        self,
        report: PluginReport,
        kind: str,
        base: type,
        item: Any,
        registry: dict[str, Any],
    ) -> None:
        name = getattr(item, "NAME", None)
        if not (isinstance(item, type) and issubclass(item, base)) or not isinstance(name, str):
            problem = f"{kind}: {item!r} is not a {base.__name__} subclass with a NAME"
            report.error = (report.error or "") + problem + "\n"
            _LOGGER.error("Plugin %s: %s", report.name, problem)
            return
        if name in registry:
            owner = registry[name].__module__
            problem = f"{kind}: NAME {name!r} is already provided by {owner}; ignored"
            report.error = (report.error or "") + problem + "\n"
            _LOGGER.error("Plugin %s: %s", report.name, problem)
            return
        registry[name] = item
        report.provides.setdefault(kind, []).append(name)
        if issubclass(item, CameraDriver):
            report.capabilities[name] = capabilities_of(item)
