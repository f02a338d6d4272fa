"""The synthetic radial network (``sim.grid.synthetic``): the size asked for, radial and connected,
the same for the same seed, solvable at its rated load, and clear errors for bad arguments."""

from __future__ import annotations

import pandapower as pp
import pandapower.topology as top
import pytest

from sim.grid.synthetic import radial_network


def test_size_structure_and_loads() -> None:
    net = radial_network(1200, seed=4, n_stations=5, load_share=0.25)
    assert len(net.bus) == 1200 and len(net.trafo) == 5 and len(net.ext_grid) == 1
    assert len(net.line) + len(net.trafo) == len(net.bus) - 1  # a tree: one branch fewer than buses
    assert len(list(top.connected_components(top.create_nxgraph(net)))) == 1
    n_lv = 1200 - 1 - 2 * 5
    assert len(net.load) == round(0.25 * n_lv) and net.load.bus.is_unique
    assert (net.bus.loc[net.load.bus, "vn_kv"] == 0.4).all()


def test_same_seed_same_net_other_seed_other_net() -> None:
    a, b, c = radial_network(500, seed=1), radial_network(500, seed=1), radial_network(500, seed=2)
    for table in ("bus", "line", "trafo", "load"):
        assert a[table].equals(b[table]), table
    assert not a.line.equals(c.line)


def test_solvable_with_plausible_voltages_at_rated_load() -> None:
    net = radial_network(2000, seed=0)
    pp.runpp(net, numba=False)
    assert 0.94 < net.res_bus.vm_pu.min() and net.res_bus.vm_pu.max() < 1.05
    assert net.res_line.loading_percent.max() < 100.0 and net.res_trafo.loading_percent.max() < 100.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_bus": 10, "n_stations": 4}, r"n_bus=10 is too small for n_stations=4: need at least 13 buses"),
    ({"n_bus": 100, "n_stations": 0}, r"n_stations=0: a network needs at least one substation"),
    ({"n_bus": 100, "load_share": 1.5}, r"load_share=1.5 must be a fraction in \[0, 1\]"),
    ({"n_bus": 100, "load_kw": -2.0}, r"load_kw=-2.0 must be a finite power >= 0 kW"),
])
def test_bad_arguments_are_named(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        radial_network(**kwargs)
