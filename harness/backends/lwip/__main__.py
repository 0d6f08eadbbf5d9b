"""``python -m harness.backends.lwip build``: compile the lwIP agent."""

from __future__ import annotations

import sys

from harness.backends.lwip import main

sys.exit(main(sys.argv[1:]))
