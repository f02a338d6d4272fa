"""The compiled scheduling core against its pure-Python twin, measured in one run (issue 3 target:
at least 30x faster at 10,000 sessions).

The site: chargers (about a third three-phase, the rest single-phase on a rotating phase) on feeders
of 20 chargers with a 63 A per-phase limit each, under a site fuse (A per phase) and a transformer
(kVA), both over-subscribed so that rows saturate; every charger has a session with a random upper
(most at 16 or 32 A, some tapering) and a 6 A minimum, in a random order. Run: ``python
benchmarks/bench_core.py`` (``make bench`` runs ``benchmarks/run_all.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from core_ext import _sched_py  # noqa: E402
from sim.domain import Charger, ChargerTable, LimitNode, build_constraints  # noqa: E402

try:
    from core_ext import _sched
except ImportError:  # pragma: no cover
    _sched = None

SIZES = (100, 1_000, 10_000)
FEEDER_SIZE = 20


def site_problem(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(order, upper_a, lower_a, indptr, indices, coef, limit) for ``n`` sessions on the bench site."""
    rng = np.random.default_rng(seed)
    three = rng.random(n) < 0.35
    chargers = tuple(Charger(f"c{i}", bus=0, phases=3 if three[i] else 1,
                             phase="L1L2L3" if three[i] else ("L1", "L2", "L3")[i % 3],
                             max_current_a=32.0 if three[i] else 16.0) for i in range(n))
    table = ChargerTable(chargers)
    n_feeders = -(-n // FEEDER_SIZE)
    nodes = [LimitNode("site", max_current_a=25.0 * n / 3, max_kva=0.69 * 20.0 * n / 3)]
    nodes += [LimitNode(f"f{j}", parent="site", max_current_a=63.0,
                        charger_ids=table.ids[j * FEEDER_SIZE : (j + 1) * FEEDER_SIZE]) for j in range(n_feeders)]
    cons = build_constraints(table, nodes)
    index = np.arange(n, dtype=np.int64)
    indptr, indices, coef = cons.columns(index)
    upper = np.where(rng.random(n) < 0.7, table.max_current_a, rng.uniform(0.2, 1.0, n) * table.max_current_a)
    return (rng.permutation(n).astype(np.int64), np.ascontiguousarray(upper), np.full(n, 6.0), indptr,
            np.ascontiguousarray(indices), np.ascontiguousarray(coef), np.array(cons.limit))


def _median_s(fn: Callable[[], None], budget_s: float, max_repeats: int = 200) -> float:
    """Median time of ``fn`` over as many repeats as fit in about ``budget_s`` (at least 1)."""
    times: list[float] = []
    while len(times) < max_repeats and (not times or sum(times) < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_kernel(name: str, n: int) -> tuple[float, float]:
    """(compiled, twin) seconds per call of kernel ``name`` on ``n`` sessions; results checked equal."""
    problem = site_problem(n)
    out_c, out_p = np.zeros(n), np.zeros(n)
    compiled, twin = getattr(_sched, name), getattr(_sched_py, name)
    compiled(*problem, out_c)  # warm up
    t_c = _median_s(lambda: compiled(*problem, out_c), budget_s=0.5)
    t_p = _median_s(lambda: twin(*problem, out_p), budget_s=2.0, max_repeats=5)
    np.testing.assert_allclose(out_c, out_p, rtol=0.0, atol=1e-9)
    return t_c, t_p


def main() -> None:
    if _sched is None:
        print("core_ext: the compiled module is not built (run `make install`); nothing to compare")
        return
    print("scheduling core: compiled (Cython) vs twin (Python/numpy), time per call, same inputs and results")
    print(f"{'sessions':>9} {'kernel':>18} {'compiled':>12} {'twin':>12} {'speed-up':>9}")
    for n in SIZES:
        for name in ("priority_allocate", "waterfill"):
            t_c, t_p = bench_kernel(name, n)
            print(f"{n:>9,} {name:>18} {t_c * 1e3:>9.3f} ms {t_p * 1e3:>9.1f} ms {t_p / t_c:>8.0f}x")


if __name__ == "__main__":
    main()
