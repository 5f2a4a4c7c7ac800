"""Turn voluptuous errors (ours and those of plugin schemas) into plain sentences."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import voluptuous as vol

from cityhub.config.loader import suggest
from cityhub.config.schema import Problem, describe

_EXTRA_KEYS = "extra keys not allowed"


def path_key(element: Any) -> Hashable:
    """A voluptuous path element as the key written in YAML (markers give their key)."""
    if isinstance(element, vol.Marker):
        key: Hashable = element.schema
        return key
    hashable: Hashable = element
    return hashable


def allowed_keys(schema: Any, path: Sequence[Hashable]) -> list[str] | None:
    """The keys the mapping at ``path`` may hold under ``schema``, when that can be told."""
    node = _unwrap(schema)
    for element in path:
        if isinstance(node, dict):
            for key, value in node.items():
                if path_key(key) == element:
                    node = _unwrap(value)
                    break
            else:
                return None
        elif isinstance(node, list) and len(node) == 1 and isinstance(element, int):
            node = _unwrap(node[0])
        else:
            return None
    if not isinstance(node, dict):
        return None
    return [str(path_key(key)) for key in node if isinstance(path_key(key), str)]


def _unwrap(node: Any) -> Any:
    while True:
        if isinstance(node, vol.Schema):
            node = node.schema
        elif isinstance(node, vol.All):
            shapes = [v for v in node.validators if isinstance(v, dict | list | vol.Schema)]
            if not shapes:
                return node
            node = shapes[0]
        else:
            return node


def is_unknown_key(error: vol.Invalid) -> bool:
    """Whether ``error`` is voluptuous refusing a key its schema does not know."""
    return error.msg == _EXTRA_KEYS and bool(error.path)


def humanize(error: vol.Invalid, value: Any, found: bool, keys: Sequence[str] | None) -> str:
    """The message for ``error``; ``value`` is what the YAML holds at its path, if ``found``."""
    if isinstance(error, Problem):
        return error.msg
    key = path_key(error.path[-1]) if error.path else None
    if isinstance(error, vol.RequiredFieldInvalid) and key is not None:
        return f"required key '{key}' is missing"
    if is_unknown_key(error):
        return _unknown_key(str(key), keys)
    if isinstance(error, vol.DictInvalid) or error.msg == "expected a dictionary":
        return f"expected a mapping of keys to values (got {describe(value)})"
    if isinstance(error, vol.SequenceTypeInvalid):
        return f"expected a list (got {describe(value)})"
    message = error.msg
    if found:
        return f"{message} (got {describe(value)})"
    return message


def _unknown_key(key: str, keys: Sequence[str] | None) -> str:
    if not keys:
        return f"unknown key '{key}'"
    return f"unknown key '{key}' (allowed: {', '.join(keys)}{suggest(key, keys)})"
