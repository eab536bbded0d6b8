"""Encryption of SMTP passwords at rest: AES-256-GCM under keys the host holds.

A blob is ``0x01 || nonce (12 bytes) || ciphertext || tag``; the associated
data binds it to one sender id (or one queued message), so a blob copied onto
another does not decrypt. The first key encrypts; every key is tried to
decrypt (rotation).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pwrecovery.errors import SecretKeyInvalid, SecretUndecryptable

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_FORMAT: Final = b"\x01"
_TAG_BYTES: Final = 16
_AD_PREFIX: Final = b"pwrecovery/"
SENDER_PASSWORD: Final = "sender-password/v1:"  # noqa: S105 (a label, not a secret)
QUEUED_MESSAGE: Final = "queued-message/v1:"


def generate_key() -> str:
    """A new random 256-bit key, as URL-safe base64 text, for ``RecoveryService(secret_key=…)``.

    >>> len(generate_key())
    44
    """
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _decode_key(key: object) -> bytes:
    if not isinstance(key, str):
        raise SecretKeyInvalid
    try:
        raw = base64.b64decode(key.strip().encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise SecretKeyInvalid from exc
    if len(raw) != KEY_BYTES:
        raise SecretKeyInvalid
    return raw


class SecretBox:
    """Encrypts and decrypts sender passwords; its ``repr`` shows no key."""

    __slots__ = ("_ciphers",)

    def __init__(self, keys: str | Sequence[str]) -> None:
        if isinstance(keys, str):
            key_list: list[object] = [keys]
        elif isinstance(keys, Sequence):
            key_list = list(keys)
        else:
            raise SecretKeyInvalid
        if not key_list:
            raise SecretKeyInvalid
        self._ciphers = [AESGCM(_decode_key(key)) for key in key_list]

    def __repr__(self) -> str:
        return f"SecretBox(<{len(self._ciphers)} key(s)>)"

    def encrypt(self, plaintext: str, sender_id: str, *, kind: str = SENDER_PASSWORD) -> bytes:
        """Seal ``plaintext`` for the sender (or, with ``kind``, the message) ``sender_id``."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        associated = _AD_PREFIX + (kind + sender_id).encode("utf-8")
        sealed = self._ciphers[0].encrypt(nonce, plaintext.encode("utf-8"), associated)
        return _FORMAT + nonce + sealed

    def decrypt(self, blob: bytes, sender_id: str, *, kind: str = SENDER_PASSWORD) -> str:
        """The plaintext, or ``SecretUndecryptable`` (wrong key, tampered, truncated, moved)."""
        associated = _AD_PREFIX + (kind + sender_id).encode("utf-8")
        header_len = len(_FORMAT) + NONCE_BYTES
        if not isinstance(blob, bytes) or len(blob) < header_len + _TAG_BYTES:
            raise SecretUndecryptable(sender_id)
        if blob[:1] != _FORMAT:
            raise SecretUndecryptable(sender_id)
        nonce, sealed = blob[1:header_len], blob[header_len:]
        for cipher in self._ciphers:
            try:
                plaintext = cipher.decrypt(nonce, sealed, associated)
            except InvalidTag:
                continue
            try:
                return plaintext.decode("utf-8")
            except UnicodeDecodeError:
                break
        raise SecretUndecryptable(sender_id)
