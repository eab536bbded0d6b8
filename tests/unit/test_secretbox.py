"""SecretBox: sender secrets under AES-256-GCM, bound to the sender's id and to every
setting that decides where the secret goes."""

from __future__ import annotations

import base64
import re
import secrets

import attrs
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery import _i18n
from pwrecovery._secret import Secret
from pwrecovery.adapters.secretbox import SecretBox, SecretTampered, generate_key
from tests.helpers import sender_settings

KEY = generate_key()
OTHER_KEY = generate_key()
SENDER = "sender-1"
PLAINTEXT = "smtp-app-password"
AT = pr.ManualClock().now()


def _account(sender_id: str = SENDER, **changes: object) -> pr.SenderAccount:
    return pr.SenderAccount(
        id=sender_id, owner="SUPERVISOR", settings=sender_settings(**changes), verified_at=AT
    )


ACCOUNT = _account()


def _seal(box: SecretBox, plaintext: str = PLAINTEXT, account: pr.SenderAccount = ACCOUNT) -> bytes:
    return box.seal(Secret(plaintext), account)


def _open(box: SecretBox, blob: object, account: pr.SenderAccount = ACCOUNT) -> str:
    return box.open(blob, account).secret.reveal()  # type: ignore[arg-type]


def _release_1_blob(key: str, plaintext: str, sender_id: str = SENDER) -> bytes:
    """A blob as release 1 sealed it: bound to the sender id only."""
    nonce = secrets.token_bytes(12)
    associated = b"pwrecovery/sender-password/v1:" + sender_id.encode("utf-8")
    raw = base64.urlsafe_b64decode(key)
    return b"\x01" + nonce + AESGCM(raw).encrypt(nonce, plaintext.encode("utf-8"), associated)


def _key_of(length: int) -> str:
    return base64.urlsafe_b64encode(bytes(range(length))).decode("ascii")


def _texts_of(error: pr.PwRecoveryError) -> list[str]:
    """Everything a host could show or log about an error, in every locale."""
    texts = [repr(error), str(error.args), str(vars(error))]
    texts += [error.message(locale) for locale in _i18n.SHIPPED_LOCALES]
    if error.__cause__ is not None:
        texts.append(str(error.__cause__))
    return texts


@given(plaintext=st.text(max_size=200), sender_id=st.text(min_size=1, max_size=40))
def test_round_trip(plaintext: str, sender_id: str) -> None:
    """open(seal(p, account), account) gives back p for any text and any sender id."""
    box = SecretBox(KEY)
    account = _account(sender_id)
    opened = box.open(_seal(box, plaintext, account), account)
    assert (plaintext, False) == (opened.secret.reveal(), opened.needs_reseal)


@given(plaintext=st.text(min_size=8, max_size=200))
def test_blob_does_not_contain_the_plaintext(plaintext: str) -> None:
    """The stored blob never holds the password's bytes in the clear."""
    assert plaintext.encode("utf-8") not in _seal(SecretBox(KEY), plaintext)


def test_two_seals_of_one_password_differ() -> None:
    """Every blob has a fresh nonce, so equal passwords do not give equal blobs."""
    box = SecretBox(KEY)
    assert _seal(box) != _seal(box)


def test_blob_is_bound_to_its_sender_id() -> None:
    """A blob copied onto another sender does not open (and is called tampered)."""
    box = SecretBox(KEY)
    with pytest.raises(SecretTampered) as caught:
        _open(box, _seal(box), _account("sender-2"))
    assert ("sender-2", "sender_tampered") == (caught.value.sender_id, caught.value.code)


@pytest.mark.parametrize(
    "change",
    [
        {"host": "smtp.atacante.mx"},
        {"port": 2525},
        {"security": pr.Security.SSL},
        {"username": "otro@empresa.mx"},
        {"authentication": pr.Authentication.XOAUTH2},
        {"from_address": "otro@empresa.mx"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_setting_that_decides_where_the_secret_goes_is_bound(
    change: dict[str, object],
) -> None:
    """A co-worker who edits the host, port, security, username, authentication or From
    address of a stored sender gets a blob that no longer opens: the secret never goes
    to his server."""
    box = SecretBox(KEY)
    edited = attrs.evolve(ACCOUNT, settings=attrs.evolve(ACCOUNT.settings, **change))
    with pytest.raises(SecretTampered):
        _open(box, _seal(box), edited)


def test_the_display_name_is_not_bound() -> None:
    """Renaming how the sender shows in From does not lock its secret."""
    box = SecretBox(KEY)
    renamed = _account(display_name="Otra área")
    assert PLAINTEXT == _open(box, _seal(box), renamed)


def test_release_1_blobs_open_and_ask_for_a_reseal() -> None:
    """A blob sealed by release 1 (bound to the id only) still opens, and says it must be
    sealed again under the current binding."""
    opened = SecretBox(KEY).open(_release_1_blob(KEY, PLAINTEXT), ACCOUNT)
    assert (PLAINTEXT, True) == (opened.secret.reveal(), opened.needs_reseal)


def test_a_release_1_blob_of_another_key_is_undecryptable_not_tampered() -> None:
    """Release 1 blobs carry no key id: a wrong key is SecretUndecryptable."""
    with pytest.raises(pr.SecretUndecryptable) as caught:
        SecretBox(OTHER_KEY).open(_release_1_blob(KEY, PLAINTEXT), ACCOUNT)
    assert not isinstance(caught.value, SecretTampered)


def _opens(box: SecretBox, blob: bytes) -> bool:
    """Whether ``blob`` opens; SecretUndecryptable is the only other outcome allowed."""
    try:
        _open(box, blob)
    except pr.SecretUndecryptable:
        return False
    return True


def _flipped(blob: bytes, index: int, bit: int) -> bytes:
    tampered = bytearray(blob)
    tampered[index] ^= 1 << bit
    return bytes(tampered)


def test_every_bit_flip_is_detected() -> None:
    """Flipping any bit of any byte of the blob makes it unopenable."""
    box = SecretBox(KEY)
    blob = _seal(box)
    opened = [
        (index, bit)
        for index in range(len(blob))
        for bit in range(8)
        if _opens(box, _flipped(blob, index, bit))
    ]
    assert [] == opened


def test_every_truncation_and_an_extension_are_detected() -> None:
    """A blob cut short at any length, or with a byte added, does not open."""
    box = SecretBox(KEY)
    blob = _seal(box)
    candidates = [blob[:length] for length in range(len(blob))] + [blob + b"\x00"]
    assert [] == [len(candidate) for candidate in candidates if _opens(box, candidate)]


@pytest.mark.parametrize("blob", ["not bytes", bytearray(64), None, 42])
def test_a_blob_that_is_not_bytes_is_undecryptable(blob: object) -> None:
    """Anything but bytes as the blob is refused with SecretUndecryptable."""
    with pytest.raises(pr.SecretUndecryptable):
        _open(SecretBox(KEY), blob)


def test_wrong_key_cannot_open_and_is_not_called_tampered() -> None:
    """A blob made under one key does not open under another: undecryptable, which a
    readiness check tells apart from an edited row."""
    with pytest.raises(pr.SecretUndecryptable) as caught:
        _open(SecretBox(OTHER_KEY), _seal(SecretBox(KEY)))
    assert not isinstance(caught.value, SecretTampered)


def test_rotation_opens_with_old_keys_and_seals_with_the_first() -> None:
    """SecretBox([new, old]) opens blobs of old (asking for a reseal) and seals blobs only
    new can open."""
    new, old = OTHER_KEY, KEY
    old_blob = _seal(SecretBox(old))
    rotated = SecretBox([new, old])
    new_blob = _seal(rotated)
    assert (PLAINTEXT, True) == (
        rotated.open(old_blob, ACCOUNT).secret.reveal(),
        rotated.open(old_blob, ACCOUNT).needs_reseal,
    )
    assert PLAINTEXT == _open(SecretBox(new), new_blob)
    with pytest.raises(pr.SecretUndecryptable):
        _open(SecretBox(old), new_blob)


def test_a_key_with_surrounding_spaces_is_the_same_key() -> None:
    """A key pasted with a trailing newline still opens what it sealed."""
    assert PLAINTEXT == _open(SecretBox(f"  {KEY}\n"), _seal(SecretBox(KEY)))


@pytest.mark.parametrize(
    "keys",
    [
        "",
        "abc",
        "short",
        "%" * 44,
        "not base64 at all, not base64 at all, not!!",
        _key_of(31),
        _key_of(33),
        _key_of(16),
        _key_of(64),
        [],
        (),
        [KEY, "abc"],
        ["abc", KEY],
        None,
        42,
        KEY.encode("ascii"),
        [KEY.encode("ascii")],
        {"key": KEY},
        "clave\u00f1" * 8,
    ],
    ids=[
        "empty",
        "abc",
        "short",
        "not-alphabet",
        "prose",
        "31-bytes",
        "33-bytes",
        "16-bytes",
        "64-bytes",
        "empty-list",
        "empty-tuple",
        "one-bad-after",
        "one-bad-before",
        "none",
        "int",
        "bytes",
        "list-of-bytes",
        "dict",
        "non-ascii",
    ],
)
def test_invalid_keys_are_refused(keys: object) -> None:
    """Anything but one or more 256-bit keys as URL-safe base64 text is SecretKeyInvalid."""
    with pytest.raises(pr.SecretKeyInvalid):
        SecretBox(keys)  # type: ignore[arg-type]


def test_repr_shows_no_key_material() -> None:
    """The repr of a box says how many keys it holds and nothing of them."""
    box = SecretBox([KEY, OTHER_KEY])
    shown = [repr(box), str(box)]
    raw = [base64.urlsafe_b64decode(key) for key in (KEY, OTHER_KEY)]
    assert "SecretBox(<2 key(s)>)" == repr(box)
    assert [] == [key for key in (KEY, OTHER_KEY) for text in shown if key[:8] in text]
    assert [] == [key for key in raw for text in shown if key.hex()[:8] in text]


def test_generate_key_is_44_urlsafe_characters_for_32_bytes() -> None:
    """generate_key() gives URL-safe base64 text of 32 random bytes."""
    key = generate_key()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=", key) is not None
    assert 32 == len(base64.urlsafe_b64decode(key))


def test_generate_key_is_random() -> None:
    """Two generated keys differ."""
    assert generate_key() != generate_key()


def test_generated_key_is_accepted_by_secretbox() -> None:
    """A key from generate_key() makes a working box."""
    box = SecretBox(generate_key())
    assert PLAINTEXT == _open(box, _seal(box))


def test_undecryptable_error_never_shows_the_key() -> None:
    """SecretUndecryptable's message, repr and attributes hold neither key nor password."""
    with pytest.raises(pr.SecretUndecryptable) as caught:
        _open(SecretBox(OTHER_KEY), _seal(SecretBox(KEY)))
    texts = _texts_of(caught.value)
    assert [] == [
        text for text in texts for secret in (KEY, OTHER_KEY, PLAINTEXT) if secret in text
    ]


@pytest.mark.parametrize("bad_key", [_key_of(31), _key_of(33), KEY[:-4] + "!!!!", KEY[:10]])
def test_invalid_key_error_never_shows_the_key(bad_key: str) -> None:
    """SecretKeyInvalid's message, repr, attributes and cause never repeat the key."""
    with pytest.raises(pr.SecretKeyInvalid) as caught:
        SecretBox([KEY, bad_key])
    texts = _texts_of(caught.value)
    assert [] == [text for text in texts for secret in (KEY, bad_key) if secret in text]
