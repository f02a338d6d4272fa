"""GET /api/v1/site/power over real HTTP: one point per control tick with the charging power the
test charger measured, the import and the import limit; the ``hours`` window and its bounds; the
``site`` section's scope (public or a token); the decision update on the stream carries it too; with a
``[grid]`` the import is the load flow's."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import one_session, running_api
from tests.live.server_helpers import T0_S, Charger16, connected, run, write_site

PROBLEM = "application/problem+json"


def test_one_point_per_tick_with_the_measured_charging_power(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, connected(api.server, "CP-16", Charger16) as cp:
            api.live.tick(T0_S - 2 * 3600.0)  # before the session: nothing charges
            await one_session(cp)  # CP-16 meters 7.2 kW
            updates = api.live.feed.subscribe()
            api.live.tick(T0_S - 60.0)
            api.live.tick(T0_S)
            async with api.client(api.read_token) as http:
                power = (await http.get("/api/v1/site/power")).json()  # 6 hours by default
                assert power["until_t_s"] == T0_S and power["since_t_s"] == T0_S - 6 * 3600.0
                assert power["t_s"] == [T0_S - 7200.0, T0_S - 60.0, T0_S]
                assert power["charging_kw"] == [0.0, 7.2, 7.2]
                assert power["import_kw"] == [0.0, 7.2, 7.2]  # no [grid], base load 0: the estimate
                assert power["import_limit_kw"] == [22.0, 22.0, 22.0]
                last_hour = (await http.get("/api/v1/site/power", params={"hours": 1})).json()
                assert last_hour["t_s"] == [T0_S - 60.0, T0_S] and last_hour["charging_kw"] == [7.2, 7.2]
                week = (await http.get("/api/v1/site/power", params={"hours": 168})).json()
                assert len(week["t_s"]) == 3
            queued = [updates.queue.get_nowait() for _ in range(updates.queue.qsize())]
            decisions = [u for u in queued if u.kind == "decision"]
            assert [u.data["site_power"] for u in decisions] == [
                {"charging_kw": 7.2, "import_kw": 7.2, "import_limit_kw": 22.0}] * 2

    run(scenario())


def test_hours_out_of_bounds_is_a_422_problem(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, api.client(api.read_token) as http:
            for hours in ("0", "-1", "168.5", "1000", "nan", "six"):
                response = await http.get("/api/v1/site/power", params={"hours": hours})
                assert response.status_code == 422, hours
                assert response.headers["content-type"] == PROBLEM and "hours" in response.json()["detail"]
            assert (await http.get("/api/v1/site/power", params={"hours": "0.5"})).status_code == 200

    run(scenario())


def test_scope_follows_the_site_section(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api:
            async with api.client() as anonymous:
                refused = await anonymous.get("/api/v1/site/power")
                assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
                assert "'site' is not public" in refused.json()["detail"]
            async with api.client("not-a-token") as stranger:
                assert (await stranger.get("/api/v1/site/power")).status_code == 401
            for token in (api.read_token, api.control_token):
                async with api.client(token) as http:
                    assert (await http.get("/api/v1/site/power")).json()["t_s"] == []  # no tick yet
        (tmp_path / "public").mkdir()
        async with running_api(write_site(tmp_path / "public"), public=("site",)) as api, api.client() as anonymous:
            assert (await anonymous.get("/api/v1/site/power")).status_code == 200  # public with the site

    run(scenario())


def test_with_a_grid_the_import_is_the_load_flows(tmp_path: Path) -> None:
    site_path = write_site(tmp_path)
    site_path.write_text(site_path.read_text().replace("bus = 1", "bus = 36") + '\n[grid]\nnetwork = "cigre_lv"\n')

    async def scenario() -> None:
        async with running_api(site_path) as api, connected(api.server, "CP-16", Charger16) as cp:
            await one_session(cp)
            api.live.tick(T0_S)
            p_import_kw = api.live.store.grid_states()[-1][5]
            async with api.client(api.read_token) as http:
                power = (await http.get("/api/v1/site/power")).json()
            assert power["charging_kw"] == [7.2] and power["import_kw"] == [p_import_kw]
            assert p_import_kw != 7.2  # the feeder's own load and losses, not the estimate

    run(scenario())
