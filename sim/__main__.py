"""``python -m sim`` is ``feedertwin``."""

import sys

from sim.cli import main

sys.exit(main())
