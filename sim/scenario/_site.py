"""The ``[site]`` table (import limit, base-load buses, limits tree) and the ``[tariff]`` table.

The limits tree is checked here as far as the file alone allows: unique node ids, known parents,
exactly one root, no cycles, each node with a limit, and no charger id listed under two nodes.
Whether the listed ids and prefixes name placed chargers (and whether a prefix pulls a charger
under a second node) is known only after placement: ``sim.engine`` checks that and reports it at
the same key paths (``site.limits[i].chargers[k]``, ``site.limits[i].charger_prefix``).
"""

from __future__ import annotations

from sim.errors import ScenarioError
from sim.scenario._keys import LIMIT_KEYS, SITE_KEYS, TARIFF_KEYS, TARIFF_PERIOD_KEYS
from sim.scenario._reader import Table, as_integer, as_string, as_table
from sim.scenario.schema import (
    DEFAULT_PRICE_PER_KWH,
    TARIFF_DAYS,
    TARIFF_DAYS_OF_WEEK,
    LimitSpec,
    SiteSpec,
    TariffPeriod,
    TariffSpec,
)

# --- [site] ------------------------------------------------------------------------------------


def build_site(root: Table) -> SiteSpec:
    """The ``[site]`` table; the default ``SiteSpec`` (whole feeder, no limits) when absent."""
    t = root.table("site", required=False)
    if t is None:
        return SiteSpec()
    t.check_keys(SITE_KEYS)
    limit_kw = t.number("import_limit_kw", lo=0.0, lo_open=True) if t.has("import_limit_kw") else None
    return SiteSpec(import_limit_kw=limit_kw, buses=_buses(t), limits=_limits(t))


def _buses(t: Table) -> tuple[int, ...] | None:
    items = t.array("buses", required=False)
    if items is None:
        return None
    if not items:
        raise t.error("buses", "needs at least one bus", value=items,
                      expected="an array of bus indices, or no key for the whole feeder")
    buses: list[int] = []
    for i, item in enumerate(items):
        bus = as_integer(t.file, f"{t.key('buses')}[{i}]", item, lo=0)
        if bus in buses:
            raise ScenarioError(t.file, f"{t.key('buses')}[{i}]", "listed twice", value=item,
                                expected="each bus once")
        buses.append(bus)
    return tuple(buses)


def _limits(t: Table) -> tuple[LimitSpec, ...]:
    items = t.array("limits", required=False) or []
    tables = [as_table(t.file, f"{t.key('limits')}[{i}]", item) for i, item in enumerate(items)]
    nodes = tuple(_limit_node(table) for table in tables)
    if nodes:
        check_tree(tables, nodes)
    return nodes


def _limit_node(t: Table) -> LimitSpec:
    t.check_keys(LIMIT_KEYS)
    max_a = t.number("max_current_a", lo=0.0, lo_open=True) if t.has("max_current_a") else None
    max_kva = t.number("max_kva", lo=0.0, lo_open=True) if t.has("max_kva") else None
    if max_a is None and max_kva is None:
        raise t.error(None, "a limit node needs max_current_a or max_kva (or both)", value=dict(t.data),
                      expected="max_current_a (A per phase) and/or max_kva")
    ids = t.array("chargers", required=False) or []
    chargers: list[str] = []
    for k, item in enumerate(ids):
        cid = as_string(t.file, f"{t.key('chargers')}[{k}]", item)
        if cid in chargers:
            raise ScenarioError(t.file, f"{t.key('chargers')}[{k}]", "listed twice in this node", value=cid,
                                expected="each charger id once")
        chargers.append(cid)
    return LimitSpec(
        node_id=t.string("id"),
        parent=t.string("parent") if t.has("parent") else None,
        max_current_a=max_a,
        max_kva=max_kva,
        chargers=tuple(chargers),
        charger_prefix=t.string("charger_prefix") if t.has("charger_prefix") else None,
    )


def check_tree(tables: list[Table], nodes: tuple[LimitSpec, ...]) -> None:
    """Unique ids, known parents, no cycles, exactly one root, a charger id under one node only."""
    where: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node.node_id in where:
            raise tables[i].error("id", f"duplicate limit id, already used by site.limits[{where[node.node_id]}]",
                                  value=node.node_id, expected="an id unique across [[site.limits]]")
        where[node.node_id] = i
    for i, node in enumerate(nodes):
        if node.parent is not None and node.parent not in where:
            raise tables[i].error("parent", "no limit node with this id", value=node.parent,
                                  expected="one of: " + ", ".join(where))
    _check_cycles(tables, nodes, where)
    roots = [i for i, node in enumerate(nodes) if node.parent is None]
    if len(roots) > 1:
        first = nodes[roots[0]].node_id
        raise tables[roots[1]].error("parent", f"a second root (site.limits[{roots[0]}] '{first}' is the root)",
                                     expected=f"a parent for every node but the one root, e.g. parent = '{first}'")
    owner: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for k, cid in enumerate(node.chargers):
            if cid in owner:
                raise tables[i].error(f"chargers[{k}]", f"charger already under node '{nodes[owner[cid]].node_id}' "
                                      f"(site.limits[{owner[cid]}])", value=cid,
                                      expected="each charger under at most one node")
            owner[cid] = i


def _check_cycles(tables: list[Table], nodes: tuple[LimitSpec, ...], where: dict[str, int]) -> None:
    """Walk up from every node; meeting a node twice on one walk is a cycle."""
    for i, node in enumerate(nodes):
        path = [node.node_id]
        parent = node.parent
        while parent is not None:
            if parent in path:
                cycle = " -> ".join([*path[path.index(parent):], parent])
                raise tables[i].error("parent", f"the limits tree has a cycle: {cycle}", value=node.parent,
                                      expected="parents that lead up to the one root")
            path.append(parent)
            parent = nodes[where[parent]].parent


# --- [tariff] ----------------------------------------------------------------------------------


def build_tariff(root: Table) -> TariffSpec:
    """The ``[tariff]`` table; a flat ``DEFAULT_PRICE_PER_KWH`` when absent."""
    t = root.table("tariff", required=False)
    if t is None:
        return TariffSpec()
    t.check_keys(TARIFF_KEYS)
    items = t.array("periods", required=False) or []
    tables = [as_table(t.file, f"{t.key('periods')}[{i}]", item) for i, item in enumerate(items)]
    periods = tuple(_period(table) for table in tables)
    _check_overlaps(tables, periods)
    return TariffSpec(price_per_kwh=t.number("price_per_kwh", DEFAULT_PRICE_PER_KWH), periods=periods)


def _period(t: Table) -> TariffPeriod:
    t.check_keys(TARIFF_PERIOD_KEYS)
    start_h = t.number("start_h", lo=0.0, hi=24.0, hi_open=True)
    end_h = t.number("end_h", lo=0.0, hi=24.0, lo_open=True)
    if end_h <= start_h:
        raise t.error("end_h", f"not after start_h ({start_h:g} h); a period over midnight is two periods",
                      value=t.data["end_h"], expected=f"a number in ({start_h:g}, 24]")
    return TariffPeriod(start_h=start_h, end_h=end_h, price_per_kwh=t.number("price_per_kwh"),
                        days=t.string("days", "all", choices=TARIFF_DAYS))


def _check_overlaps(tables: list[Table], periods: tuple[TariffPeriod, ...]) -> None:
    """Two periods overlap when they share a day of the week and some hours of it."""
    for j, b in enumerate(periods):
        for i, a in enumerate(periods[:j]):
            same_day = TARIFF_DAYS_OF_WEEK[a.days] & TARIFF_DAYS_OF_WEEK[b.days]
            if a.start_h < b.end_h and b.start_h < a.end_h and same_day:
                raise tables[j].error(None, f"overlaps tariff.periods[{i}] ({a.start_h:g}-{a.end_h:g} h, "
                                      f"days = {a.days})", value={"start_h": b.start_h, "end_h": b.end_h,
                                                                  "days": b.days},
                                      expected="periods that do not overlap on any day")
