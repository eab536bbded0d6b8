"""What a host needs to test its own integration with pwrecovery.

- ``RecordingMailer`` (its ``outbox`` holds every message), ``ManualClock``
  and ``InMemoryStore``: real, shipped fakes that run the same checks as the
  real adapters.
- ``cheap_hasher()``: Argon2id at its smallest parameters, so that tests are
  fast. **Only for tests**: never give it to a production service.
- ``StaticTokenProvider``: OAuth 2.0 access tokens by username, for XOAUTH2
  senders, with switches to fail.
- ``CountingHasher``: wraps a hasher and counts the key-derivation runs, to prove
  that every answer costs the same work.
- ``temporary_password_in(message)`` and ``verification_code_in(message)``:
  the secret that stands alone on its own line of a mail.
- ``pwrecovery.testing.smtp``: a real SMTP server on loopback (STARTTLS,
  AUTH, its own certificate), needing ``pip install 'pwrecovery[testing]'``.
- ``pwrecovery.testing.plugin``: pytest fixtures; enable them with
  ``pytest_plugins = ["pwrecovery.testing.plugin"]`` in your ``conftest.py``.

>>> from pwrecovery.testing import cheap_hasher
>>> cheap_hasher().verify(cheap_hasher().hash("x" * 8), "x" * 8)
True
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Final

from pwrecovery._domain.tokens import (
    TEMPORARY_GROUP,
    TEMPORARY_PASSWORD_ALPHABET,
    VERIFICATION_CODE_LENGTH,
)
from pwrecovery.adapters.argon2 import Argon2idHasher
from pwrecovery.adapters.memory import InMemoryStore, ManualClock, RecordingMailer
from pwrecovery.models import SenderAccount
from pwrecovery.ports import PasswordHasher

__all__ = [
    "CountingHasher",
    "InMemoryStore",
    "ManualClock",
    "RecordingMailer",
    "StaticTokenProvider",
    "cheap_hasher",
    "temporary_password_in",
    "text_of",
    "verification_code_in",
]

_SYMBOL: Final = f"[{TEMPORARY_PASSWORD_ALPHABET}]"
_TEMPORARY: Final = re.compile(
    rf"^{_SYMBOL}{{{TEMPORARY_GROUP}}}(?:-{_SYMBOL}{{1,{TEMPORARY_GROUP}}})+$", re.MULTILINE
)
_CODE: Final = re.compile(rf"^\d{{{VERIFICATION_CODE_LENGTH}}}$", re.MULTILINE)


class StaticTokenProvider:
    """A ``TokenProvider`` for tests: one access token per username, and switches to fail.

    ``calls`` records ``(sender id, refresh token)`` for each request; a username in
    ``failing`` (or without a token) makes the provider raise, as a real one might.
    """

    def __init__(self, tokens: Mapping[str, str] | None = None) -> None:
        self.tokens: dict[str, str] = dict(tokens or {})
        self.failing: set[str] = set()
        self.calls: list[tuple[str, str | None]] = []

    def __repr__(self) -> str:
        return f"StaticTokenProvider(<{len(self.tokens)} tokens>)"

    def access_token(self, account: SenderAccount, refresh_token: str | None) -> str:
        self.calls.append((account.id, refresh_token))
        username = account.settings.username
        if username in self.failing or username not in self.tokens:
            msg = f"the provider has no token for {username}"
            raise LookupError(msg)
        return self.tokens[username]


class CountingHasher:
    """A ``PasswordHasher`` that counts the work of another: ``hashes`` and ``verifies``
    are the key-derivation runs so far (``identifies`` and ``needs_rehash`` cost none)."""

    def __init__(self, inner: PasswordHasher | None = None) -> None:
        self.inner: PasswordHasher = inner if inner is not None else cheap_hasher()
        self.hashes = 0
        self.verifies = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CountingHasher(hashes={self.hashes}, verifies={self.verifies})"

    @property
    def runs(self) -> int:
        """Key-derivation runs of both kinds."""
        return self.hashes + self.verifies

    def reset(self) -> None:
        with self._lock:
            self.hashes = self.verifies = 0

    def hash(self, password: str) -> str:
        with self._lock:
            self.hashes += 1
        return self.inner.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        with self._lock:
            self.verifies += 1
        return self.inner.verify(encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        return self.inner.needs_rehash(encoded)

    def identifies(self, encoded: str) -> bool:
        return self.inner.identifies(encoded)


def cheap_hasher() -> Argon2idHasher:
    """Argon2id with 8 KiB and one pass: the real code path, a thousand times faster.

    Only for tests. A production service must keep the default ``Argon2idHasher()``.
    """
    return Argon2idHasher(memory_cost=8, iterations=1, lanes=1)


def text_of(message: EmailMessage) -> str:
    """The text part of a pwrecovery mail, with ``\\n`` line ends."""
    body = message.get_body(("plain",))
    if body is None:
        msg = "the message has no text part"
        raise ValueError(msg)
    return str(body.get_content()).replace("\r\n", "\n")


def _alone_on_a_line(message: EmailMessage, pattern: re.Pattern[str], what: str) -> str:
    found = pattern.findall(text_of(message))
    if len(found) != 1:
        msg = f"expected one {what} alone on its line, found {len(found)}"
        raise ValueError(msg)
    return str(found[0])


def temporary_password_in(message: EmailMessage) -> str:
    """The temporary password of a "temporary-password" mail."""
    return _alone_on_a_line(message, _TEMPORARY, "temporary password")


def verification_code_in(message: EmailMessage) -> str:
    """The code of an "email-verification" mail."""
    return _alone_on_a_line(message, _CODE, "verification code")
