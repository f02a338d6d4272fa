"""The unbalanced load-flow kernels: compiled (``_pf3``) or their pure numpy twin (``_pf3_py``).

Picked once, at import, by the rule in ``core_ext/_select.py`` (as ``core_ext.pf``); ``BACKEND`` says
which one is in use (``"cython"`` or ``"python"``).
"""

from __future__ import annotations

from core_ext._select import pick

_kernels, BACKEND = pick("core_ext._pf3", "core_ext._pf3_py",
                         ("Sequences", "phase_voltages", "branch_phase_flows", "slack_phase_power"))

Sequences = _kernels.Sequences
phase_voltages = _kernels.phase_voltages
branch_phase_flows = _kernels.branch_phase_flows
slack_phase_power = _kernels.slack_phase_power

__all__ = ["BACKEND", "Sequences", "branch_phase_flows", "phase_voltages", "slack_phase_power"]
