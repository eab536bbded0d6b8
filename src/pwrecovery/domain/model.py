"""Deprecated: the values are in ``pwrecovery`` (``pwrecovery.models``) and, for those who
write a store, ``pwrecovery.records``."""

from __future__ import annotations

import warnings

from pwrecovery.models import *  # noqa: F403
from pwrecovery.records import *  # noqa: F403

warnings.warn(
    "pwrecovery.domain.model moved to pwrecovery.models and pwrecovery.records",
    DeprecationWarning,
    stacklevel=2,
)
