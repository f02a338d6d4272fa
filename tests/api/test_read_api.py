"""The read endpoints over real HTTP (uvicorn on 127.0.0.1:0) against a running live site with a
connected 1.6 test charger: chargers, a session with its energy, problem documents, tokens."""

from __future__ import annotations

from pathlib import Path

from tests.api.helpers import one_session, running_api
from tests.live.server_helpers import Charger16, call16, connected, run, until, write_site

PROBLEM = "application/problem+json"


def test_chargers_and_a_session_with_its_energy(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, connected(api.server, "CP-16", Charger16) as cp:
            tx = await one_session(cp)
            await until(lambda: api.live.tracker.capabilities("CP-16") is not None)
            async with api.client(api.read_token) as http:
                chargers = (await http.get("/api/v1/chargers")).json()["chargers"]
                by_id = {c["charger_id"]: c for c in chargers}
                assert set(by_id) == {"CP-16", "CP-201"}
                cp16 = by_id["CP-16"]
                assert cp16["online"] and cp16["ocpp_version"] == "1.6" and cp16["bus"] == 1 and cp16["phases"] == 3
                assert cp16["vendor"] == "TestVendor" and cp16["capabilities"]["smart_charging"] is True
                assert cp16["connectors"] == [{"connector_id": 1, "status": "Charging", "error_code": None,
                                               "since_t_s": 1_800_000_000.0}]
                assert cp16["last_seen_t_s"] is not None and cp16["power_now_kw"] == 7.2
                assert cp16["open_session_ids"] == [f"CP-16:{tx}"]
                assert not by_id["CP-201"]["online"] and by_id["CP-201"]["last_seen_t_s"] is None

                sessions = (await http.get("/api/v1/sessions", params={"state": "open"})).json()["sessions"]
                assert [(s["session_id"], s["open"], s["energy_metered_kwh"]) for s in sessions] == [
                    (f"CP-16:{tx}", True, 2.5)]
                one = (await http.get(f"/api/v1/sessions/CP-16:{tx}")).json()
                assert [(m["energy_wh"], m["power_w"], m["current_l1_a"]) for m in one["meter_samples"]] == [
                    (3500.0, 7200.0, 10.5)]

                site = (await http.get("/api/v1/site")).json()
                assert site["mode"] == "shadow" and site["import_limit_kw"] == 22.0
                assert site["charging_power_kw"] == 7.2 and site["n_online"] == 1 and site["n_sessions_open"] == 1
                feeder = (await http.get("/api/v1/feeder")).json()
                assert feeder == {"has_grid": False, "state": None}
                api.live.tick()
                api.live.store.commit()  # the tick is stored at the end of this loop turn; now, to be sure
                setpoints = (await http.get("/api/v1/setpoints")).json()
                assert {s["charger_id"] for s in setpoints["latest"]["setpoints"]} == {"CP-16", "CP-201"}
                assert setpoints["measured_now_a"]["CP-16"] == 10.5
                decisions = (await http.get("/api/v1/decisions", params={"limit": 1})).json()["decisions"]
                assert decisions[0]["decision_id"] == setpoints["latest"]["decision_id"]

    run(scenario())


def test_unknown_charger_is_a_404_problem_naming_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, api.client(api.read_token) as http:
            response = await http.get("/api/v1/chargers/CP-404")
            assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
            problem = response.json()
            assert problem["status"] == 404 and problem["title"] == "Not Found"
            assert "'CP-404'" in problem["detail"] and "CP-16" in problem["detail"]
            assert problem["type"].endswith("/unknown-charger")
            missing = await http.get("/api/v1/sessions/CP-16:999")
            assert missing.status_code == 404 and "'CP-16:999'" in missing.json()["detail"]
            invalid = await http.get("/api/v1/decisions", params={"limit": 0})
            assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM
            assert "limit" in invalid.json()["detail"]

    run(scenario())


def test_tokens_public_sections_and_scopes(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_api(write_site(tmp_path), public=("site",)) as api:
            async with api.client() as anonymous:
                assert (await anonymous.get("/api/v1/site")).status_code == 200  # public
                refused = await anonymous.get("/api/v1/chargers")
                assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert "'chargers' is not public" in refused.json()["detail"]
                assert (await anonymous.post("/api/v1/test-action")).status_code == 401
            async with api.client("ft_not-a-token") as forged:
                assert (await forged.get("/api/v1/site")).status_code == 401  # a bad token even on public
            async with api.client(api.read_token) as reader:
                assert (await reader.get("/api/v1/chargers")).status_code == 200
                forbidden = await reader.post("/api/v1/test-action")
                assert forbidden.status_code == 403 and forbidden.headers["content-type"] == PROBLEM
                assert forbidden.json()["detail"] == "token 'reader-app' has scope read; this needs scope control"
            async with api.client(api.control_token) as operator:
                allowed = await operator.post("/api/v1/test-action")
                assert allowed.status_code == 200 and allowed.json() == {"who": "operator"}
                assert (await operator.get("/api/v1/chargers")).status_code == 200  # control includes read
            api.api.app.state.tokens.revoke("reader-app")
            async with api.client(api.read_token) as revoked:
                assert (await revoked.get("/api/v1/chargers")).status_code == 401

    run(scenario())


def test_sessions_newest_first_filtered_and_limited(tmp_path: Path) -> None:
    """An ended session (energy from its meter stop) and a newer open one: filters, limit, detail."""

    async def scenario() -> None:
        async with running_api(write_site(tmp_path)) as api, connected(api.server, "CP-16", Charger16) as cp:
            first = await one_session(cp)  # 1000 Wh at the start, 3500 Wh at 08:01
            await cp.call(call16.StopTransaction(meter_stop=5000, timestamp="2027-01-15T09:00:00Z",
                                                 transaction_id=int(first)))
            second = await cp.call(call16.StartTransaction(connector_id=1, id_tag="TAG-2", meter_start=5000,
                                                           timestamp="2027-01-15T10:00:00Z"))
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=second.transaction_id, meter_value=[{
                "timestamp": "2027-01-15T10:30:00Z", "sampledValue": [{"value": "6000", "unit": "Wh"}]}]))
            async with api.client(api.read_token) as http:
                async def ids(**params: object) -> list[tuple[str, bool, float]]:
                    body = (await http.get("/api/v1/sessions", params=params)).json()
                    return [(s["session_id"], s["open"], s["energy_metered_kwh"]) for s in body["sessions"]]

                newer, older = (f"CP-16:{second.transaction_id}", True, 1.0), (f"CP-16:{first}", False, 4.0)
                assert await ids() == [newer, older]
                assert await ids(limit=1) == [newer]
                assert await ids(state="ended") == [older]
                assert await ids(state="open", charger_id="CP-16") == [newer]
                assert await ids(charger_id="CP-201") == []
                assert (await http.get("/api/v1/sessions", params={"charger_id": "CP-9"})).status_code == 404
                ended = (await http.get(f"/api/v1/sessions/CP-16:{first}")).json()
                assert ended["end_t_s"] == 1_800_003_600.0 and ended["energy_metered_kwh"] == 4.0
                assert [m["energy_wh"] for m in ended["meter_samples"]] == [3500.0]
                still_open = (await http.get(f"/api/v1/sessions/CP-16:{second.transaction_id}")).json()
                assert [m["energy_wh"] for m in still_open["meter_samples"]] == [6000.0]

    run(scenario())
