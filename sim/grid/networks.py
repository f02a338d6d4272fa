"""Where a feeder comes from: a named standard network, a SimBench code or a pandapower JSON file.

``NETWORKS`` maps the names a scenario may use (``sim.scenario.schema.NETWORK_NAMES``) to
pandapower's builders. ``load_network`` turns a ``GridSpec`` into a pandapower net (plus the
SimBench absolute profiles for SimBench grids), and reports every problem as a ``ScenarioError``
on the key that caused it.

Every net leaving this module is *balanced*: the simulator runs pandapower's balanced ``runpp``,
which already adds an ``asymmetric_load``'s three phase powers into its bus
(``build_bus._get_symmetric_pq_of_unsymetric_element``: p = p_a + p_b + p_c). We make that
explicit and uniform by replacing every asymmetric load/sgen with a symmetric ``load``/``sgen`` of
the same total p and q (and the same name, scaling and in-service flag) at its bus, so base-load
profiles and the load-flow writer see one kind of load.
"""

from __future__ import annotations

import copy
import functools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
from numpy.typing import NDArray
from pandapower.networks import kerber_networks

from sim.errors import ScenarioError
from sim.grid.network_cache import cached_build
from sim.scenario.schema import NETWORK_NAMES, GridSpec

SIMBENCH_STEP_S = 900.0  # SimBench profiles are given at 15-minute resolution
SIMBENCH_EXAMPLE_CODES = ("1-LV-rural1--0-sw", "1-LV-semiurb4--0-sw", "1-LV-urban6--0-no_sw")
_PHASES = ("a", "b", "c")
_KERBER_DRAWS_LOCK = threading.Lock()  # one Kerber build at a time swaps pandapower's generator


def ieee_european_lv_balanced() -> pp.pandapowerNet:
    """The IEEE European LV test feeder (on-peak snapshot) with its 55 single-phase loads as
    balanced loads of the same total p/q (see the module docstring)."""
    net = pn.ieee_european_lv_asymmetric()
    symmetrize(net)
    return net


def _fixed_draws(builder: Callable[[], pp.pandapowerNet], seed: int = 0) -> Callable[[], pp.pandapowerNet]:
    """Make a Kerber builder reproducible.

    pandapower's Kerber networks pick each branch-out cable type with the *global* ``random``
    module (``kerber_networks._add_lines_with_branched_loads``: "NAYY 4x50" vs "NAYY 4x50 SE",
    "NAYY 4x50" vs "NYY 4x35"), so two builds of one name differ (by ~1e-6 pu here). We draw
    them from a private generator with a fixed seed, so a network name always means the same
    feeder, and leave the global ``random`` untouched. Private, not the global one re-seeded:
    other threads draw from the global generator meanwhile (a Dask worker's event loop does), and
    their draws moved the cable types between worker processes.
    """

    def build() -> pp.pandapowerNet:
        with _KERBER_DRAWS_LOCK:
            shared = kerber_networks.rd  # the module's ``import random as rd``
            kerber_networks.rd = random.Random(seed)
            try:
                return builder()
            finally:
                kerber_networks.rd = shared

    build.__name__ = build.__qualname__ = builder.__name__
    build.__doc__ = builder.__doc__
    return build


NETWORKS: dict[str, Callable[[], pp.pandapowerNet]] = {
    "cigre_lv": pn.create_cigre_network_lv,
    "ieee_european_lv": ieee_european_lv_balanced,
    "kerber_landnetz_kabel_1": _fixed_draws(pn.create_kerber_landnetz_kabel_1),
    "kerber_landnetz_kabel_2": _fixed_draws(pn.create_kerber_landnetz_kabel_2),
    "kerber_landnetz_freileitung_1": _fixed_draws(pn.create_kerber_landnetz_freileitung_1),
    "kerber_landnetz_freileitung_2": _fixed_draws(pn.create_kerber_landnetz_freileitung_2),
    "kerber_dorfnetz": _fixed_draws(pn.create_kerber_dorfnetz),
    "kerber_vorstadtnetz_kabel_1": _fixed_draws(pn.create_kerber_vorstadtnetz_kabel_1),
    "kerber_vorstadtnetz_kabel_2": _fixed_draws(pn.create_kerber_vorstadtnetz_kabel_2),
}


@dataclass(frozen=True)
class SimbenchProfiles:
    """SimBench absolute profiles (MW / Mvar), one row per 15-minute step of the profile year,
    one column per element in ``net.load.index`` / ``net.sgen.index`` order at load time."""

    load_p_mw: NDArray[np.float64]
    load_q_mvar: NDArray[np.float64]
    sgen_p_mw: NDArray[np.float64]
    step_s: float = SIMBENCH_STEP_S

    @property
    def n_steps(self) -> int:
        return int(self.load_p_mw.shape[0])


def symmetrize(net: pp.pandapowerNet) -> None:
    """Replace every asymmetric load and sgen by a balanced one of the same total p/q, in place.

    The new elements keep name, bus, scaling and in-service flag and are appended after the
    existing loads/sgens (in the asymmetric table's order). Their phases are kept for the unbalanced
    load flow (``sim.grid.unbalanced``) in the columns ``phase_a_share``, ``phase_b_share`` and
    ``phase_c_share``: each phase's share of the element's p (of q where p is zero everywhere; 1/3
    each where both are); the balanced load flow ignores them.
    """
    for asym, create_many in (("asymmetric_load", pp.create_loads), ("asymmetric_sgen", pp.create_sgens)):
        table = net[asym] if asym in net else None
        if table is None or table.empty:
            continue
        ids = create_many(
            net,
            table["bus"].to_numpy(dtype=np.int64),
            p_mw=table[[f"p_{ph}_mw" for ph in _PHASES]].to_numpy(dtype=float).sum(axis=1),
            q_mvar=table[[f"q_{ph}_mvar" for ph in _PHASES]].to_numpy(dtype=float).sum(axis=1),
            name=table["name"].tolist(),
            scaling=table["scaling"].to_numpy(dtype=float),
            in_service=table["in_service"].to_numpy(dtype=bool),
        )
        element = net[asym.removeprefix("asymmetric_")]
        for phase, share in zip(_PHASES, _phase_shares(table).T, strict=True):
            element.loc[ids, f"phase_{phase}_share"] = share
        net[asym] = table.iloc[0:0]


def _phase_shares(table) -> NDArray[np.float64]:
    """(n, 3): each asymmetric element's share of its p per phase (of q if p is all zero; else 1/3)."""
    shares = np.full((len(table), 3), 1.0 / 3.0)
    for kind, unit in (("q", "mvar"), ("p", "mw")):  # p last: it wins where it is known
        values = np.abs(table[[f"{kind}_{ph}_{unit}" for ph in _PHASES]].to_numpy(dtype=float))
        total = values.sum(axis=1)
        known = total > 0
        shares[known] = values[known] / total[known, None]
    return shares


def load_network(
    spec: GridSpec, base_dir: Path, *, scenario_file: str = "scenario"
) -> tuple[pp.pandapowerNet, SimbenchProfiles | None]:
    """Build the pandapower net a ``GridSpec`` names; SimBench grids come with their profiles.

    Exactly one of ``spec.network`` / ``spec.simbench`` / ``spec.file`` must be set. The returned
    net is balanced (``symmetrize``) and has exactly one in-service external grid.
    """
    sources = [
        (k, v)
        for k, v in (("network", spec.network), ("simbench", spec.simbench), ("file", spec.file))
        if v is not None
    ]
    if len(sources) != 1:
        raise ScenarioError(
            scenario_file,
            "grid",
            "set exactly one of network, simbench or file",
            value=dict(sources) or None,
            expected="one of grid.network, grid.simbench, grid.file",
        )
    kind, _ = sources[0]
    profiles = None
    if kind == "network":
        net = _named_network(str(spec.network), scenario_file)
    elif kind == "simbench":
        net, profiles = _simbench_network(str(spec.simbench), scenario_file)
    else:
        net = _json_network(Path(base_dir) / Path(str(spec.file)), scenario_file)
    symmetrize(net)
    _check_single_ext_grid(net, f"grid.{kind}", scenario_file)
    return net, profiles


def _named_network(name: str, scenario_file: str) -> pp.pandapowerNet:
    builder = NETWORKS.get(name)
    if builder is None:
        raise ScenarioError(
            scenario_file,
            "grid.network",
            "unknown network name",
            value=name,
            expected="one of " + ", ".join(NETWORK_NAMES),
        )
    return copy.deepcopy(_built(name, builder))


@functools.lru_cache(maxsize=8)
def _built(name: str, builder: Callable[[], pp.pandapowerNet]) -> pp.pandapowerNet:
    """Each named network is built once per machine (``network_cache``: ~1 s for the IEEE feeder
    from pandapower's JSON, 30 ms from the cache), read once per process, and handed out as a deep
    copy (~20 ms): comparisons, sweeps and tests build the same feeder often. Nobody holds the
    cached object itself, so it never changes."""
    return cached_build(name, builder)


def _simbench_network(code: str, scenario_file: str) -> tuple[pp.pandapowerNet, SimbenchProfiles]:
    """Load a SimBench grid and its absolute profiles; a code SimBench does not know is an error
    (``get_simbench_net`` alone accepts some invalid codes and returns an empty net)."""
    import simbench as sb  # heavy import (2 s): only when a SimBench grid is asked for

    if code not in set(sb.collect_all_simbench_codes()):
        raise ScenarioError(
            scenario_file,
            "grid.simbench",
            "not a SimBench code",
            value=code,
            expected="a code like "
            + ", ".join(SIMBENCH_EXAMPLE_CODES)
            + " (see simbench.collect_all_simbench_codes())",
        )
    sb_log = logging.getLogger("simbench")
    level = sb_log.level
    sb_log.setLevel(logging.ERROR)
    try:
        net = sb.get_simbench_net(code)
        absolute = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    except Exception as exc:  # simbench raises bare ValueError/KeyError on bad data
        raise ScenarioError(
            scenario_file, "grid.simbench", f"SimBench could not build this grid ({exc})", value=code
        ) from None
    finally:
        sb_log.setLevel(level)
    return net, _simbench_profiles(net, absolute)


def _simbench_profiles(net: pp.pandapowerNet, absolute: dict) -> SimbenchProfiles:
    """Align SimBench's absolute-value frames with the net's load/sgen order (missing -> 0)."""
    n_steps = max(len(absolute.get(key, ())) for key in (("load", "p_mw"), ("sgen", "p_mw")))

    def table(key: tuple[str, str], index) -> NDArray[np.float64]:
        frame = absolute.get(key)
        if frame is None or len(frame) != n_steps:
            return np.zeros((n_steps, len(index)))
        return np.nan_to_num(frame.reindex(columns=index).to_numpy(dtype=float))

    return SimbenchProfiles(
        load_p_mw=table(("load", "p_mw"), net.load.index),
        load_q_mvar=table(("load", "q_mvar"), net.load.index),
        sgen_p_mw=table(("sgen", "p_mw"), net.sgen.index),
    )


def _json_network(path: Path, scenario_file: str) -> pp.pandapowerNet:
    if not path.is_file():
        raise ScenarioError(
            scenario_file,
            "grid.file",
            "no such file",
            value=str(path),
            expected="a pandapower JSON file (pandapower.to_json), relative to the scenario",
        )
    try:
        net = pp.from_json(str(path))
    except Exception as exc:
        raise ScenarioError(
            scenario_file,
            "grid.file",
            f"not a readable pandapower JSON network ({exc})",
            value=str(path),
            expected="a file written by pandapower.to_json",
        ) from None
    if not isinstance(net, pp.pandapowerNet) or "bus" not in net or net.bus.empty:
        raise ScenarioError(
            scenario_file,
            "grid.file",
            "the file holds no pandapower network with buses",
            value=str(path),
            expected="a file written by pandapower.to_json",
        )
    return net


def _check_single_ext_grid(net: pp.pandapowerNet, key: str, scenario_file: str) -> None:
    """The feeder is supplied from exactly one upstream point: p_import_kw is that point's power."""
    in_service = net.ext_grid[net.ext_grid["in_service"].astype(bool)] if len(net.ext_grid) else net.ext_grid
    if len(in_service) != 1:
        raise ScenarioError(
            scenario_file,
            key,
            f"the network has {len(in_service)} in-service external grids; a feeder is supplied "
            "through exactly one (the slack at the MV/LV substation)",
            value=[int(b) for b in in_service["bus"]] if len(in_service) else [],
            expected="a network with exactly one ext_grid",
        )
