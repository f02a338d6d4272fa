"""Results of a run: the columnar recorder, KPIs (pure functions) and the Parquet + JSON store.

Imports domain, errors, numpy, pandas and pyarrow only (never the engine, grid or simpy).
"""

from sim.results.metrics import KPI_KEYS, UNBALANCE_KPI_KEYS, compute_kpis
from sim.results.recorder import Recorder
from sim.results.results import Results, load_results

__all__ = ["KPI_KEYS", "UNBALANCE_KPI_KEYS", "Recorder", "Results", "compute_kpis", "load_results"]
