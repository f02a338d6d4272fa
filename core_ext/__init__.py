"""The scheduling core: compiled kernels (``_sched``) or their pure-Python twin (``_sched_py``).

The choice is made once, here, at import:
- ``SIM_NO_EXT=1`` uses the twin on purpose;
- otherwise the compiled module is used when it imports, else the twin;
- ``SIM_REQUIRE_EXT=1`` turns that silent fallback into an ImportError (``make test`` sets it).

``BACKEND`` says which one is in use (``"cython"`` or ``"python"``); it is written into every
``summary.json``.
"""

from __future__ import annotations

from core_ext._select import pick

_KERNELS = ("acceptance_kw", "advance_energy", "priority_allocate", "waterfill", "quantize", "pilot_currents",
            "check_currents", "deadline_threshold", "session_limits", "session_power_kw", "advance_sessions")
_kernels, BACKEND = pick("core_ext._sched", "core_ext._sched_py", _KERNELS)

acceptance_kw = _kernels.acceptance_kw
advance_energy = _kernels.advance_energy
priority_allocate = _kernels.priority_allocate
waterfill = _kernels.waterfill
quantize = _kernels.quantize
pilot_currents = _kernels.pilot_currents
check_currents = _kernels.check_currents
deadline_threshold = _kernels.deadline_threshold
session_limits = _kernels.session_limits
session_power_kw = _kernels.session_power_kw
advance_sessions = _kernels.advance_sessions

__all__ = ["BACKEND", "acceptance_kw", "advance_energy", "advance_sessions", "check_currents", "deadline_threshold",
           "pilot_currents", "priority_allocate", "quantize", "session_limits", "session_power_kw", "waterfill"]
