"""The ``[[chargers]]`` array: explicit chargers and placement rules.

An entry is either an explicit charger (``id`` + ``bus``) or a placement rule (``place``, with
``share`` for ``per_load_bus`` or ``count`` for ``random_load_buses``, and ``id_prefix``); mixing
the two is an error. Both share the electrical keys ``phases``, ``phase``, ``max_current_a``,
``min_current_a``, ``efficiency``, ``kind`` and the optional discrete currents (``current_step_a``
or ``allowed_current_a``, not both). Whether a bus exists is checked later by the grid
room; here ids (and rule id prefixes) must be unique across the file.
"""

from __future__ import annotations

from typing import Any

from sim.domain.chargers import PHASES_1
from sim.errors import ScenarioError
from sim.scenario._keys import CHARGER_EXPLICIT_KEYS, CHARGER_KEYS, CHARGER_RULE_KEYS
from sim.scenario._reader import Table, as_number, as_table
from sim.scenario.schema import CHARGER_KINDS, PLACEMENT_RULES, ChargerSpec

MAX_CURRENT_LIMIT_A = 80.0
DEFAULT_MIN_CURRENT_A = 6.0
THREE_PHASE = "L1L2L3"
SINGLE_PHASE_CHOICES = (*PHASES_1, "random")


def build_chargers(root: Table) -> tuple[ChargerSpec, ...]:
    """All ``[[chargers]]`` entries in file order; at least one is required."""
    items = root.array("chargers", required=True)
    assert items is not None
    if not items:
        raise root.error("chargers", "needs at least one charger entry", value=items,
                         expected="one or more [[chargers]] tables")
    specs: list[ChargerSpec] = []
    owners: dict[tuple[str, str], str] = {}  # ("id" | "id_prefix", value) -> entry that uses it
    for index, item in enumerate(items):
        table = as_table(root.file, f"chargers[{index}]", item)
        spec = _charger(table)
        _check_unique(table, spec, owners)
        specs.append(spec)
    return tuple(specs)


def _charger(t: Table) -> ChargerSpec:
    t.check_keys(CHARGER_KEYS)
    explicit = [k for k in CHARGER_EXPLICIT_KEYS if t.has(k)]
    rule = [k for k in CHARGER_RULE_KEYS if t.has(k)]
    if explicit and rule:
        raise t.error(None, f"mixes explicit-charger keys ({', '.join(explicit)}) with placement-rule "
                      f"keys ({', '.join(rule)})", value={k: t.data[k] for k in explicit + rule},
                      expected="either id + bus (one charger) or place (a placement rule), not both")
    if not explicit and not rule:
        raise t.error(None, "is neither an explicit charger nor a placement rule",
                      value=dict(t.data), expected="id + bus (one charger) or place (a placement rule)")
    common = _electrical(t)
    if explicit:
        return ChargerSpec(charger_id=t.string("id"), bus=t.integer("bus", lo=0), **common)
    return ChargerSpec(**_rule(t), **common)


def _rule(t: Table) -> dict[str, Any]:
    place = t.string("place", choices=PLACEMENT_RULES)
    out: dict[str, Any] = {"place": place, "id_prefix": t.string("id_prefix", "cp")}
    if place == "per_load_bus":
        if t.has("count"):
            raise t.error("count", "only applies to place = 'random_load_buses'", value=t.data["count"],
                          expected="no count key (use share for per_load_bus)")
        out["share"] = t.number("share", 1.0, lo=0.0, hi=1.0)
    else:
        if t.has("share"):
            raise t.error("share", "only applies to place = 'per_load_bus'", value=t.data["share"],
                          expected="no share key (use count for random_load_buses)")
        out["count"] = t.integer("count", lo=1)
    return out


def _electrical(t: Table) -> dict[str, Any]:
    phases = t.integer("phases", 3)
    if phases not in (1, 3):
        raise t.error("phases", "a charger has 1 or 3 phases", value=phases, expected="1 or 3")
    if phases == 1:
        phase = t.string("phase", "random", choices=SINGLE_PHASE_CHOICES)
    else:
        phase = t.string("phase", THREE_PHASE)
        if phase != THREE_PHASE:
            raise t.error("phase", "a three-phase charger uses all phases", value=phase,
                          expected=f"'{THREE_PHASE}' or no phase key (or set phases = 1)")
    max_a = t.number("max_current_a", 16.0, lo=0.0, lo_open=True, hi=MAX_CURRENT_LIMIT_A)
    min_a = t.number("min_current_a", min(DEFAULT_MIN_CURRENT_A, max_a), lo=0.0)
    if min_a > max_a:
        raise t.error("min_current_a", f"exceeds max_current_a ({max_a:g} A)", value=t.data["min_current_a"],
                      expected=f"a number in [0, {max_a:g}]")
    return {
        "phases": phases,
        "phase": phase,
        "max_current_a": max_a,
        "min_current_a": min_a,
        "efficiency": t.number("efficiency", 0.95, lo=0.0, lo_open=True, hi=1.0),
        "kind": t.string("kind", "home", choices=CHARGER_KINDS),
        **_discrete_currents(t, min_a, max_a),
    }


def _discrete_currents(t: Table, min_a: float, max_a: float) -> dict[str, Any]:
    """``current_step_a`` (in [0, max_current_a], 0 = continuous) or ``allowed_current_a``.

    The allowed set is stored sorted and without 0 (0 A is always allowed); every other value must
    lie within [min_current_a, max_current_a], since a charger cannot use a current outside it.
    """
    if t.has("current_step_a") and t.has("allowed_current_a"):
        raise t.error("allowed_current_a", "not together with current_step_a",
                      value=t.data["allowed_current_a"],
                      expected="either current_step_a (a step) or allowed_current_a (a finite set)")
    if not t.has("allowed_current_a"):
        return {"current_step_a": t.number("current_step_a", 0.0, lo=0.0, hi=max_a)}
    items = t.array("allowed_current_a", required=True) or []
    if not items:
        raise t.error("allowed_current_a", "needs at least one current", value=items,
                      expected="an array of currents in A, or no key for continuous currents")
    seen: set[float] = set()
    for i, item in enumerate(items):
        key = f"{t.key('allowed_current_a')}[{i}]"
        value = as_number(t.file, key, item, lo=0.0, hi=max_a)
        if 0.0 < value < min_a:
            raise ScenarioError(t.file, key, f"below min_current_a ({min_a:g} A)", value=item,
                                expected=f"0 or a current in [{min_a:g}, {max_a:g}]")
        if value in seen:
            raise ScenarioError(t.file, key, "listed twice", value=item, expected="each current once")
        seen.add(value)
    allowed = tuple(sorted(v for v in seen if v > 0.0))
    if not allowed:
        raise t.error("allowed_current_a", "has no current above 0 A (the charger could never charge)",
                      value=items, expected=f"at least one current in [{min_a:g}, {max_a:g}]")
    return {"current_step_a": 0.0, "allowed_current_a": allowed}


def _check_unique(t: Table, spec: ChargerSpec, owners: dict[tuple[str, str], str]) -> None:
    """Explicit ids, and the id prefixes of rules, may each be used by one entry only."""
    if spec.place is None:
        field, value = "id", spec.charger_id
    else:
        field, value = "id_prefix", spec.id_prefix
    assert value is not None
    other = owners.get((field, value))
    if other is not None:
        what = "charger id" if field == "id" else "id_prefix of a placement rule"
        raise t.error(field, f"duplicate {what}, already used by {other}", value=value,
                      expected=f"an {field} unique across the file")
    owners[(field, value)] = t.path
