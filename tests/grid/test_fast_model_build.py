"""Building the fast model runs pandapower's numba helpers as plain Python, and puts them back.

That the model so built solves like ``runpp`` is what ``test_fast_loadflow`` checks on five feeders."""

from __future__ import annotations

import importlib

import pandapower.auxiliary as auxiliary

from sim.grid.fast_model import _NUMBA_HELPERS, _pandapower_without_numba


def _bound() -> list[object]:
    return [getattr(importlib.import_module(module), name) for module, name, _ in _NUMBA_HELPERS]


def test_helpers_are_python_inside_and_restored_after() -> None:
    compiled = _bound()
    with _pandapower_without_numba():
        assert _bound() == [getattr(auxiliary, python) for _, _, python in _NUMBA_HELPERS]
    assert _bound() == compiled


def test_helpers_are_restored_when_the_build_fails() -> None:
    compiled = _bound()
    try:
        with _pandapower_without_numba():
            raise RuntimeError("pandapower failed")
    except RuntimeError:
        pass
    assert _bound() == compiled

