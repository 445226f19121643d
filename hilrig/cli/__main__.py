"""``python -m hilrig.cli``."""

import sys

from hilrig.cli import main

sys.exit(main())
