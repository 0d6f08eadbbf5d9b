"""``python -m fuzz.differential``: what ``stackcheck fuzz --diff`` runs (see fuzz/differential/cli.py)."""

from __future__ import annotations

import sys

from fuzz.differential.cli import main

sys.exit(main(sys.argv[1:]))
