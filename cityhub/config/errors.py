"""Configuration problems as the administrator reads them: file, line, key path, message."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs


def display_path(file: Path, base: Path | None) -> str:
    """``file`` relative to ``base`` when it lies inside it, else as given."""
    if base is not None:
        try:
            return file.relative_to(base.absolute()).as_posix()
        except ValueError:
            pass
    return str(file)


@attrs.frozen
class ConfigIssue:
    """One problem in the configuration, placed at the file and line that cause it.

    ``path`` is the dotted key path (``cameras[2].retention_days``), empty for problems of a
    whole file (a YAML syntax error, a missing file).
    """

    file: Path | None
    line: int | None
    path: str
    message: str

    def format(self, base: Path | None = None) -> str:
        """``file:line: path: message``, the file shown relative to ``base`` when inside it."""
        parts = []
        if self.file is not None:
            where = display_path(self.file, base)
            if self.line is not None:
                where = f"{where}:{self.line}"
            parts.append(where)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class ConfigError(Exception):
    """The configuration cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ConfigIssue], config_dir: Path | None = None) -> None:
        self.issues = list(issues)
        self.config_dir = config_dir
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(issue.format(self.config_dir) for issue in self.issues)
