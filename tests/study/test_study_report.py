"""``feedertwin report DIR`` / ``sim.write_dir_report``: the self-contained HTML report of a study.

One small sweep (2 base-load scales that converge and one that does not x 2 strategies x 2 seeds of
six hours of the small test feeder) runs once; the tests render it through the Python API and the
CLI. The study's name holds a ``<script>`` tag, to check that every text of the page is escaped.
Other shapes of sweep (sampled, strategies only, nothing finished) are written by hand; a run
directory and a hosting-capacity directory get their own reports.
"""

from __future__ import annotations

import base64
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.report.sections import Section
from sim.results.synthetic import synthetic_results

if TYPE_CHECKING:
    from distributed import Client

DATA = Path(__file__).resolve().parent / "data"
BASE = DATA / "small.toml"
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL_NAME = 'report <script>alert("x")</script>'


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A one-thread Dask worker inside this process: the reports read only the output directories,
    and these few short runs take seconds where starting worker processes takes longer."""
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def sweep_dir(client: Client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output directory of a 12-run sweep with 4 failed runs (base load x 400: no load flow)."""
    folder = tmp_path_factory.mktemp("report")
    study = folder / "study.toml"
    study.write_text(f'[study]\nname = {EVIL_NAME!r}\nbase = "{BASE.as_posix()}"\nseeds = 2\n\n'
                     '[grid]\n"simulation.duration" = ["6h"]\n'
                     '"grid.base_load.scale" = [1.0, 2.0, 400.0]   # 400: the load flow fails\n'
                     'strategy = [{ name = "uncontrolled" }, { name = "edf" }]\n', encoding="utf-8")
    result = sim.sweep(study, out=folder / "sweep", client=client, progress=False)
    assert (result.n_done, result.n_failed) == (12, 4)
    return folder / "sweep"


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(uri) for uri in DATA_URI.findall(text)]


def test_sweep_report_has_tables_figures_and_files(sweep_dir: Path) -> None:
    path = sim.write_dir_report(sweep_dir)
    assert path == sweep_dir / "report.html"
    text = path.read_text(encoding="utf-8")

    # self-contained: every image a PNG data URI, nothing fetched from elsewhere, no script
    images = _images(text)
    assert len(images) == 1 and all(img.startswith(PNG_MAGIC) for img in images)  # one numeric key swept
    assert 'src="http' not in text and 'href="http' not in text
    assert not re.search(r'(src|href)="(?!data:|#)', text)
    assert "<script" not in text

    # the facts and the swept keys
    assert '<table class="facts">' in text
    assert "<tr><td>runs ok</td><td>8</td></tr>" in text and "<tr><td>runs failed</td><td>4</td></tr>" in text
    assert "<td>simulation.duration</td><td>6h</td><td>no (fixed)</td>" in text
    assert "<td>grid.base_load.scale</td><td>1, 2, 400</td><td>yes</td>" in text
    # the overview table and one KPI table per variant (each KPI with unit, mean, P10/P50/P90)
    assert "<caption>Median (P50) over the seeds of each variant</caption>" in text
    # (4 variants with successful runs: the 2 whose runs all failed have none)
    assert text.count("<tr><th>KPI</th><th>unit</th><th>mean</th><th>P10</th><th>P50</th><th>P90</th></tr>") == 4
    assert "<caption>Variant 3: grid.base_load.scale=2, strategy=edf (2 runs ok)</caption>" in text
    assert "Variant 5:" not in text
    assert "<th>Lowest bus voltage</th><td>p.u.</td>" in text

    # the failed runs with their errors, the study file and the base scenario verbatim (escaped)
    assert text.count("LoadFlowError: load flow failed at step 0") == 4
    study_text = (sweep_dir / "study.toml").read_text(encoding="utf-8")
    assert "<script>" in study_text and f"<pre>{_escaped(study_text)}</pre>" in text
    assert f"<pre>{_escaped(BASE.read_text(encoding='utf-8'))}</pre>" in text
    assert "<th>pandapower</th>" in text and "<th>distributed</th>" in text

    # the name is shown, escaped
    assert "<title>feedertwin sweep report: report &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</title>" in text


def _escaped(text: str) -> str:
    import html

    return html.escape(text)


def test_sweep_report_numbers_match_the_dataset(sweep_dir: Path) -> None:
    from sim.report.sweep_sections import MAIN_KPIS, sections

    table = sim.load_sweep(sweep_dir)
    ok = table[table["status"] == "ok"]
    overview = dict(sections(sweep_dir)[1].tables)["Median (P50) over the seeds of each variant"]
    expected = ok.groupby("variant")[list(MAIN_KPIS)].median()
    pd.testing.assert_frame_equal(overview.loc[expected.index, list(MAIN_KPIS)], expected)
    assert list(overview["runs ok"]) == [2, 2, 2, 2, 0, 0] and list(overview["runs failed"]) == [0, 0, 0, 0, 2, 2]
    assert overview.loc[4, MAIN_KPIS[0]] != overview.loc[4, MAIN_KPIS[0]]  # NaN: no run of variant 4 finished


def test_cli_report_writes_where_asked(sweep_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "handed-on" / "sweep.html"
    assert main(["report", str(sweep_dir), "--out", str(target)]) == 0
    assert f"report:  {target.resolve()}" in capsys.readouterr().out
    text = target.read_text(encoding="utf-8")
    assert "Failed runs and their errors" in text and len(_images(text)) == 1


def test_report_of_a_run_directory_is_the_run_report(tmp_path: Path) -> None:
    out = synthetic_results(np.random.default_rng(3), n_steps=8).save(tmp_path / "run")
    text = sim.write_dir_report(out, tmp_path / "run.html").read_text(encoding="utf-8")
    assert "<title>feedertwin report: synthetic" in text and '<table class="kpis">' in text


def test_a_directory_that_is_no_output_gets_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"feedertwin: error: {tmp_path}: holds no hosting.json, sweep.json or summary.json")
    assert "got ['notes.txt']" in err and "a sweep (sweep.json and kpis/" in err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert f"{tmp_path / 'missing'}: no such directory" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_hosting_directory_uses_the_hosting_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The dispatch alone, with a stand-in for sim.report.hosting (its own tests render real studies).
    (tmp_path / "hosting.json").write_text('{"study": "hosting-capacity", "scenario": "feeder <b>", "seeds": [0, 1],'
                                           ' "strategies": {"edf": {"name": "edf"}}}', encoding="utf-8")
    stand_in = types.ModuleType("sim.report.hosting")
    stand_in.sections = lambda out_dir: [  # type: ignore[attr-defined]
        Section("Hosting capacity", paragraphs=("edf hosts 12 EVs",),
                tables=(("capacity", pd.DataFrame({"p50": [12]}, index=pd.Index(["edf"], name="strategy"))),))]
    monkeypatch.setitem(sys.modules, "sim.report.hosting", stand_in)
    text = sim.write_dir_report(tmp_path).read_text(encoding="utf-8")
    assert "<title>feedertwin hosting-capacity report: feeder &lt;b&gt;</title>" in text
    assert "<p>edf hosts 12 EVs</p>" in text and '<tr><th>edf</th><td class="num">12</td></tr>' in text
    assert "<tr><td>seeds</td><td>0, 1</td></tr>" in text and "<tr><td>strategies</td><td>edf</td></tr>" in text

    monkeypatch.setitem(sys.modules, "sim.report.hosting", None)  # as if the module did not exist
    assert main(["report", str(tmp_path)]) == 2


def test_the_report_reads_the_layout_the_sweep_writes() -> None:
    # The report reads files only (it imports no model code), so it names them itself: the same names.
    from sim.report import sweep_sections as report
    from sim.study import dataset, runs

    assert (report.META_FILE, report.KPI_DIR, report.STUDY_COPY, report.BASE_COPY) == (
        dataset.META_FILE, dataset.KPI_DIR, dataset.STUDY_COPY, dataset.BASE_COPY)
    assert (report.STATUS_OK, report.STATUS_FAILED) == (runs.STATUS_OK, runs.STATUS_FAILED)


def test_the_report_finds_the_hosting_file_the_study_writes() -> None:
    hosting = pytest.importorskip("sim.study.hosting")
    from sim.report.directory import HOSTING_FILE

    assert hosting.META_FILE == HOSTING_FILE


def _fake_sweep(folder: Path, params: dict[str, list[object]], n_seeds: int = 3) -> Path:
    """A sweep directory written by hand (no runs): one row per variant and seed, KPIs drawn at random."""
    from sim.results import KPI_KEYS

    rng = np.random.default_rng(5)
    n_variants = len(next(iter(params.values())))
    rows = [{"run_key": f"{v:08x}{seed:08x}", "variant": v, "variant_hash": f"{v:016x}",
             **{key: values[v] for key, values in params.items()}, "seed": seed, "status": "ok", "error": None,
             **{kpi: float(rng.uniform(0.9, 1.0)) for kpi in KPI_KEYS}, "wall_time_s": 1.0, "worker": "w"}
            for v in range(n_variants) for seed in range(n_seeds)]
    (folder / "kpis").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "kpis" / "all.parquet")
    (folder / "sweep.json").write_text(f'{{"study": "fake", "param_keys": {list(params)!r}, "n_runs": {len(rows)}, '
                                       f'"n_variants": {n_variants}, "seeds": {list(range(n_seeds))!r}}}'
                                       .replace("'", '"'), encoding="utf-8")
    return folder


@pytest.mark.parametrize("params", [
    {"grid.pv.share": [i / 40 for i in range(40)], "strategy.name": ["edf", "llf"] * 20},  # sampled: a scatter
    {"strategy.name": ["uncontrolled", "edf", "grid_aware"]},  # no numeric key: KPIs per variant
], ids=["sampled", "strategies-only"])
def test_other_shapes_of_sweep_get_one_figure(tmp_path: Path, params: dict[str, list[object]]) -> None:
    text = sim.write_dir_report(_fake_sweep(tmp_path / "sweep", params)).read_text(encoding="utf-8")
    images = _images(text)
    assert len(images) == 1 and images[0].startswith(PNG_MAGIC)
    assert "None: every finished run succeeded." in text
    assert "holds no copy of the study file" in text
    if "grid.pv.share" in params:
        assert "<td>grid.pv.share</td><td>40 values in [0, 0.975]</td>" in text


def test_a_sweep_with_no_finished_run_yet(tmp_path: Path) -> None:
    folder = _fake_sweep(tmp_path / "sweep", {"strategy.name": ["edf"]})
    (folder / "kpis" / "all.parquet").unlink()
    text = sim.write_dir_report(folder).read_text(encoding="utf-8")
    assert "No finished runs yet." in text and "<tr><td>runs not finished</td><td>3</td></tr>" in text
    assert "(run the same feedertwin sweep command again to finish them)" in text and "<img" not in text


def test_hosting_capacity_directory_gets_its_report(client: Client, tmp_path: Path) -> None:
    # Runs only where sim.report.hosting (the hosting-capacity sections) is installed.
    pytest.importorskip("sim.report.hosting")
    out = tmp_path / "hosting"
    sim.hosting_capacity(DATA / "hosting_small.toml", ["uncontrolled"], seeds=[0], max_count=3,
                         criteria=DATA / "hosting_tight_criteria.toml", overrides=["simulation.duration=1d"],
                         out=out, client=client, progress=False)
    assert main(["report", str(out)]) == 0
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>feedertwin hosting-capacity report: " in text and "Hosting capacity per strategy" in text
    images = _images(text)
    assert len(images) == 4 and all(img.startswith(PNG_MAGIC) for img in images)
    assert not re.search(r'(src|href)="(?!data:|#)', text)
