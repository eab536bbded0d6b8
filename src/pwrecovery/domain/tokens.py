"""Temporary passwords and verification codes.

Randomness enters through one seam, ``randbelow``: the service passes
``secrets.randbelow``; tests may pass anything with the same signature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

# Letters and digits without the look-alikes 0 O 1 l I.
TEMPORARY_PASSWORD_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # noqa: S105 (not a secret)
VERIFICATION_CODE_ALPHABET: Final = "0123456789"
VERIFICATION_CODE_LENGTH: Final = 8

RandBelow = Callable[[int], int]


def _draw(randbelow: RandBelow, alphabet: str, length: int) -> str:
    return "".join(alphabet[randbelow(len(alphabet))] for _ in range(length))


def generate_temporary_password(randbelow: RandBelow, length: int) -> str:
    """A temporary password: ``length`` symbols drawn uniformly from the alphabet."""
    return _draw(randbelow, TEMPORARY_PASSWORD_ALPHABET, length)


def generate_verification_code(randbelow: RandBelow) -> str:
    """A code to confirm a recovery address: eight digits, easy to type."""
    return _draw(randbelow, VERIFICATION_CODE_ALPHABET, VERIFICATION_CODE_LENGTH)


def entropy_bits(alphabet: str, length: int) -> float:
    """Bits of entropy of a secret of ``length`` uniform draws from ``alphabet``."""
    return length * math.log2(len(alphabet))


def normalize_code(code: str) -> str:
    """Accept a code as typed: spaces and dashes between digits are ignored."""
    return "".join(ch for ch in code if ch not in " -\t")
