"""``python -m textgan`` is the ``textgan`` command."""

import sys

from textgan.cli import main

sys.exit(main())
