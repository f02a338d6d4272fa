"""Unit conversions used across rooms: current per phase <-> power, kW <-> MW.

European low-voltage convention: 230 V line-to-neutral. A charger with ``phases`` phases
drawing ``i_a`` amperes on each phase at unity power factor takes ``phases * v_ln * i_a`` watts.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

V_LN_DEFAULT_V = 230.0


def kw_from_a(i_a: ArrayLike, phases: ArrayLike, v_ln_v: ArrayLike = V_LN_DEFAULT_V) -> NDArray[np.float64]:
    """Active power in kW drawn by ``phases`` phases at ``i_a`` amperes each."""
    p_kw: NDArray[np.float64] = (
        np.asarray(i_a, dtype=float) * np.asarray(phases, dtype=float) * np.asarray(v_ln_v, dtype=float) / 1000.0
    )
    return p_kw


def a_from_kw(p_kw: ArrayLike, phases: ArrayLike, v_ln_v: ArrayLike = V_LN_DEFAULT_V) -> NDArray[np.float64]:
    """Current per phase in A for ``p_kw`` kW spread evenly over ``phases`` phases."""
    i_a: NDArray[np.float64] = (
        np.asarray(p_kw, dtype=float) * 1000.0 / (np.asarray(phases, dtype=float) * np.asarray(v_ln_v, dtype=float))
    )
    return i_a


def mw_from_kw(p_kw: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(p_kw, dtype=float) / 1000.0


def kw_from_mw(p_mw: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(p_mw, dtype=float) * 1000.0


def hours(seconds: float) -> float:
    return seconds / 3600.0
