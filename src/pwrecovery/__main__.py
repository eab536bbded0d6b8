"""``python -m pwrecovery``: the same as the ``pwrecovery`` command."""

from __future__ import annotations

import sys

from pwrecovery.cli import main

if __name__ == "__main__":
    sys.exit(main())
