"""The site's limits tree over placed chargers: ``[[site.limits]]`` entries as domain ``LimitNode``s.

The file alone is checked by ``sim.scenario._site``; whether the listed ids and prefixes name
chargers is known only once the chargers exist (placed by the engine, or listed in a live site
file). ``limit_nodes`` checks that and expands each ``charger_prefix``, with errors at the same key
paths (``site.limits[i].chargers[k]``, ``site.limits[i].charger_prefix``). Shared by the engine and
the live room, so both read a limits tree the same way.
"""

from __future__ import annotations

from sim.domain import ChargerTable, LimitNode
from sim.errors import ScenarioError
from sim.scenario.schema import SiteSpec


def limit_nodes(site: SiteSpec, chargers: ChargerTable, file: str) -> tuple[LimitNode, ...]:
    """The limits tree over the placed chargers: ids must exist, prefixes must match, and no
    charger may end up under two nodes (errors at ``site.limits[i].chargers[k]`` / ``.charger_prefix``)."""
    known = set(chargers.ids)
    owner: dict[str, int] = {}
    nodes: list[LimitNode] = []
    for i, spec in enumerate(site.limits):
        members: dict[str, tuple[str, str]] = {}  # charger id -> (key, value) that put it here
        for k, cid in enumerate(spec.chargers):
            key = f"site.limits[{i}].chargers[{k}]"
            if cid not in known:
                raise ScenarioError(file, key, "no charger with this id", value=cid,
                                    expected=f"one of the {_ids_hint(chargers)}")
            members[cid] = (key, cid)
        prefix = spec.charger_prefix
        if prefix is not None:
            key = f"site.limits[{i}].charger_prefix"
            matched = [cid for cid in chargers.ids if cid.startswith(prefix)]
            if not matched:
                raise ScenarioError(file, key, "matches no charger id", value=prefix,
                                    expected=f"the start of some of the {_ids_hint(chargers)}")
            members.update((cid, (key, prefix)) for cid in matched if cid not in members)
        for cid, (key, value) in members.items():
            if owner.get(cid, i) != i:
                other = site.limits[owner[cid]].node_id
                raise ScenarioError(file, key, f"puts charger '{cid}' under a second node (it is under "
                                    f"'{other}', site.limits[{owner[cid]}])", value=value,
                                    expected="each charger under at most one limit node")
            owner[cid] = i
        ordered = tuple(cid for cid in chargers.ids if cid in members)
        nodes.append(LimitNode(spec.node_id, spec.parent, spec.max_current_a, spec.max_kva, ordered))
    return tuple(nodes)


def _ids_hint(chargers: ChargerTable) -> str:
    ids = chargers.ids
    shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
    return f"{len(ids)} charger ids of this scenario ({shown})"
