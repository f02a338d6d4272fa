"""An on-disk cache of the named networks, shared by the processes of one machine.

pandapower reads the IEEE European LV feeder from JSON and converts its data format on every
load: about 1 s, two thirds of a fresh process's set-up for a year on that feeder, and paid again
by every ``feedertwin run`` and every sweep worker. A pickle of the built net loads in 30 ms.

* **Where**: ``$FEEDERTWIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/feedertwin``, else
  ``~/.cache/feedertwin``; ``FEEDERTWIN_CACHE_DIR=""`` (empty) turns the cache off.
* **When it is stale**: never silently. The file name holds the network name and a digest of
  everything a build depends on: the versions of Python, numpy, pandas and pandapower, and the
  source of ``sim/grid/networks.py`` (our builders). Anything else changes nothing we build.
* **Failures**: an unreadable entry is rebuilt and replaced; a cache directory that cannot be
  written only costs the build. Entries are written to a temporary file and renamed, so processes
  building the same network at once never read half a file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd

CACHE_DIR_ENV = "FEEDERTWIN_CACHE_DIR"
_NETWORKS_SOURCE = Path(__file__).with_name("networks.py")


def cache_dir() -> Path | None:
    """The cache directory (not created here), or None when ``FEEDERTWIN_CACHE_DIR`` is empty."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "feedertwin"


def entry_path(name: str, directory: Path) -> Path:
    """The cache file of network ``name``: its digest covers the library versions and our builders."""
    digest = hashlib.sha256()
    for part in (sys.version.split()[0], np.__version__, pd.__version__, pp.__version__):
        digest.update(part.encode() + b"\0")
    digest.update(_NETWORKS_SOURCE.read_bytes())
    return directory / f"network-{name}-{digest.hexdigest()[:16]}.pickle"


def cached_build(name: str, build: Callable[[], pp.pandapowerNet]) -> pp.pandapowerNet:
    """The net ``build()`` returns, read from the cache when an entry for ``name`` exists.

    ``build`` must always return the same net for ``name`` (the network registry's promise).
    """
    directory = cache_dir()
    if directory is None:
        return build()
    path = entry_path(name, directory)
    try:
        with path.open("rb") as file:
            net = pickle.load(file)
        if isinstance(net, pp.pandapowerNet):
            return net
    except Exception:  # missing, truncated or written by an incompatible library: build it again
        pass
    net = build()
    _store(net, path)
    return net


def _store(net: pp.pandapowerNet, path: Path) -> None:
    """Write the entry under a temporary name, then rename it; a directory we cannot write to
    means no cache, not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump(net, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
