"""The fast load-flow kernels: compiled (``_pf``) or their pure numpy/scipy twin (``_pf_py``).

The choice is made once, here, at import, by the rule in ``core_ext/_select.py`` (as for the
scheduling core).

``BACKEND`` says which one is in use (``"cython"`` or ``"python"``). A separate module (not
``core_ext/__init__``) so the load-flow kernels build and load independently of the scheduling core.
"""

from __future__ import annotations

from core_ext._select import pick

_kernels, BACKEND = pick("core_ext._pf", "core_ext._pf_py", ("FixedPoint", "Injector", "spmv", "slack_power", "branch_flows", "magnitude"))

FixedPoint = _kernels.FixedPoint
Injector = _kernels.Injector
spmv = _kernels.spmv
slack_power = _kernels.slack_power
branch_flows = _kernels.branch_flows
magnitude = _kernels.magnitude

__all__ = ["BACKEND", "FixedPoint", "Injector", "branch_flows", "magnitude", "slack_power", "spmv"]
