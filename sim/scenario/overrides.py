"""``--set KEY=VALUE`` overrides of a scenario mapping.

``KEY`` is a dotted path; a number indexes an array (``chargers.0.max_current_a=32``).
``VALUE`` is read as a TOML value (``32``, ``0.5``, ``true``, ``"x"``, ``[1, 2]``,
``2026-01-12T00:00:00+01:00``) and, when it does not parse as one, taken as a plain string
(``2d``, ``uncontrolled``). A path is checked against the scenario's key tree before it is
applied, so a misspelt key fails here, naming the override, instead of later. Missing tables on
the way are created (``battery.model=taper`` works without a ``[battery]`` table); missing array
entries are not (an override cannot invent a charger).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from sim.errors import ScenarioError
from sim.scenario._keys import ANY, KEY_TREE
from sim.scenario._reader import one_of, suggestion, type_name

OVERRIDE_EXPECTED = "KEY=VALUE with a dotted KEY, e.g. simulation.duration=2d or chargers.0.max_current_a=32"


def parse_value(text: str) -> Any:
    """``text`` as a TOML value, or ``text`` itself (stripped) when it is not one."""
    stripped = text.strip()
    try:
        parsed = tomllib.loads(f"v = {stripped}")
    except tomllib.TOMLDecodeError:
        return stripped
    return parsed["v"] if list(parsed) == ["v"] else stripped


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], file: str) -> dict[str, Any]:
    """A deep copy of ``data`` with every override applied in order (later ones win)."""
    if isinstance(overrides, str):
        overrides = [overrides]
    out = copy.deepcopy(data)
    for text in overrides:
        key, sep, value = str(text).partition("=")
        parts = key.strip().split(".")
        if not sep or not all(p.strip() for p in parts):
            raise ScenarioError(file, "", f"bad override {text!r}", value=text, expected=OVERRIDE_EXPECTED)
        _assign(out, [p.strip() for p in parts], parse_value(value), text, file)
    return out


def apply_values(data: dict[str, Any], values: Mapping[str, Any], file: str) -> dict[str, Any]:
    """Like ``apply_overrides``, with values already typed: ``{"chargers.0.count": 12}`` (a study's
    swept keys; a value may be a table, e.g. ``{"strategy": {"name": "edf"}}``)."""
    out = copy.deepcopy(data)
    for key, value in values.items():
        text = f"{key}={value!r}"
        parts = key.strip().split(".")
        if not all(p.strip() for p in parts):
            raise ScenarioError(file, "", f"bad key {key!r}", value=key, expected=OVERRIDE_EXPECTED)
        _assign(out, [p.strip() for p in parts], copy.deepcopy(value), text, file)
    return out


def _assign(root: dict[str, Any], parts: list[str], value: Any, text: str, file: str) -> None:
    node: Any = root
    tree: Any = KEY_TREE
    shown = ""  # the key path walked so far, in error-message form: chargers[0].max_current_a
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                valid = f"an index 0..{len(node) - 1}" if node else f"no index: {shown} has no entries"
                raise ScenarioError(file, f"{shown}[{part}]", f"override {text!r}: no entry {part} in {shown}",
                                    value=part, expected=valid)
            key: Any = int(part)
            shown = f"{shown}[{part}]"
            tree = tree[0] if isinstance(tree, list) else ANY
        else:
            tree = _child_tree(tree, part, shown, text, file)
            key = part
            shown = f"{shown}.{part}" if shown else part
        if last:
            node[key] = value
            return
        if tree is None:
            raise ScenarioError(file, f"{shown}.{parts[depth + 1]}", f"override {text!r}: {shown} is a value, "
                                "not a table", value=text, expected=f"a path that ends at {shown}")
        if isinstance(node, dict) and key not in node:
            node[key] = [] if isinstance(tree, list) else {}
        node = node[key]
        if not isinstance(node, dict | list):
            raise ScenarioError(file, shown, f"override {text!r}: {shown} is {type_name(node)}, not a table",
                                value=text, expected=f"a path that ends at {shown}")


def _child_tree(tree: Any, part: str, shown: str, text: str, file: str) -> Any:
    """The key tree below ``part``; an unknown key is an error that names the override."""
    if tree is ANY:
        return ANY
    if part not in tree:
        where = f"{shown}.{part}" if shown else part
        level = f"[{shown}]" if shown else "the top level"
        raise ScenarioError(file, where, f"override {text!r}: unknown key '{part}'{suggestion(part, list(tree))}",
                            expected=f"a key valid in {level}, {one_of(list(tree))}")
    return tree[part]
