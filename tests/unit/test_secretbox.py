"""SecretBox (DESIGN §1.8): SMTP passwords under AES-256-GCM, bound to the sender id."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery import messages
from pwrecovery.adapters.secretbox import SecretBox, generate_key

KEY = generate_key()
OTHER_KEY = generate_key()
SENDER = "sender-1"
PLAINTEXT = "smtp-app-password"


def _key_of(length: int) -> str:
    return base64.urlsafe_b64encode(bytes(range(length))).decode("ascii")


def _texts_of(error: pr.PwRecoveryError) -> list[str]:
    """Everything a host could show or log about an error, in every locale."""
    texts = [repr(error), str(error.args), str(vars(error))]
    for locale in messages.LOCALES:
        error.locale = locale
        texts.append(str(error))
    if error.__cause__ is not None:
        texts.append(str(error.__cause__))
    return texts


@given(plaintext=st.text(max_size=200), sender_id=st.text(min_size=1, max_size=40))
def test_round_trip(plaintext: str, sender_id: str) -> None:
    """decrypt(encrypt(p, id), id) gives back p for any text and any sender id."""
    box = SecretBox(KEY)
    assert plaintext == box.decrypt(box.encrypt(plaintext, sender_id), sender_id)


@given(plaintext=st.text(min_size=8, max_size=200))
def test_blob_does_not_contain_the_plaintext(plaintext: str) -> None:
    """The stored blob never holds the password's bytes in the clear."""
    blob = SecretBox(KEY).encrypt(plaintext, SENDER)
    assert plaintext.encode("utf-8") not in blob


def test_two_encryptions_of_one_password_differ() -> None:
    """Every blob has a fresh nonce, so equal passwords do not give equal blobs."""
    box = SecretBox(KEY)
    assert box.encrypt(PLAINTEXT, SENDER) != box.encrypt(PLAINTEXT, SENDER)


def test_blob_is_bound_to_its_sender_id() -> None:
    """A blob copied onto another sender does not decrypt."""
    box = SecretBox(KEY)
    blob = box.encrypt(PLAINTEXT, SENDER)
    with pytest.raises(pr.SecretUndecryptable) as caught:
        box.decrypt(blob, "sender-2")
    assert "sender-2" == caught.value.sender_id


def _opens(box: SecretBox, blob: bytes) -> bool:
    """Whether ``blob`` decrypts; SecretUndecryptable is the only other outcome allowed."""
    try:
        box.decrypt(blob, SENDER)
    except pr.SecretUndecryptable:
        return False
    return True


def _flipped(blob: bytes, index: int, bit: int) -> bytes:
    tampered = bytearray(blob)
    tampered[index] ^= 1 << bit
    return bytes(tampered)


def test_every_bit_flip_is_detected() -> None:
    """Flipping any bit of any byte of the blob makes it undecryptable."""
    box = SecretBox(KEY)
    blob = box.encrypt(PLAINTEXT, SENDER)
    opened = [
        (index, bit)
        for index in range(len(blob))
        for bit in range(8)
        if _opens(box, _flipped(blob, index, bit))
    ]
    assert [] == opened


def test_every_truncation_and_an_extension_are_detected() -> None:
    """A blob cut short at any length, or with a byte added, is undecryptable."""
    box = SecretBox(KEY)
    blob = box.encrypt(PLAINTEXT, SENDER)
    candidates = [blob[:length] for length in range(len(blob))] + [blob + b"\x00"]
    assert [] == [len(candidate) for candidate in candidates if _opens(box, candidate)]


@pytest.mark.parametrize("blob", ["not bytes", bytearray(64), None, 42])
def test_a_blob_that_is_not_bytes_is_undecryptable(blob: object) -> None:
    """Anything but bytes as the blob is refused with SecretUndecryptable."""
    with pytest.raises(pr.SecretUndecryptable):
        SecretBox(KEY).decrypt(blob, SENDER)  # type: ignore[arg-type]


def test_wrong_key_cannot_decrypt() -> None:
    """A blob made under one key does not decrypt under another."""
    blob = SecretBox(KEY).encrypt(PLAINTEXT, SENDER)
    with pytest.raises(pr.SecretUndecryptable):
        SecretBox(OTHER_KEY).decrypt(blob, SENDER)


def test_rotation_decrypts_with_old_keys_and_encrypts_with_the_first() -> None:
    """SecretBox([new, old]) reads blobs made with old and writes blobs only new can read."""
    new, old = OTHER_KEY, KEY
    old_blob = SecretBox(old).encrypt(PLAINTEXT, SENDER)
    rotated = SecretBox([new, old])
    new_blob = rotated.encrypt(PLAINTEXT, SENDER)
    assert PLAINTEXT == rotated.decrypt(old_blob, SENDER)
    assert PLAINTEXT == SecretBox(new).decrypt(new_blob, SENDER)
    with pytest.raises(pr.SecretUndecryptable):
        SecretBox(old).decrypt(new_blob, SENDER)


def test_a_key_with_surrounding_spaces_is_the_same_key() -> None:
    """A key pasted with a trailing newline still opens what it sealed."""
    blob = SecretBox(KEY).encrypt(PLAINTEXT, SENDER)
    assert PLAINTEXT == SecretBox(f"  {KEY}\n").decrypt(blob, SENDER)


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
    assert PLAINTEXT == box.decrypt(box.encrypt(PLAINTEXT, SENDER), SENDER)


def test_undecryptable_error_never_shows_the_key() -> None:
    """SecretUndecryptable's message, repr and attributes hold neither key nor password."""
    blob = SecretBox(KEY).encrypt(PLAINTEXT, SENDER)
    with pytest.raises(pr.SecretUndecryptable) as caught:
        SecretBox(OTHER_KEY).decrypt(blob, SENDER)
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
