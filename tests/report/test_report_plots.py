"""Each figure function returns a drawable Figure, also for empty runs and missing distances."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.report import plots
from sim.results import Results
from sim.results.synthetic import synthetic_results


def _draw(fig: Figure) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=40)


@pytest.mark.parametrize(("fig_id", "make"), [(f[0], f[2]) for f in plots.FIGURES])
@pytest.mark.parametrize("kwargs", [{}, {"n_steps": 0, "n_buses": 0, "n_chargers": 0, "n_sessions": 0}])
def test_every_figure_draws(fig_id: str, make: plots.FigureFn, kwargs: dict) -> None:
    fig = make(synthetic_results(np.random.default_rng(4), **{"n_steps": 6, **kwargs}))
    assert isinstance(fig, Figure) and fig.axes, fig_id
    _draw(fig)


def test_bus_plot_uses_distance_then_falls_back_to_order() -> None:
    res = synthetic_results(np.random.default_rng(4), n_steps=4)
    ax = plots.bus_min_voltage_figure(res).axes[0]
    assert "distance" in ax.get_xlabel()
    xs = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections])
    np.testing.assert_allclose(np.sort(xs), [0.0, 0.1, 0.2, 0.3, 0.4])
    unknown = Results(
        res.summary,
        res.timeseries,
        res.sessions,
        res.bus_vm_pu,
        res.line_loading_percent,
        res.buses.assign(distance_km=np.nan),
    )
    ax = plots.bus_min_voltage_figure(unknown).axes[0]
    assert "order" in ax.get_xlabel()


def test_duration_curve_is_sorted_descending_over_percent_of_time() -> None:
    res = synthetic_results(np.random.default_rng(4), n_steps=10)
    ax = plots.trafo_duration_figure(res).axes[0]
    (stairs,) = [p for p in ax.patches]
    values, edges, _ = stairs.get_data()
    assert np.all(np.diff(values) <= 0)
    assert edges[0] == 0.0 and edges[-1] == 100.0 and len(values) == 10
    assert values[0] == pytest.approx(res.timeseries["max_trafo_loading_percent"].max())


def test_voltage_band_shows_the_configured_limits() -> None:
    res = synthetic_results(np.random.default_rng(4), n_steps=4)
    res.summary["vm_band_pu"] = [0.95, 1.05]
    ax = plots.voltage_band_figure(res).axes[0]
    hlines = {round(line.get_ydata()[0], 6) for line in ax.lines if len(set(line.get_ydata())) == 1}
    assert {0.95, 1.05} <= hlines
