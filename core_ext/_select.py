"""The one rule that picks a compiled kernel module or its pure-Python twin, at import.

- ``SIM_NO_EXT=1`` uses the twin on purpose;
- otherwise the compiled module is used when it imports and has every kernel (a stale build that
  lacks one counts as not built), else the twin;
- ``SIM_REQUIRE_EXT=1`` turns that silent fallback into an ImportError (``make test`` sets it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from types import ModuleType


def pick(compiled: str, twin: str, kernels: Sequence[str]) -> tuple[ModuleType, str]:
    """``(module, backend)`` with backend ``"cython"`` or ``"python"``; names are module paths."""
    if os.environ.get("SIM_NO_EXT") == "1":
        return importlib.import_module(twin), "python"
    try:
        module = importlib.import_module(compiled)
        missing = [name for name in kernels if not hasattr(module, name)]
        if missing:
            raise ImportError(f"{compiled} is a stale build without {', '.join(missing)}")
        return module, "cython"
    except ImportError as exc:
        if os.environ.get("SIM_REQUIRE_EXT") == "1":
            raise ImportError(
                f"SIM_REQUIRE_EXT=1 but the compiled module {compiled} is not built ({exc}); "
                "run `make install` (or `pip install -e .`) to build it"
            ) from exc
        return importlib.import_module(twin), "python"
