"""A seeded synthetic radial MV/LV network of any size, for scaling studies of the load flow.

``radial_network(n_bus, seed=...)`` builds, from one ``numpy.random.Generator``:

* an MV root bus (20 kV) with the external grid, and an MV cable tree (``NA2XS2Y 1x185 RM/25
  12/20 kV``, 0.3-1.5 km per segment) to ``n_stations`` substations, each attached to a random
  earlier substation or the root;
* at each substation a 630 kVA 20/0.4 kV transformer (tap at -1, +2.5 % on the LV side) feeding an
  LV busbar with four to six cable feeders (``NAYY 4x150 SE``, 15-40 m per segment). A feeder grows
  bus by bus: usually onward from its last bus, sometimes a branch from an earlier bus of the same
  feeder, so it looks like a street with side streets;
* a household load (``load_kw``, power factor 0.95) at a random ``load_share`` of the LV buses.

The same arguments give the same net (bus, line, transformer and load order included). PV and
chargers are added as for any other network (``[grid.pv]`` and the charger placement). To use it in
a scenario, save it as a pandapower JSON file (``pandapower.to_json(radial_network(10_000),
"radial.json")``) and set ``[grid] file = "radial.json"``.
"""

from __future__ import annotations

import numpy as np
import pandapower as pp

MV_KV = 20.0
LV_KV = 0.4
MV_CABLE = "NA2XS2Y 1x185 RM/25 12/20 kV"
LV_CABLE = "NAYY 4x150 SE"
TRAFO = "0.63 MVA 20/0.4 kV"
BUSES_PER_STATION = 250  # the default station count keeps LV feeders of a realistic length


def radial_network(
    n_bus: int = 10_000,
    *,
    seed: int = 0,
    n_stations: int | None = None,
    load_share: float = 0.3,
    load_kw: float = 3.0,
) -> pp.pandapowerNet:
    """A radial network of exactly ``n_bus`` buses (see the module docstring).

    ``n_stations`` defaults to one substation per ``BUSES_PER_STATION`` buses (at least one).
    """
    if n_stations is None:
        n_stations = max(1, round(n_bus / BUSES_PER_STATION))
    if n_stations < 1:
        raise ValueError(f"n_stations={n_stations}: a network needs at least one substation")
    n_lv = n_bus - 1 - 2 * n_stations  # besides the root, each station has an MV bus and an LV busbar
    if n_lv < n_stations:
        raise ValueError(
            f"n_bus={n_bus} is too small for n_stations={n_stations}: need at least {3 * n_stations + 1} buses"
        )
    if not 0.0 <= load_share <= 1.0:
        raise ValueError(f"load_share={load_share} must be a fraction in [0, 1]")
    if not (np.isfinite(load_kw) and load_kw >= 0.0):
        raise ValueError(f"load_kw={load_kw} must be a finite power >= 0 kW")
    rng = np.random.default_rng(seed)
    net = pp.create_empty_network(name=f"synthetic radial, {n_bus} buses, seed {seed}")
    root = pp.create_bus(net, vn_kv=MV_KV, name="mv root")
    pp.create_ext_grid(net, root, vm_pu=1.02)

    mv = pp.create_buses(net, n_stations, vn_kv=MV_KV, name=[f"mv {k}" for k in range(n_stations)])
    mv_parent = np.array([root] + [int(mv[int(rng.integers(0, k))]) for k in range(1, n_stations)])
    pp.create_lines(net, mv_parent, mv, length_km=rng.uniform(0.3, 1.5, n_stations), std_type=MV_CABLE,
                    name=[f"mv cable {k}" for k in range(n_stations)])
    busbar = pp.create_buses(net, n_stations, vn_kv=LV_KV, name=[f"lv busbar {k}" for k in range(n_stations)])
    for k in range(n_stations):
        pp.create_transformer(net, int(mv[k]), int(busbar[k]), std_type=TRAFO, tap_pos=-1, name=f"trafo {k}")

    per_station = np.full(n_stations, n_lv // n_stations)
    per_station[: n_lv % n_stations] += 1
    parents = np.concatenate([_lv_tree(rng, int(busbar[k]), int(per_station[k]), first)
                              for k, first in enumerate(np.cumsum(per_station) - per_station)])
    lv = pp.create_buses(net, n_lv, vn_kv=LV_KV, name=[f"lv {k}" for k in range(n_lv)])
    lv_index = np.asarray(lv, dtype=np.int64)
    from_bus = np.where(parents < 0, -parents - 1, lv_index[np.maximum(parents, 0)])
    pp.create_lines(net, from_bus, lv_index, length_km=rng.uniform(0.015, 0.040, n_lv), std_type=LV_CABLE,
                    name=[f"lv cable {k}" for k in range(n_lv)])

    n_load = int(round(load_share * n_lv))
    load_bus = np.sort(rng.choice(lv_index, size=n_load, replace=False))
    q_kvar = load_kw * np.tan(np.arccos(0.95))
    pp.create_loads(net, load_bus, p_mw=load_kw / 1000.0, q_mvar=q_kvar / 1000.0,
                    name=[f"household {k}" for k in range(n_load)])
    return net


def _lv_tree(rng: np.random.Generator, busbar: int, n: int, first: int) -> np.ndarray:
    """Parents of the ``n`` LV buses ``first .. first + n - 1`` of one station: an LV bus position
    (>= 0) or, for the first bus of each feeder, ``-(busbar + 1)``."""
    n_feeders = min(n, int(rng.integers(4, 7)))
    feeder = np.sort(rng.integers(0, n_feeders, n))
    feeder[:n_feeders] = np.arange(n_feeders)  # every feeder gets at least one bus
    feeder.sort()
    parents = np.empty(n, dtype=np.int64)
    start = 0
    for f in range(n_feeders):
        size = int(np.count_nonzero(feeder == f))
        parents[start] = -(busbar + 1)
        onward = rng.random(size) < 0.8
        for j in range(1, size):
            # onward from the last bus (a street) or a branch from an earlier one (a side street)
            parents[start + j] = first + start + (j - 1 if onward[j] else int(rng.integers(0, j)))
        start += size
    return parents
