"""Pure-Python/numpy twin of the setpoint kernels of ``core_ext._sched``: their executable specification.

Both run at every decision of a simulation (about 10,000 times in a simulated month), on per-charger
arrays of the site (``min_a``, ``max_a``, ``step_a`` and the allowed sets as CSR, ``allowed_indptr`` /
``allowed_a``, as in ``ChargerTable``) and per-session arrays:

- ``pilot_currents``: from what each session draws (an allocation kernel's result) to the setpoint
  (pilot) of every charger: a charger cannot offer less than its minimum or a current it does not
  have, so a draw below the minimum, or one that is all the vehicle takes, is offered as the smallest
  allowed current at least that large (the vehicle still draws only what it takes);
- ``check_currents``: is every setpoint 0 or within its charger's [min, max] (and finite)?

Every comparison allows ``TOL`` (1e-9 A). Inputs are checked and a ``ValueError`` names the kernel,
the array, the position and the bad value. Outputs are caller-allocated and overwritten (OUT).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

TOL = 1e-9  # A: floating tolerance of every comparison
STEP_TOL = 1e-9  # a value within this many steps below a multiple of the step counts as that multiple


def _fail(kernel: str, message: str) -> None:
    raise ValueError(f"{kernel}: {message}")


def check_chargers(kernel: str, min_a: F64, max_a: F64, step_a: F64 | None = None,
                   allowed_indptr: I64 | None = None, allowed_a: F64 | None = None) -> None:
    """Per-charger arrays of one length, finite; the allowed sets' CSR pointer rising from 0 to
    ``len(allowed_a)``."""
    m = len(min_a)
    named = {"max_a": max_a, "step_a": step_a, "allowed_indptr": allowed_indptr}
    for name, arr in named.items():
        if arr is not None and len(arr) != m + (name == "allowed_indptr"):
            expected = f"n_chargers + 1 = {m + 1}" if name == "allowed_indptr" else f"{m} (one per charger, like min_a)"
            _fail(kernel, f"{name} has {len(arr)} entries; expected {expected}")
    for name, values in (("min_a", min_a), ("max_a", max_a), ("step_a", step_a), ("allowed_a", allowed_a)):
        if values is not None and not np.all(np.isfinite(values)):
            j = int(np.flatnonzero(~np.isfinite(values))[0])
            _fail(kernel, f"{name}[{j}] = {values[j]} is not a finite current")
    if allowed_indptr is not None and allowed_a is not None and (
        allowed_indptr[0] != 0 or np.any(np.diff(allowed_indptr) < 0) or allowed_indptr[-1] != len(allowed_a)
    ):
        _fail(kernel, f"allowed_indptr must rise from 0 to len(allowed_a) = {len(allowed_a)}")


def pilot_currents(
    draw_a: F64,  # IN  per session: the current it draws (an allocation kernel's result), A
    upper_a: F64,  # IN  per session: the most its vehicle takes now, A
    charger_index: I64,  # IN  per session: its charger (0..n_chargers-1)
    min_a: F64,  # IN  per charger: minimum current, A
    max_a: F64,  # IN  per charger: maximum current, A
    step_a: F64,  # IN  per charger: current step (0: continuous), A
    allowed_indptr: I64,  # IN  per charger: its slice of allowed_a (n_chargers+1); empty: use the step
    allowed_a: F64,  # IN  the chargers' allowed non-zero currents, A
    current_a: F64,  # OUT per charger: setpoint (pilot), A; 0 where no session
) -> None:
    """Setpoint per charger from what its session draws.

    A session's pilot is its draw (0 if the draw is not above ``TOL``). A session drawing something
    that is below its charger's minimum (by more than TOL) or (within TOL) all its vehicle takes is
    offered instead the smallest current its charger can be set to that is at least
    ``max(draw, min)``: the first of its allowed currents >= that - TOL (none: inf), else with a step
    the next multiple ``ceil(x / step - 1e-9) * step``, else the value itself; never above the
    charger's maximum. Chargers without a session get 0; of two sessions on one charger the later wins.
    """
    kernel = "pilot_currents"
    n = len(draw_a)
    if len(upper_a) != n or len(charger_index) != n:
        _fail(kernel, f"upper_a and charger_index have {len(upper_a)} and {len(charger_index)} entries; "
                      f"expected {n} (one per session, like draw_a)")
    check_chargers(kernel, min_a, max_a, step_a, allowed_indptr, allowed_a)
    if len(current_a) != len(min_a):
        _fail(kernel, f"current_a has {len(current_a)} entries; expected {len(min_a)} (one per charger, like min_a)")
    bad = (charger_index < 0) | (charger_index >= len(min_a))
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0])
        _fail(kernel, f"charger_index[{j}] = {charger_index[j]} is not a charger (valid: 0..{len(min_a) - 1})")
    ci = charger_index
    pilot = np.where(draw_a > TOL, draw_a, 0.0)
    raise_ = (pilot > 0.0) & ((pilot < min_a[ci] - TOL) | (pilot >= upper_a - TOL))
    for k in np.flatnonzero(raise_):
        c = int(ci[k])
        wanted = max(float(pilot[k]), float(min_a[c]))
        grid = allowed_a[allowed_indptr[c] : allowed_indptr[c + 1]]
        if len(grid):
            above = grid[grid >= wanted - TOL]
            offer = float(above[0]) if len(above) else np.inf
        elif step_a[c] > 0.0:
            offer = float(np.ceil(wanted / step_a[c] - STEP_TOL) * step_a[c])
        else:
            offer = wanted
        pilot[k] = min(offer, float(max_a[c]))
    current_a[:] = 0.0
    current_a[ci] = pilot


def check_currents(
    current_a: F64,  # IN  per charger: setpoint, A
    min_a: F64,  # IN  per charger: minimum current, A
    max_a: F64,  # IN  per charger: maximum current, A
    out_a: F64,  # OUT per charger: the setpoint clipped to [0, max], A
) -> int:
    """The first charger whose setpoint is neither 0 nor within [min, max] (each within TOL; NaN and
    infinities are neither), or -1 when every one is valid; ``out_a`` gets the setpoints clipped to
    [0, max] (defined only when all are valid). The one kernel that returns a value: the position."""
    kernel = "check_currents"
    check_chargers(kernel, min_a, max_a)
    m = len(min_a)
    if len(current_a) != m or len(out_a) != m:
        _fail(kernel, f"current_a and out_a have {len(current_a)} and {len(out_a)} entries; expected {m} "
                      "(one per charger, like min_a)")
    ok = (current_a >= -TOL) & (current_a <= max_a + TOL) & ((current_a <= TOL) | (current_a >= min_a - TOL))
    out_a[:] = np.minimum(np.maximum(current_a, 0.0), max_a)
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if len(bad) else -1
