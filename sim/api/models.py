"""The API's response bodies (pydantic). Units are in the field names; times are epoch seconds
(``*_t_s``) on the live process's clock; ``None`` means "not known" (never a made-up zero)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConnectorOut(BaseModel):
    connector_id: int = Field(description="1.6 connectorId / 2.0.1 evseId; 0 is the charger as a whole")
    status: str = Field(description="the last StatusNotification (Available, Charging, SuspendedEV, ...)")
    error_code: str | None = None
    since_t_s: float


class CapabilitiesOut(BaseModel):
    smart_charging: bool | None
    rate_units: list[str] | None
    max_stack_level: int | None
    max_periods_per_schedule: int | None
    number_of_connectors: int | None
    read_t_s: float


class ChargerOut(BaseModel):
    charger_id: str
    listed: bool = Field(description="in the site file (False: an accepted unknown charger)")
    bus: int
    phases: int
    phase: str = Field(description="L1, L2, L3 (single-phase) or L1L2L3")
    min_current_a: float
    max_current_a: float
    kind: str
    online: bool
    ocpp_version: str | None
    last_seen_t_s: float | None = Field(description="the last frame the charger sent")
    vendor: str | None
    model: str | None
    firmware_version: str | None
    capabilities: CapabilitiesOut | None
    connectors: list[ConnectorOut]
    current_now_a: float = Field(description="the last measured current, highest phase")
    power_now_kw: float
    open_session_ids: list[str]


class ChargersOut(BaseModel):
    t_s: float
    chargers: list[ChargerOut]


class SessionOut(BaseModel):
    session_id: str = Field(description="<charger>:<transaction>")
    charger_id: str
    connector_id: int
    transaction_id: str
    open: bool
    start_t_s: float
    end_t_s: float | None
    last_t_s: float = Field(description="the session's last recorded event")
    energy_metered_kwh: float = Field(description="grid side, as the charger's meter counts it, so far")


class SessionsOut(BaseModel):
    t_s: float
    sessions: list[SessionOut]


class MeterSampleOut(BaseModel):
    t_s: float
    connector_id: int
    power_w: float | None
    energy_wh: float | None
    current_l1_a: float | None
    current_l2_a: float | None
    current_l3_a: float | None
    offered_current_a: float | None
    soc_percent: float | None


class SessionDetailOut(SessionOut):
    meter_samples: list[MeterSampleOut]


class LimitOut(BaseModel):
    node_id: str
    parent: str | None
    max_current_a: float | None
    max_kva: float | None
    charger_ids: list[str]


class SiteOut(BaseModel):
    name: str
    description: str
    t_s: float
    mode: str = Field(description="shadow (record only) or active (profiles are sent)")
    control_period_s: float
    strategy: str
    time_zone: str
    import_limit_kw: float | None
    limits: list[LimitOut]
    base_load_kw: float
    charging_power_kw: float = Field(description="the sum of the chargers' last measured power")
    import_now_kw: float = Field(description="base load plus charging power (estimated)")
    n_chargers: int
    n_online: int
    n_sessions_open: int
    has_grid: bool


class SitePowerOut(BaseModel):
    """The site's power at each control tick since ``since_t_s``, oldest first, as columns (one
    entry per tick in every list; a chart reads them side by side)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"since_t_s": 1799978400.0, "until_t_s": 1800000000.0, "t_s": [1799999940.0, 1800000000.0],
         "charging_kw": [7.2, 11.0], "import_kw": [12.2, 16.0], "import_limit_kw": [22.0, 22.0]}]})
    since_t_s: float = Field(description="the window's start: now minus ``hours``")
    until_t_s: float = Field(description="now, on the live process's clock")
    t_s: list[float] = Field(description="each tick's time")
    charging_kw: list[float | None] = Field(description="the chargers' measured power summed")
    import_kw: list[float | None] = Field(description="the load flow's import with a [grid], else base load plus "
                                                      "charging (estimated)")
    import_limit_kw: list[float | None] = Field(description="the site file's import_limit_kw then (null: none)")


class BusVoltageOut(BaseModel):
    bus: int
    vm_pu: float | None


class BranchLoadingOut(BaseModel):
    branch: int
    loading_percent: float | None


class GridOut(BaseModel):
    t_s: float
    vm_min_pu: float | None
    vm_max_pu: float | None
    max_line_loading_percent: float | None
    max_trafo_loading_percent: float | None
    p_import_kw: float | None
    buses: list[BusVoltageOut]
    lines: list[BranchLoadingOut]
    trafos: list[BranchLoadingOut]


class FeederOut(BaseModel):
    has_grid: bool = Field(description="the site file has a [grid]: the live load flow runs each tick")
    state: GridOut | None = Field(description="the latest tick's load flow; null without [grid] or before one")


class SetpointOut(BaseModel):
    charger_id: str
    setpoint_a: float | None
    limit_a: float | None = Field(description="what a profile carries (None in a stored decision)")
    measured_a: float | None = Field(description="measured when the decision was taken")


class DecisionOut(BaseModel):
    decision_id: int | None
    t_s: float
    mode: str
    setpoints: list[SetpointOut]
    grid: GridOut | None = None
    notes: list[str] = []


class SetpointsOut(BaseModel):
    t_s: float
    latest: DecisionOut | None = Field(description="the latest control tick (null before the first)")
    measured_now_a: dict[str, float] = Field(description="each charger's current now, to set beside it")


class DecisionsOut(BaseModel):
    decisions: list[DecisionOut]


class CommandOut(BaseModel):
    command_id: int
    t_s: float
    charger_id: str
    action: str
    outcome: str | None = Field(description="accepted, rejected, not_supported, not_implemented, timeout, error; "
                                            "null while the answer is awaited")
    detail: str | None
    outcome_t_s: float | None


class CommandsOut(BaseModel):
    commands: list[CommandOut]


class LogLineOut(BaseModel):
    t_s: float
    level: str
    charger_id: str | None
    message: str


class LogOut(BaseModel):
    lines: list[LogLineOut]


class ActionOut(BaseModel):
    """How an operator's action ended (``sim.live.actions.ActionResult``), and who did it."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "reserve", "target": "charger/CP-001", "who": "fleet-app", "outcome": "accepted",
         "detail": "Accepted", "audit_id": 42, "reservation_id": 42, "response": {"status": "Accepted"}}]})
    action: str = Field(description="set_mode, set_site_limit, set_charger_limit, reserve, cancel_reservation, "
                                    "remote_start, remote_stop, reset")
    target: str = Field(description="site, limit/<node id> or charger/<charger id>")
    who: str = Field(description="the name of the token that did it (as the audit row says)")
    outcome: str = Field(description="done (a local action) or accepted (the charger took the call); a refusal, "
                                     "no connection or a timeout is a problem document instead")
    detail: str | None = Field(description="why, in words (e.g. 'already in active mode'); null when nothing to add")
    audit_id: int | None = Field(description="the action's row of the audit log (GET /api/v1/audit)")
    reservation_id: int | None = Field(default=None, description="the reservation made (reserve only): cancel it "
                                                                  "with DELETE .../reservations/{reservation_id}")
    response: dict[str, Any] | None = Field(default=None, description="the charger's reply (snake_case keys); "
                                                                      "null for a local action")


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"audit_id": 42, "t_s": 1800000000.0, "who": "fleet-app", "action": "reserve", "target": "charger/CP-001",
         "parameters": {"connector_id": 1, "expiry_s": 1800001800.0, "id_tag": "DRIVER-42"},
         "outcome": "accepted", "detail": "Accepted"}]})
    audit_id: int
    t_s: float
    who: str = Field(description="the token name (API) or whoever called the operator")
    action: str
    target: str = Field(description="site, limit/<node id> or charger/<charger id>")
    parameters: dict[str, Any] = Field(description="the action's values (a limit as applied: a restore shows the "
                                                   "site file's value)")
    outcome: str | None = Field(description="done, accepted, rejected, not_supported, not_implemented, timeout, "
                                            "error, not_connected; null while the charger's answer is awaited")
    detail: str | None


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
