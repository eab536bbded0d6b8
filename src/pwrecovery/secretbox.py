"""Deprecated: ``generate_key`` is ``pwrecovery.generate_key``."""

from __future__ import annotations

import warnings

from pwrecovery.adapters.secretbox import SecretBox, generate_key  # noqa: F401

warnings.warn(
    "pwrecovery.secretbox moved to pwrecovery.adapters.secretbox; use pwrecovery.generate_key",
    DeprecationWarning,
    stacklevel=2,
)
