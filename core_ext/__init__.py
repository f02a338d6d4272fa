"""The scheduling core: compiled kernels (``_sched``) or their pure-Python twin (``_sched_py``).

The choice is made once, here, at import:
- ``SIM_NO_EXT=1`` uses the twin on purpose;
- otherwise the compiled module is used when it imports, else the twin;
- ``SIM_REQUIRE_EXT=1`` turns that silent fallback into an ImportError (``make test`` sets it).

``BACKEND`` says which one is in use (``"cython"`` or ``"python"``); it is written into every
``summary.json``.
"""

from __future__ import annotations

import os
from types import ModuleType

_KERNELS = ("acceptance_kw", "advance_energy", "sum_by_index", "priority_allocate", "waterfill", "quantize")


def _import_compiled() -> ModuleType:
    """The compiled module; a stale build (one that lacks a kernel) counts as not built."""
    from core_ext import _sched

    missing = [name for name in _KERNELS if not hasattr(_sched, name)]
    if missing:
        raise ImportError(f"core_ext._sched is a stale build without {', '.join(missing)}")
    return _sched


_kernels: ModuleType
if os.environ.get("SIM_NO_EXT") == "1":
    from core_ext import _sched_py as _kernels

    BACKEND = "python"
else:
    try:
        _kernels = _import_compiled()
        BACKEND = "cython"
    except ImportError as exc:
        if os.environ.get("SIM_REQUIRE_EXT") == "1":
            raise ImportError(
                "SIM_REQUIRE_EXT=1 but the compiled core core_ext._sched is not built "
                f"({exc}); run `make install` (or `pip install -e .`) to build it"
            ) from exc
        from core_ext import _sched_py as _kernels

        BACKEND = "python"

acceptance_kw = _kernels.acceptance_kw
advance_energy = _kernels.advance_energy
sum_by_index = _kernels.sum_by_index
priority_allocate = _kernels.priority_allocate
waterfill = _kernels.waterfill
quantize = _kernels.quantize

__all__ = ["BACKEND", "acceptance_kw", "advance_energy", "priority_allocate", "quantize", "sum_by_index", "waterfill"]
