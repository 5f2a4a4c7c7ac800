"""The hub's configuration: YAML files in one folder, validated into a :class:`HubConfig`.

``cityhub.yaml`` is the root; ``secrets.yaml`` beside it holds what ``!secret`` names.
:func:`load_config` reads, validates and cross-checks everything, and raises one
:class:`ConfigError` listing every issue (file, line, key path, message) when there is any.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cityhub.api import CameraDriver, Notifier, StorageBackend
from cityhub.config.errors import ConfigError, ConfigIssue
from cityhub.config.loader import CONFIG_FILE, SECRETS_FILE, LoadContext, Unresolved, tree_issues
from cityhub.config.validate import Checker
from cityhub.model import HubConfig

__all__ = ["CONFIG_FILE", "SECRETS_FILE", "ConfigError", "ConfigIssue", "load_config"]


def load_config(
    config_dir: Path,
    *,
    camera_drivers: Mapping[str, type[CameraDriver]],
    storage_backends: Mapping[str, type[StorageBackend]],
    notifiers: Mapping[str, type[Notifier]],
) -> HubConfig:
    """Read and validate the configuration in ``config_dir``; :class:`ConfigError` if wrong."""
    config_dir = Path(config_dir).absolute()
    root_file = config_dir / CONFIG_FILE
    context = LoadContext(config_dir)
    if not root_file.is_file():
        raise ConfigError(
            [
                ConfigIssue(
                    root_file,
                    None,
                    "",
                    f"file not found (the configuration folder {config_dir} needs one)",
                )
            ],
            config_dir,
        )
    root = context.load_file(root_file)
    if isinstance(root, Unresolved):
        raise ConfigError(root.issues, config_dir)
    checker = Checker(
        root,
        root_file,
        config_dir,
        camera_drivers=camera_drivers,
        storage_backends=storage_backends,
        notifiers=notifiers,
    )
    checker.run()
    issues = [*tree_issues(root), *context.issues, *checker.issues]
    if issues:
        raise ConfigError(_in_reading_order(issues, context.files), config_dir)
    return checker.build()


def _in_reading_order(issues: list[ConfigIssue], files: list[Path]) -> list[ConfigIssue]:
    """Issues sorted by file (in the order files were read), then by line and key path."""
    rank = {file: position for position, file in enumerate(files)}

    def key(issue: ConfigIssue) -> tuple[int, int, str]:
        file_rank = rank.get(issue.file, len(rank)) if issue.file is not None else -1
        return (file_rank, issue.line or 0, issue.path)

    return sorted(issues, key=key)
