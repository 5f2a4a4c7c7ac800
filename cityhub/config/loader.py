"""Read the YAML configuration, keeping the file and line of every key and list item.

``cityhub.yaml`` is the root; ``secrets.yaml`` beside it holds the values ``!secret NAME``
names; ``!include FILE`` reads another file (relative to the including one) and
``!env_var NAME [default]`` an environment variable. Mappings and lists come back as
:class:`NodeDict` and :class:`NodeList`, which remember where each key and item was written,
so a problem found later (by a schema, by a cross check) is reported at its line.

Loading never raises for a problem in the files: a value that cannot be read (an unknown
secret, a missing include, a file with a syntax error) is replaced by an :class:`Unresolved`
that carries its issues, and :func:`tree_issues` collects them with their key paths.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from cityhub.config.errors import ConfigIssue, display_path
from cityhub.redact import add_secret

CONFIG_FILE = "cityhub.yaml"
SECRETS_FILE = "secrets.yaml"

_MERGE_TAG = "tag:yaml.org,2002:merge"


@attrs.frozen
class Mark:
    """Where a node was written: a file and a 1-based line (``None`` for a whole file)."""

    file: Path
    line: int | None


def _mark(file: Path, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1)


class NodeDict(dict[Any, Any]):
    """A mapping read from YAML: knows where it starts and where each of its keys is written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mark: Mark | None = None
        self.key_marks: dict[Any, Mark] = {}
        self.duplicates: list[tuple[Any, Mark, Mark]] = []
        """``(key, where repeated, where first written)`` for each key given twice."""


class NodeList(list[Any]):
    """A list read from YAML: knows where it starts and where each item is written."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.mark: Mark | None = None
        self.item_marks: list[Mark] = []


@attrs.frozen(eq=False)
class Unresolved:
    """Stands in for a value that could not be read; ``issues`` say why (their path is filled
    in by :func:`tree_issues`). Schemas and cross checks stay silent about such values."""

    issues: tuple[ConfigIssue, ...] = ()


def _issue(mark: Mark, message: str) -> Unresolved:
    return Unresolved((ConfigIssue(mark.file, mark.line, "", message),))


def suggest(word: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` when one of ``choices`` is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class _SecretsState:
    """What ``secrets.yaml`` held: its names and values, or why there are none."""

    def __init__(self, values: dict[str, Any] | None, broken: bool) -> None:
        self.values = values
        self.broken = broken


class LoadContext:
    """State shared by every file of one configuration: secrets, issues, files read."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.secrets_path = config_dir / SECRETS_FILE
        self.issues: list[ConfigIssue] = []
        self.files: list[Path] = []
        self._secrets: _SecretsState | None = None

    def load_file(self, path: Path, stack: tuple[Path, ...] = ()) -> Any:
        """The YAML value of ``path``, or an :class:`Unresolved` for an unreadable file."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Unresolved((ConfigIssue(path, None, "", "file not found"),))
        except (OSError, UnicodeDecodeError) as err:
            return Unresolved((ConfigIssue(path, None, "", f"cannot read the file ({err})"),))
        if path not in self.files:
            self.files.append(path)
        loader = _Loader(text, self, path, (*stack, path.resolve()))
        try:
            return loader.get_single_data()
        except yaml.MarkedYAMLError as err:
            return Unresolved((_syntax_issue(path, err),))
        except yaml.YAMLError as err:
            return Unresolved((ConfigIssue(path, None, "", f"invalid YAML: {err}"),))
        finally:
            loader.dispose()

    def include(self, name: str, mark: Mark, stack: tuple[Path, ...]) -> Any:
        """The value of the file ``name`` (relative to ``mark.file``) that ``!include`` names."""
        target = Path(os.path.normpath(mark.file.parent / name))
        if target.resolve() in stack:
            chain = [p for p in stack[stack.index(target.resolve()) :]] + [target.resolve()]
            shown = " -> ".join(display_path(p, self.config_dir) for p in chain)
            return _issue(mark, f"!include {name}: include cycle ({shown})")
        if not target.is_file():
            return _issue(
                mark, f"!include {name}: file not found ({display_path(target, self.config_dir)})"
            )
        return self.load_file(target, stack)

    def secret(self, name: str, mark: Mark) -> Any:
        """The value ``!secret name`` stands for, looked up in ``secrets.yaml``."""
        state = self._load_secrets()
        if state.broken:
            return Unresolved()
        if state.values is None:
            return _issue(
                mark,
                f"!secret {name}: there is no {SECRETS_FILE} beside {CONFIG_FILE} "
                f"(create it with the line '{name}: ...')",
            )
        if name not in state.values:
            names = sorted(state.values)
            listed = ", ".join(names) if names else "none"
            return _issue(
                mark,
                f"!secret {name}: '{name}' is not defined in {SECRETS_FILE} "
                f"(defined: {listed}{suggest(name, names)})",
            )
        value = state.values[name]
        if _contains_unresolved(value):
            return Unresolved()
        return value

    def _load_secrets(self) -> _SecretsState:
        if self._secrets is not None:
            return self._secrets
        if not self.secrets_path.is_file():
            self._secrets = _SecretsState(None, broken=False)
            return self._secrets
        value = self.load_file(self.secrets_path)
        if isinstance(value, Unresolved):
            self.issues.extend(value.issues)
            self._secrets = _SecretsState(None, broken=True)
        elif value is None:
            self._secrets = _SecretsState({}, broken=False)
        elif not isinstance(value, NodeDict):
            self.issues.append(
                ConfigIssue(
                    self.secrets_path, 1, "", "expected a mapping of secret names to values"
                )
            )
            self._secrets = _SecretsState(None, broken=True)
        else:
            self.issues.extend(tree_issues(value))
            for secret in _scalars(value):
                add_secret(secret)
            self._secrets = _SecretsState({str(k): v for k, v in value.items()}, broken=False)
        return self._secrets


def _syntax_issue(path: Path, err: yaml.MarkedYAMLError) -> ConfigIssue:
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = err.problem or err.context or "cannot be parsed"
    message = f"invalid YAML: {problem}"
    if err.problem and err.context and err.context_mark is not None:
        message += f" ({err.context} at line {err.context_mark.line + 1})"
    return ConfigIssue(path, line, "", message)


def _scalars(value: Any) -> Iterator[str]:
    """Every text or number inside ``value``, as text."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _contains_unresolved(value: Any) -> bool:
    if isinstance(value, Unresolved):
        return True
    if isinstance(value, dict):
        return any(_contains_unresolved(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_unresolved(v) for v in value)
    return False


class _Loader(yaml.SafeLoader):
    """A safe loader for one file that records marks and resolves the cityhub tags."""

    def __init__(
        self, text: str, context: LoadContext, file: Path, stack: tuple[Path, ...]
    ) -> None:
        super().__init__(text)
        self.context = context
        self.file = file
        self.stack = stack

    def construct_node_mapping(self, node: yaml.Node) -> NodeDict:
        """A :class:`NodeDict`; keys written twice are recorded (merged ``<<`` keys aside)."""
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {type(node).__name__}", node.start_mark
            )
        own_keys = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
        self.flatten_mapping(node)
        result = NodeDict()
        result.mark = _mark(self.file, node)
        first_seen: dict[Any, Mark] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    "a key must be a simple value, not a list or mapping",
                    key_node.start_mark,
                )
            key_mark = _mark(self.file, key_node)
            if id(key_node) in own_keys:
                if key in first_seen:
                    result.duplicates.append((key, key_mark, first_seen[key]))
                else:
                    first_seen[key] = key_mark
            result[key] = self.construct_object(value_node, deep=True)
            result.key_marks[key] = key_mark
        return result

    def construct_node_sequence(self, node: yaml.Node) -> NodeList:
        """A :class:`NodeList` with the line of each item."""
        if not isinstance(node, yaml.SequenceNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a sequence, found {type(node).__name__}", node.start_mark
            )
        result = NodeList()
        result.mark = _mark(self.file, node)
        for child in node.value:
            result.append(self.construct_object(child, deep=True))
            result.item_marks.append(_mark(self.file, child))
        return result

    def _tag_argument(self, tag: str, node: yaml.Node) -> str | Unresolved:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            return _issue(_mark(self.file, node), f"{tag} needs a name after it")
        return str(node.value).strip()

    def construct_include(self, node: yaml.Node) -> Any:
        """``!include FILE``: the value of another YAML file."""
        name = self._tag_argument("!include", node)
        if isinstance(name, Unresolved):
            return name
        return self.context.include(name, _mark(self.file, node), self.stack)

    def construct_secret(self, node: yaml.Node) -> Any:
        """``!secret NAME``: a value from ``secrets.yaml``."""
        name = self._tag_argument("!secret", node)
        if isinstance(name, Unresolved):
            return name
        mark = _mark(self.file, node)
        if self.file == self.context.secrets_path:
            return _issue(mark, f"!secret {name}: {SECRETS_FILE} cannot use !secret itself")
        return self.context.secret(name, mark)

    def construct_env_var(self, node: yaml.Node) -> Any:
        """``!env_var NAME [default]``: an environment variable, or the default given."""
        argument = self._tag_argument("!env_var", node)
        if isinstance(argument, Unresolved):
            return argument
        name, _, default = argument.partition(" ")
        default = default.strip()
        if name in os.environ:
            return os.environ[name]
        if default:
            return default
        return _issue(
            _mark(self.file, node),
            f"!env_var {name}: the environment variable {name} is not set "
            f"(set it, or give a default: !env_var {name} VALUE)",
        )


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_node_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_node_sequence)
_Loader.add_constructor("!include", _Loader.construct_include)
_Loader.add_constructor("!secret", _Loader.construct_secret)
_Loader.add_constructor("!env_var", _Loader.construct_env_var)


def format_path(path: Sequence[Hashable]) -> str:
    """``["cameras", 2, "retention_days"]`` -> ``"cameras[2].retention_days"``."""
    text = ""
    for element in path:
        if isinstance(element, int) and not isinstance(element, bool):
            text += f"[{element}]"
        else:
            text += f".{element}" if text else str(element)
    return text


def tree_issues(root: Any, prefix: Sequence[Hashable] = ()) -> list[ConfigIssue]:
    """Issues hidden in a loaded tree: unresolved values and keys written twice."""
    found: list[ConfigIssue] = []
    seen: set[int] = set()

    def walk(value: Any, path: tuple[Hashable, ...]) -> None:
        if id(value) in seen:
            return
        if isinstance(value, Unresolved):
            seen.add(id(value))
            found.extend(attrs.evolve(i, path=format_path(path)) for i in value.issues)
        elif isinstance(value, NodeDict):
            seen.add(id(value))
            for key, where, first in value.duplicates:
                found.append(
                    ConfigIssue(
                        where.file,
                        where.line,
                        format_path((*path, key)),
                        f"key '{key}' is written twice in the same mapping "
                        f"(first at line {first.line}); keep one",
                    )
                )
            for key, item in value.items():
                walk(item, (*path, key))
        elif isinstance(value, NodeList):
            seen.add(id(value))
            for index, item in enumerate(value):
                walk(item, (*path, index))

    walk(root, tuple(prefix))
    return found


@attrs.frozen
class Location:
    """Where a key path points in a loaded tree."""

    mark: Mark
    value: Any
    exists: bool
    unresolved: bool


def locate(root: Any, root_mark: Mark, path: Sequence[Hashable]) -> Location:
    """The deepest node of ``path`` that exists in ``root``, with its mark.

    The mark is where the last existing key or item of the path is written, or, when the
    path stops short (a missing key) in a mapping or list that another file holds (an
    ``!include``), where that mapping or list starts in its own file.
    """
    mark = root_mark
    value = root
    unresolved = isinstance(root, Unresolved)
    for element in path:
        if isinstance(value, NodeDict) and _has_key(value, element):
            mark = value.key_marks.get(element, mark)
            value = value[element]
        elif isinstance(value, NodeList) and isinstance(element, int) and 0 <= element < len(value):
            mark = value.item_marks[element]
            value = value[element]
        else:
            if (
                isinstance(value, NodeDict | NodeList)
                and value.mark is not None
                and value.mark.file != mark.file
            ):
                mark = value.mark
            return Location(mark, value, exists=False, unresolved=unresolved)
        unresolved = unresolved or isinstance(value, Unresolved)
    return Location(mark, value, exists=True, unresolved=unresolved)


def _has_key(mapping: NodeDict, key: Hashable) -> bool:
    try:
        return key in mapping
    except TypeError:
        return False
