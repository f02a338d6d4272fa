"""Checking strategy parameters: one clear ``StrategyError`` naming the parameter, the value and what is valid.

Every built-in strategy reads its parameters through these helpers so that a bad value in a scenario
file is reported at its key (``strategy.<param>``) with the same wording everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sim.errors import StrategyError

_MISSING = object()


def number(
    strategy: str,
    params: Mapping[str, Any],
    key: str,
    default: float | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    required: bool = False,
) -> float:
    """A finite real number in [minimum, maximum]; ``default`` when absent (unless ``required``)."""
    value = params.get(key, _MISSING)
    if value is _MISSING:
        if required or default is None:
            raise StrategyError(f"strategy '{strategy}': parameter '{key}' is required ({_range(minimum, maximum)})",
                                param=key)
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StrategyError(f"strategy '{strategy}': parameter '{key}' = {value!r} is not a number; "
                            f"expected {_range(minimum, maximum)}", param=key)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise StrategyError(f"strategy '{strategy}': parameter '{key}' = {value!r} is out of range; "
                            f"expected {_range(minimum, maximum)}", param=key)
    return float(value)


def choice(strategy: str, params: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (a string); ``default`` when absent."""
    value = params.get(key, default)
    if not isinstance(value, str) or value not in choices:
        raise StrategyError(f"strategy '{strategy}': parameter '{key}' = {value!r} is not valid; "
                            f"expected one of {', '.join(repr(c) for c in choices)}", param=key)
    return value


def flag(strategy: str, params: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A boolean (TOML ``true``/``false``); ``default`` when absent."""
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise StrategyError(f"strategy '{strategy}': parameter '{key}' = {value!r} is not valid; "
                            "expected true or false", param=key)
    return value


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a number between {minimum:g} and {maximum:g}"
    if minimum is not None:
        return f"a number >= {minimum:g}"
    if maximum is not None:
        return f"a number <= {maximum:g}"
    return "a number"
