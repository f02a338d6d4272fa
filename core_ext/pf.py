"""The fast load-flow kernels: compiled (``_pf``) or their pure numpy/scipy twin (``_pf_py``).

The choice is made once, here, at import, by the same rule as ``core_ext/__init__.py``:
- ``SIM_NO_EXT=1`` uses the twin on purpose;
- otherwise the compiled module is used when it imports, else the twin;
- ``SIM_REQUIRE_EXT=1`` turns that silent fallback into an ImportError.

``BACKEND`` says which one is in use (``"cython"`` or ``"python"``). A separate module (not
``core_ext/__init__``) so the load-flow kernels build and load independently of the scheduling core.
"""

from __future__ import annotations

import os
from types import ModuleType

_kernels: ModuleType
if os.environ.get("SIM_NO_EXT") == "1":
    from core_ext import _pf_py as _kernels

    BACKEND = "python"
else:
    try:
        from core_ext import _pf as _kernels

        BACKEND = "cython"
    except ImportError as exc:
        if os.environ.get("SIM_REQUIRE_EXT") == "1":
            raise ImportError(
                "SIM_REQUIRE_EXT=1 but the compiled load-flow kernels core_ext._pf are not built "
                f"({exc}); run `make install` (or `pip install -e .`) to build them"
            ) from exc
        from core_ext import _pf_py as _kernels

        BACKEND = "python"

FixedPoint = _kernels.FixedPoint
spmv = _kernels.spmv
branch_flows = _kernels.branch_flows
magnitude = _kernels.magnitude

__all__ = ["BACKEND", "FixedPoint", "branch_flows", "magnitude", "spmv"]
