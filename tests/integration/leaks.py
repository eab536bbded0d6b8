"""Looking for a secret in bytes, in every form it could take there.

``secret_forms`` lists the byte strings a secret would leave behind if it were
written in plain or merely encoded: its text (and, for a temporary password,
without its hyphens and in either case), in UTF-8, UTF-16 and UTF-32, as hex,
as base64 at each of the three alignments a longer base64 text could put it
in, and, for a numeric code, as the integer SQLite or a binary format would
store. ``store_files`` is a SQLite store with its ``-wal``, ``-shm`` and
``-journal`` companions.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path


def _texts(secret: str) -> set[str]:
    bare = secret.replace("-", "")
    return {secret, bare, secret.lower(), secret.upper(), bare.lower(), bare.upper()}


def _encoded(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    forms = [
        raw,
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        text.encode("utf-32-le"),
        text.encode("utf-32-be"),
        raw.hex().encode("ascii"),
        raw.hex().upper().encode("ascii"),
    ]
    for start in range(3):  # a base64 text holding the secret at any offset holds one of these
        rest = raw[start:]
        whole = len(rest) // 3 * 3
        forms += [base64.b64encode(rest[:whole]), base64.urlsafe_b64encode(rest[:whole])]
    return forms


def secret_forms(secret: str) -> list[bytes]:
    """Every byte string ``secret`` would leave if it were stored or sent, plain or encoded."""
    forms = [form for text in _texts(secret) for form in _encoded(text)]
    if secret.isdigit():
        number = int(secret)
        size = max(4, (number.bit_length() + 7) // 8)
        forms += [number.to_bytes(size, "big"), number.to_bytes(size, "little")]
        forms += [number.to_bytes(8, "big"), number.to_bytes(8, "little")]
    return sorted({form for form in forms if len(form) >= 4}, key=len)


def holds(haystack: bytes, secret: str) -> bool:
    """Whether ``haystack`` holds ``secret`` in any of its forms."""
    return any(form in haystack for form in secret_forms(secret))


def store_files(path: Path) -> list[Path]:
    """A SQLite store's files: the database and whichever companions exist now."""
    names = [path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"]
    return [path.with_name(name) for name in names if path.with_name(name).exists()]


def store_bytes(path: Path) -> bytes:
    return b"".join(file.read_bytes() for file in store_files(path))


def none_held(haystack: bytes, secrets: Iterable[str]) -> list[int]:
    """The lengths of the secrets ``haystack`` holds (lengths only: a failure must not print
    a secret); empty when it holds none."""
    return [len(secret) for secret in secrets if holds(haystack, secret)]
