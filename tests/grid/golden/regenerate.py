"""Write the load-flow golden files: one ``<feeder>.json`` per feeder of ``FEEDERS`` (see README.md).

Each file holds the feeder's spec and element ids, its chargers, ``N_STEPS`` seeded random injections
(PV reverse flow in every odd step) and the results of an independent cold pandapower ``runpp``
(default options, ``tolerance_mva=1e-10``) for each step, with the tolerances the tests allow.
Deterministic: running it twice writes identical files. Run from the repository root:

    .venv/bin/python -m tests.grid.golden.regenerate
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandapower

from tests.grid.conftest import (
    FEEDERS,
    LOADING_ATOL_PERCENT,
    POWER_ATOL_KW,
    VM_ATOL_PU,
    _chargers,
    _feeder_maker,
    _feeder_spec,
    _injections,
    _named_feeder,
    _reference,
    _timebase,
)

HERE = Path(__file__).resolve().parent
N_STEPS = 4
N_CHARGERS, CHARGER_SEED = 8, 5  # the chargers of test_fast_loadflow's feeders
INJECTION_SEED = 41
REFERENCE_TOLERANCE_MVA = 1e-10  # pandapower's 1e-12 default is out of reach on an MV grid's MW flows
TOLERANCE = {"vm_pu": VM_ATOL_PU, "loading_percent": LOADING_ATOL_PERCENT, "power_kw": POWER_ATOL_KW}
INJECTIONS = ("load_p_kw", "load_q_kvar", "sgen_p_kw", "charger_p_kw")


def golden_path(name: str) -> Path:
    return HERE / f"{name}.json"


def draw_steps(feeder, table) -> list[dict[str, list[float]]]:
    """The seeded injections of the ``N_STEPS`` steps: odd steps are PV reverse flow (light load,
    PV at 90-100 %, no charging), even steps are load with charging and little PV."""
    rng = np.random.default_rng(INJECTION_SEED)
    steps = []
    for step in range(N_STEPS):
        arrays = _injections(feeder, table, rng, reverse=step % 2 == 1)
        steps.append({key: [float(x) for x in a] for key, a in zip(INJECTIONS, arrays, strict=True)})
    return steps


def reference_results(feeder, table, injections: dict[str, list[float]]) -> dict:
    """One step's results from the independent runpp reference, aligned with the feeder's ids
    (NaN, e.g. an isolated bus, stored as null)."""
    net = _reference(feeder, table.bus, *(injections[k] for k in INJECTIONS), tolerance_mva=REFERENCE_TOLERANCE_MVA)
    if not net.converged:
        raise RuntimeError(f"the reference runpp did not converge on {feeder!r}")

    def column(frame, col, ids):
        return [_number(x) for x in frame[col].reindex(list(ids)).to_numpy(dtype=float)]

    return {
        "vm_pu": column(net.res_bus, "vm_pu", feeder.bus_ids),
        "line_loading_percent": column(net.res_line, "loading_percent", feeder.line_ids),
        "trafo_loading_percent": column(net.res_trafo, "loading_percent", feeder.trafo_ids),
        "p_import_kw": float(net.res_ext_grid["p_mw"].sum() * 1000.0),
        "q_import_kvar": float(net.res_ext_grid["q_mvar"].sum() * 1000.0),
        "losses_kw": float((net.res_line["pl_mw"].sum() + net.res_trafo["pl_mw"].sum()) * 1000.0),
    }


def golden_case(name: str, feeder) -> dict:
    """The whole golden file of feeder ``name`` as a JSON-ready dict."""
    table = _chargers(feeder, N_CHARGERS, seed=CHARGER_SEED)
    steps = draw_steps(feeder, table)
    results = [reference_results(feeder, table, s) for s in steps]
    if min(r["p_import_kw"] for r in results) >= 0.0:
        raise RuntimeError(f"{name}: no step has reverse flow; raise the PV of FEEDERS[{name!r}]")
    return {
        "feeder": {"name": name, **_feeder_spec(name)},
        "generated_with": {"pandapower": pandapower.__version__, "numpy": np.__version__,
                           "script": "tests/grid/golden/regenerate.py"},
        "reference": {"solver": "pandapower.runpp (cold start, default options, numba=False)",
                      "tolerance_mva": REFERENCE_TOLERANCE_MVA},
        "tolerance": {"kind": "absolute (|got - expected| <= value)", **TOLERANCE},
        "elements": {
            "bus_ids": list(feeder.bus_ids),
            "line_ids": list(feeder.line_ids),
            "trafo_ids": list(feeder.trafo_ids),
            "load_ids": list(feeder.load_ids),
            "sgen_ids": list(feeder.sgen_ids),
            "sgen_bus": [int(b) for b in feeder.net.sgen.loc[list(feeder.sgen_ids), "bus"]],
        },
        "chargers": {"n": N_CHARGERS, "seed": CHARGER_SEED, "bus": [int(b) for b in table.bus]},
        "injection_seed": INJECTION_SEED,
        "steps": [{"step": k, "reverse_flow": k % 2 == 1, "injections": s, "expected": r}
                  for k, (s, r) in enumerate(zip(steps, results, strict=True))],
    }


def dumps(case: dict) -> str:
    """JSON with one value per key line but every flat list on one line; floats as ``repr`` (exact)."""
    text = json.dumps(case, indent=1, allow_nan=False)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text) + "\n"


def _number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def main() -> None:
    make_feeder = _feeder_maker(_timebase())
    for name in FEEDERS:
        text = dumps(golden_case(name, _named_feeder(name, make_feeder)))
        golden_path(name).write_text(text)
        print(f"{golden_path(name).name}: {len(text.encode()) / 1000:.0f} kB")


if __name__ == "__main__":
    main()
