"""``feeder.json``: the feeder as points and segments, so a report draws it without pandapower.

Bus coordinates come from the network's geodata (pandapower's ``bus.geo`` GeoJSON points) when every
bus has one; otherwise (the Kerber feeders have none) from a tree layout: the buses by their number
of hops from the external grid (y, downwards) and, across, in the order a depth-first walk meets the
ends of the branches, each bus centred over the buses it feeds. Lines and transformers are segments
between their buses. The file::

    {"layout": "geodata" | "tree",
     "buses": [{"id": "3", "name": "...", "x": 0.0, "y": -2.0, "load": true}, ...],
     "lines": [{"id": "0", "from_bus": "1", "to_bus": "3"}, ...],
     "trafos": [{"id": "0", "hv_bus": "0", "lv_bus": "1"}],
     "ext_grid_bus": "0"}

Ids are strings, as the results' column names are.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sim.grid import Feeder


def feeder_drawing(feeder: Feeder) -> dict[str, Any]:
    """The drawing of ``feeder`` (see the module docstring)."""
    net = feeder.net
    lines = net.line[net.line["in_service"].astype(bool)]
    trafos = net.trafo[net.trafo["in_service"].astype(bool)]
    edges = [(int(a), int(b)) for a, b in zip(lines["from_bus"], lines["to_bus"], strict=True)]
    edges += [(int(a), int(b)) for a, b in zip(trafos["hv_bus"], trafos["lv_bus"], strict=True)]
    switches = net.switch[(net.switch["et"] == "b") & net.switch["closed"].astype(bool)] if len(net.switch) else net.switch
    edges += [(int(a), int(b)) for a, b in zip(switches.get("bus", []), switches.get("element", []), strict=True)]
    bus_ids = [int(b) for b in feeder.bus_ids]
    xy = _geodata(net.bus, bus_ids)
    layout = "geodata"
    if xy is None:
        xy, layout = _tree_layout(bus_ids, edges, int(feeder.ext_grid_bus)), "tree"
    load_buses = set(feeder.load_bus_ids())
    return {
        "layout": layout,
        "buses": [{"id": str(b), "name": str(name), "x": xy[b][0], "y": xy[b][1], "load": b in load_buses}
                  for b, name in zip(bus_ids, feeder.bus_names, strict=True)],
        "lines": [{"id": str(i), "from_bus": str(int(a)), "to_bus": str(int(b))}
                  for i, a, b in zip(lines.index, lines["from_bus"], lines["to_bus"], strict=True)],
        "trafos": [{"id": str(i), "hv_bus": str(int(a)), "lv_bus": str(int(b))}
                   for i, a, b in zip(trafos.index, trafos["hv_bus"], trafos["lv_bus"], strict=True)],
        "ext_grid_bus": str(int(feeder.ext_grid_bus)),
    }


def write_feeder_json(feeder: Feeder, path: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(feeder_drawing(feeder), handle, indent=1)
        handle.write("\n")


def _geodata(bus: pd.DataFrame, bus_ids: list[int]) -> dict[int, tuple[float, float]] | None:
    """Each bus's (x, y) from its GeoJSON point; ``None`` unless every bus has one."""
    if "geo" not in bus.columns:
        return None
    out: dict[int, tuple[float, float]] = {}
    for b in bus_ids:
        text = bus.at[b, "geo"]
        if not isinstance(text, str):
            return None
        x, y = json.loads(text)["coordinates"][:2]
        out[b] = (float(x), float(y))
    return out


def _tree_layout(bus_ids: list[int], edges: list[tuple[int, int]], root: int) -> dict[int, tuple[float, float]]:
    """x from the leaf order of a depth-first walk from ``root`` (parents centred), y = -hops."""
    neighbours: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    depth = {root: 0}
    children: dict[int, list[int]] = defaultdict(list)
    order = [root]
    stack = [root]
    while stack:  # depth-first, iterative (a feeder can be 900 buses deep)
        bus = stack.pop()
        for nxt in sorted(neighbours[bus], reverse=True):
            if nxt not in depth:
                depth[nxt] = depth[bus] + 1
                children[bus].append(nxt)
                order.append(nxt)
                stack.append(nxt)
    x: dict[int, float] = {}
    next_leaf = 0.0
    for bus in _postorder(root, children):
        if children[bus]:
            x[bus] = float(np.mean([x[c] for c in children[bus]]))
        else:
            x[bus], next_leaf = next_leaf, next_leaf + 1.0
    out = {b: (x[b], -float(depth[b])) for b in order}
    for b in bus_ids:  # not connected to the external grid: a row below the tree
        if b not in out:
            out[b], next_leaf = (next_leaf, -float(max(depth.values()) + 2)), next_leaf + 1.0
    return out


def _postorder(root: int, children: dict[int, list[int]]) -> list[int]:
    out: list[int] = []
    stack: list[tuple[int, bool]] = [(root, False)]
    while stack:
        bus, seen = stack.pop()
        if seen:
            out.append(bus)
            continue
        stack.append((bus, True))
        stack.extend((c, False) for c in reversed(children[bus]))
    return out
