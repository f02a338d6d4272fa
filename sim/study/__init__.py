"""Studies over many runs: strategy comparisons now; sweeps and hosting capacity (on Dask) later."""

from sim.study.compare import Comparison, compare

__all__ = ["Comparison", "compare"]
