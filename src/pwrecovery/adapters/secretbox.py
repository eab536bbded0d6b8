"""Encryption of sender secrets at rest: AES-256-GCM under keys the host holds.

A blob is ``0x02 ‖ key id (4 bytes) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag``. Its
associated data binds the sender's id *and every setting that decides where the
secret goes* (host, port, security, username, authentication, From address): a
row edited without the key no longer opens, so a co-worker who points the
company's sender at a server of his own gets nothing sent there. The key id
tells such an edit ("tampered") from a key that does not match.

Release 1 blobs (``0x01``, bound to the id only) still open, and are reported
as needing a reseal, which the first service holding the key does. The first
key encrypts; every key is tried to decrypt (rotation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from typing import Final

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pwrecovery._secret import Secret
from pwrecovery.exceptions import SecretKeyInvalid, SecretUndecryptable
from pwrecovery.models import SenderAccount

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
KEY_ID_BYTES: Final = 4
_V1: Final = b"\x01"
_V2: Final = b"\x02"
_TAG_BYTES: Final = 16
_V1_AD: Final = b"pwrecovery/sender-password/v1:"
_V2_AD: Final = b"pwrecovery/sender-secret/v2\x00"


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


def binding(account: SenderAccount) -> bytes:
    """The associated data of a sender's secret: its id and where the secret goes."""
    settings = account.settings
    where = {
        "id": account.id,
        "host": settings.host,
        "port": settings.port,
        "security": settings.security.value,
        "username": settings.username,
        "authentication": settings.authentication.value,
        "from_address": settings.from_address,
    }
    return _V2_AD + json.dumps(where, sort_keys=True, ensure_ascii=False).encode("utf-8")


class SecretTampered(SecretUndecryptable):
    """The blob was sealed with one of our keys, but the row's settings were changed
    since (or the blob was damaged): the sender must not be used."""

    code = "sender_tampered"


@attrs.frozen
class Opened:
    """A decrypted secret; ``needs_reseal`` when it was sealed by release 1 or by an
    older key, so the service seals it again under the first key with the v2 binding."""

    secret: Secret
    needs_reseal: bool


@attrs.frozen
class _Key:
    cipher: AESGCM
    id: bytes


class SecretBox:
    """Seals and opens sender secrets; its ``repr`` shows no key."""

    __slots__ = ("_keys",)

    def __init__(self, keys: str | Sequence[str]) -> None:
        if isinstance(keys, str):
            key_list: list[object] = [keys]
        elif isinstance(keys, Sequence):
            key_list = list(keys)
        else:
            raise SecretKeyInvalid
        if not key_list:
            raise SecretKeyInvalid
        self._keys = [self._key(_decode_key(key)) for key in key_list]

    @staticmethod
    def _key(raw: bytes) -> _Key:
        key_id = hmac.new(raw, b"pwrecovery key id", hashlib.sha256).digest()[:KEY_ID_BYTES]
        return _Key(AESGCM(raw), key_id)

    def __repr__(self) -> str:
        return f"SecretBox(<{len(self._keys)} key(s)>)"

    def seal(self, secret: Secret, account: SenderAccount) -> bytes:
        """Seal ``secret`` for ``account`` as it is configured now."""
        key = self._keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = key.cipher.encrypt(nonce, secret.reveal().encode("utf-8"), binding(account))
        return _V2 + key.id + nonce + sealed

    def open(self, blob: bytes, account: SenderAccount) -> Opened:
        """The secret, or ``SecretTampered`` (our key, other settings) or
        ``SecretUndecryptable`` (no key of ours, truncated, unknown format)."""
        if not isinstance(blob, bytes) or len(blob) < 1 + NONCE_BYTES + _TAG_BYTES:
            raise SecretUndecryptable(account.id)
        if blob[:1] == _V1:
            return self._open_v1(blob, account)
        if blob[:1] != _V2 or len(blob) < 1 + KEY_ID_BYTES + NONCE_BYTES + _TAG_BYTES:
            raise SecretUndecryptable(account.id)
        key_id, rest = blob[1 : 1 + KEY_ID_BYTES], blob[1 + KEY_ID_BYTES :]
        nonce, sealed = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
        for position, key in enumerate(self._keys):
            if not hmac.compare_digest(key.id, key_id):
                continue
            try:
                plaintext = key.cipher.decrypt(nonce, sealed, binding(account))
            except InvalidTag as error:
                raise SecretTampered(account.id) from error
            return Opened(_text(plaintext, account.id), needs_reseal=position != 0)
        raise SecretUndecryptable(account.id)

    def _open_v1(self, blob: bytes, account: SenderAccount) -> Opened:
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        associated = _V1_AD + account.id.encode("utf-8")
        for key in self._keys:
            try:
                plaintext = key.cipher.decrypt(nonce, sealed, associated)
            except InvalidTag:
                continue
            return Opened(_text(plaintext, account.id), needs_reseal=True)
        raise SecretUndecryptable(account.id)


def _text(plaintext: bytes, sender_id: str) -> Secret:
    try:
        return Secret(plaintext.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise SecretUndecryptable(sender_id) from error
