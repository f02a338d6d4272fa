"""Studies over many runs: strategy comparisons, and Monte-Carlo sweeps of a study file on Dask.

- ``compare``: several strategies on identical inputs (``feedertwin compare``);
- ``load_study`` / ``sweep`` / ``load_sweep``: a study file's runs on a local or existing Dask
  cluster, one Parquet row of KPIs per run, resumable (``feedertwin sweep``; see docs/studies.md);
- the pieces other studies build on: ``apply_params``, ``make_run``, ``run_one`` (``sim.study.runs``)
  and ``dask_client``, ``run_many`` (``sim.study.cluster``);
- ``hosting_capacity``: the largest EV count per strategy within the feeder's limits, by a search
  over the count on Dask (``feedertwin hosting-capacity``; criteria files: ``load_criteria``).
"""

from sim.results.violations import Criteria
from sim.study.cluster import ClusterError, dask_client, run_many
from sim.study.compare import Comparison, compare
from sim.study.dataset import load_sweep
from sim.study.hosting import HostingResult, hosting_capacity
from sim.study.hosting_criteria import load_criteria
from sim.study.runs import RunSpec, apply_params, make_run, run_one
from sim.study.study_file import Study, Variant, is_study_file, load_study
from sim.study.sweep import SweepResult, sweep

__all__ = [
    "ClusterError",
    "Comparison",
    "Criteria",
    "HostingResult",
    "RunSpec",
    "Study",
    "SweepResult",
    "Variant",
    "apply_params",
    "compare",
    "dask_client",
    "hosting_capacity",
    "is_study_file",
    "load_criteria",
    "load_study",
    "load_sweep",
    "make_run",
    "run_many",
    "run_one",
    "sweep",
]
