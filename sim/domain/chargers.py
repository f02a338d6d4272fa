"""Chargers (EVSEs): where they sit, how many phases they load, and their current limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sim.units import V_LN_DEFAULT_V

KINDS = ("home", "work", "public")
PHASES_1 = ("L1", "L2", "L3")


@dataclass(frozen=True)
class Charger:
    """One charge point.

    ``phase`` is the phase a single-phase charger is wired to (``L1``/``L2``/``L3``); a
    three-phase charger has ``phase = "L1L2L3"``. Currents are per phase, in A.
    """

    charger_id: str
    bus: int
    phases: int = 3
    phase: str = "L1L2L3"
    max_current_a: float = 16.0
    min_current_a: float = 6.0
    efficiency: float = 0.95
    kind: str = "home"
    v_ln_v: float = V_LN_DEFAULT_V
    # Discrete currents: a step (e.g. 0.1 A for OCPP 1.6; 0 = continuous), or a finite set of
    # allowed currents (e.g. (8, 16, 24, 32)); 0 A is always allowed.
    current_step_a: float = 0.0
    allowed_current_a: tuple[float, ...] = ()

    @property
    def max_power_kw(self) -> float:
        return self.phases * self.v_ln_v * self.max_current_a / 1000.0


def _frozen(values: NDArray[np.generic]) -> NDArray[np.generic]:
    values.setflags(write=False)
    return values


@dataclass(frozen=True)
class ChargerTable:
    """The chargers of a site as read-only column arrays, in a fixed order (the charger index)."""

    chargers: tuple[Charger, ...]
    ids: tuple[str, ...] = field(init=False)
    bus: NDArray[np.int64] = field(init=False)
    phases: NDArray[np.int64] = field(init=False)
    max_current_a: NDArray[np.float64] = field(init=False)
    min_current_a: NDArray[np.float64] = field(init=False)
    efficiency: NDArray[np.float64] = field(init=False)
    v_ln_v: NDArray[np.float64] = field(init=False)
    current_step_a: NDArray[np.float64] = field(init=False)
    # The finite sets of allowed currents as CSR: charger j's non-zero currents, ascending, are
    # allowed_a[allowed_indptr[j]:allowed_indptr[j + 1]] (empty: a step or continuous).
    allowed_indptr: NDArray[np.int64] = field(init=False)
    allowed_a: NDArray[np.float64] = field(init=False)
    continuous: bool = field(init=False)  # no charger has a step or a finite set (nothing to round)

    def __post_init__(self) -> None:
        cs = self.chargers
        set_ = object.__setattr__
        set_(self, "ids", tuple(c.charger_id for c in cs))
        set_(self, "bus", _frozen(np.array([c.bus for c in cs], dtype=np.int64)))
        set_(self, "phases", _frozen(np.array([c.phases for c in cs], dtype=np.int64)))
        set_(self, "max_current_a", _frozen(np.array([c.max_current_a for c in cs], dtype=float)))
        set_(self, "min_current_a", _frozen(np.array([c.min_current_a for c in cs], dtype=float)))
        set_(self, "efficiency", _frozen(np.array([c.efficiency for c in cs], dtype=float)))
        set_(self, "v_ln_v", _frozen(np.array([c.v_ln_v for c in cs], dtype=float)))
        set_(self, "current_step_a", _frozen(np.array([c.current_step_a for c in cs], dtype=float)))
        sets = [sorted(v for v in c.allowed_current_a if v > 0.0) for c in cs]
        set_(self, "allowed_indptr", _frozen(np.cumsum([0] + [len(v) for v in sets], dtype=np.int64)))
        set_(self, "allowed_a", _frozen(np.array([v for vs in sets for v in vs], dtype=float)))
        set_(self, "continuous", not len(self.allowed_a) and not self.current_step_a.any())
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("charger ids must be unique")

    def __len__(self) -> int:
        return len(self.chargers)

    def index_of(self) -> dict[str, int]:
        return {cid: i for i, cid in enumerate(self.ids)}

    def power_kw(self, current_a: NDArray[np.float64]) -> NDArray[np.float64]:
        """Grid-side power per charger (kW) at the given current per phase."""
        return current_a * self.phases * self.v_ln_v / 1000.0

    def current_a(self, p_kw: NDArray[np.float64]) -> NDArray[np.float64]:
        """Current per phase (A) per charger for a grid-side power (kW)."""
        return p_kw * 1000.0 / (self.phases * self.v_ln_v)
