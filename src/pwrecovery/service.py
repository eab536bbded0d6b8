"""Deprecated: ``RecoveryService`` is ``pwrecovery.RecoveryService``."""

from __future__ import annotations

import warnings

from pwrecovery._service import RecoveryService  # noqa: F401

warnings.warn(
    "pwrecovery.service is private since release 2; use pwrecovery.RecoveryService",
    DeprecationWarning,
    stacklevel=2,
)
