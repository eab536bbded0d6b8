"""Data files shipped inside the package."""

from __future__ import annotations

import functools
import gzip
from importlib import resources


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased (see ``data/NOTICE.md``)."""
    data = resources.files("pwrecovery").joinpath("data/common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip())
