"""Deprecated: the errors are in ``pwrecovery`` (``pr.UnknownUser``…) and
``pwrecovery.exceptions``."""

from __future__ import annotations

import warnings

from pwrecovery.exceptions import *  # noqa: F403
from pwrecovery.exceptions import MISSING_SUPERVISOR, MISSING_USER  # noqa: F401

warnings.warn(
    "pwrecovery.errors moved to pwrecovery.exceptions; import the errors from pwrecovery",
    DeprecationWarning,
    stacklevel=2,
)
