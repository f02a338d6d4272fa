"""One exception family for everything a user can get wrong or a solver can fail at.

Every error carries the context a user needs to fix the cause: the file, the key path
(or row and column), the offending value and what would have been valid. The CLI prints
``str(error)`` and exits with status 2; it never shows a traceback for these.
"""

from __future__ import annotations

from typing import Any


class FeedertwinError(Exception):
    """Base class of every error feedertwin raises on purpose."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _LocatedError(FeedertwinError):
    """An error at a place in a file: ``FILE: PLACE: message; got VALUE; expected WHAT``."""

    def __init__(self, file: str, place: str, message: str, *, value: Any = ..., expected: str | None = None) -> None:
        self.file = str(file)
        self.value = value
        self.expected = expected
        parts = [f"{self.file}: {place}: {message}" if place else f"{self.file}: {message}"]
        if value is not ...:
            parts.append(f"got {_show(value)}")
        if expected:
            parts.append(f"expected {expected}")
        super().__init__("; ".join(parts))


class ScenarioError(_LocatedError):
    """A scenario (or study / site) file is malformed.

    ``key`` is the dotted TOML path, e.g. ``chargers[2].max_current_a``.
    """

    def __init__(self, file: str, key: str, message: str, *, value: Any = ..., expected: str | None = None) -> None:
        self.key = key
        super().__init__(file, key, message, value=value, expected=expected)


class DataError(_LocatedError):
    """A data file (sessions CSV, ACN-Data JSON, profile) has a bad row or column.

    ``where`` locates the problem, e.g. ``row 12, column 'arrival'`` or ``record 3, field 'kWhDelivered'``.
    """

    def __init__(self, file: str, where: str, message: str, *, value: Any = ..., expected: str | None = None) -> None:
        self.where = where
        super().__init__(file, where, message, value=value, expected=expected)


class LoadFlowError(FeedertwinError):
    """The AC load flow failed at a time step; names the step and the injections that caused it."""

    def __init__(self, step: int, time_s: float, detail: str, state: str = "", when: str = "") -> None:
        self.step = step
        self.time_s = time_s
        self.detail = detail
        self.state = state
        self.when = when
        at = f"t = {time_s:g} s, {when}" if when else f"t = {time_s:g} s"
        msg = f"load flow failed at step {step} ({at}): {detail}"
        if state:
            msg += f"; state: {state}"
        super().__init__(msg)


class StrategyError(FeedertwinError):
    """A strategy is unknown, got bad parameters, or returned invalid setpoints.

    ``param`` names the offending parameter (so the engine can report it at its key,
    ``strategy.<param>``, in the scenario file).
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class ResultsError(FeedertwinError):
    """A results directory is missing files or has files of the wrong shape."""


class OcppError(FeedertwinError):
    """An OCPP peer answered with a CALLERROR or broke the protocol."""
