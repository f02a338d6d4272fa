"""Typed, path-aware access to one table of a scenario file.

Every getter checks presence, type and range and raises ``ScenarioError`` naming the file, the
dotted key path (``chargers[2].max_current_a``), the bad value and what is valid, so the section
builders read like a declaration of the format. Booleans are never accepted as numbers (``bool``
is an ``int`` subclass in Python), and NaN or infinite numbers are rejected everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError

REQUIRED: Any = object()  # sentinel default: the key must be present


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings."""
    prev = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        cur = [i]
        for j, char_b in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (char_a != char_b)))
        prev = cur
    return prev[-1]


def suggestion(word: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest valid word within edit distance 2, else ``""``."""
    best: tuple[int, str] | None = None
    for cand in valid:
        dist = edit_distance(word.lower(), cand.lower())
        if dist <= 2 and dist < len(word) and (best is None or dist < best[0]):
            best = (dist, cand)
    return f" (did you mean '{best[1]}'?)" if best else ""


def one_of(valid: Sequence[str]) -> str:
    return "one of: " + ", ".join(valid)


def type_name(value: Any) -> str:
    """How a TOML value's type is called in messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             dict: "a table", list: "an array"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    return f"a {type(value).__name__}"


def range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool, noun: str) -> str:
    """``a number in (0, 1]``, ``a number >= 0`` ... for the ``expected`` part of an error."""
    if lo is not None and hi is not None:
        return f"{noun} in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{noun} {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{noun} {'<' if hi_open else '<='} {hi:g}"
    return noun


def _outside(x: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (x < lo or (lo_open and x == lo)):
        return True
    return hi is not None and (x > hi or (hi_open and x == hi))


class Table:
    """One TOML table at ``path`` (``""`` for the root) of the scenario file ``file``."""

    def __init__(self, file: str, path: str, data: Mapping[str, Any]) -> None:
        self.file = file
        self.path = path
        self.data = data

    def key(self, name: str | None) -> str:
        if name is None:
            return self.path
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str | None, message: str, *, value: Any = ..., expected: str | None = None
              ) -> ScenarioError:
        return ScenarioError(self.file, self.key(name), message, value=value, expected=expected)

    def has(self, name: str) -> bool:
        return name in self.data

    def check_keys(self, valid: Sequence[str]) -> None:
        """Every key of this table is in ``valid``; else name the first unknown one."""
        for name in self.data:
            if name not in valid:
                level = f"[{self.path}]" if self.path else "the top level"
                raise self.error(name, f"unknown key '{name}'{suggestion(name, valid)}",
                                 expected=f"a key valid in {level}, {one_of(valid)}")

    def get(self, name: str, default: Any = REQUIRED) -> Any:
        if name in self.data:
            return self.data[name]
        if default is REQUIRED:
            raise self.error(name, "missing required key")
        return default

    def table(self, name: str, *, required: bool) -> Table | None:
        """The sub-table ``name`` (``None`` when absent and optional)."""
        if name not in self.data:
            if required:
                raise self.error(name, f"missing required table [{self.key(name)}]")
            return None
        return as_table(self.file, self.key(name), self.data[name])

    def array(self, name: str, *, required: bool) -> list[Any] | None:
        if name not in self.data:
            if required:
                raise self.error(name, "missing required array")
            return None
        value = self.data[name]
        if not isinstance(value, list):
            raise self.error(name, f"must be an array, not {type_name(value)}", value=value,
                             expected="an array")
        return value

    def string(self, name: str, default: Any = REQUIRED, *, choices: Sequence[str] | None = None,
               allow_empty: bool = False) -> str:
        if name not in self.data:
            return self.get(name, default)
        return as_string(self.file, self.key(name), self.data[name], choices, allow_empty=allow_empty)

    def integer(self, name: str, default: Any = REQUIRED, *, lo: int | None = None,
                hi: int | None = None) -> int:
        if name not in self.data:
            return self.get(name, default)
        return as_integer(self.file, self.key(name), self.data[name], lo, hi)

    def number(self, name: str, default: Any = REQUIRED, *, lo: float | None = None,
               hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> float:
        if name not in self.data:
            return float(self.get(name, default))
        return as_number(self.file, self.key(name), self.data[name], lo, hi, lo_open, hi_open)

    def existing_file(self, name: str, base_dir: Path) -> Path:
        """The file named by string key ``name``, resolved against ``base_dir``; it must exist."""
        text = self.string(name)
        resolved = (base_dir / Path(text).expanduser()).resolve()
        if not resolved.is_file():
            what = "is a directory, not a file" if resolved.is_dir() else "file not found"
            raise self.error(name, f"{what}: {resolved}", value=text,
                             expected=f"a path to an existing file, relative to {base_dir}")
        return resolved


def as_table(file: str, key: str, value: Any) -> Table:
    if not isinstance(value, dict):
        raise ScenarioError(file, key, f"must be a table, not {type_name(value)}", value=value,
                            expected="a table" if key.endswith("]") else f"a table [{key}]")
    return Table(file, key, value)


def as_string(file: str, key: str, value: Any, choices: Sequence[str] | None = None, *,
              allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ScenarioError(file, key, f"must be a string, not {type_name(value)}", value=value,
                            expected=one_of(choices) if choices else "a string")
    if choices is not None and value not in choices:
        raise ScenarioError(file, key, f"unknown value{suggestion(value, choices)}", value=value,
                            expected=one_of(choices))
    if not allow_empty and not value.strip():
        raise ScenarioError(file, key, "must not be empty", value=value, expected="a non-empty string")
    return value


def as_integer(file: str, key: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    expected = range_text(lo, hi, False, False, "an integer")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(file, key, f"must be an integer, not {type_name(value)}", value=value,
                            expected=expected)
    if _outside(value, lo, hi, False, False):
        raise ScenarioError(file, key, "out of range", value=value, expected=expected)
    return value


def as_number(file: str, key: str, value: Any, lo: float | None = None, hi: float | None = None,
              lo_open: bool = False, hi_open: bool = False) -> float:
    expected = range_text(lo, hi, lo_open, hi_open, "a number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(file, key, f"must be a number, not {type_name(value)}", value=value,
                            expected=expected)
    if not math.isfinite(value):
        raise ScenarioError(file, key, "must be a finite number", value=value, expected=expected)
    if _outside(value, lo, hi, lo_open, hi_open):
        raise ScenarioError(file, key, "out of range", value=value, expected=expected)
    return float(value)
