"""Policy defaults and validation (DESIGN §3), and the value objects of the core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import pwrecovery as pr
from pwrecovery import records

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$cGFzc3dvcmRoYXNo"
TEMPORARY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$dGVtcHNhbHQ$dGVtcG9yYXJ5aGFzaA"
CODE_HASH = "$argon2id$v=19$m=19456,t=2,p=1$Y29kZXNhbHQ$Y29kZWhhc2hjb2Rl"
SMTP_BLOB = b"\x01\x02nonce-and-ciphertext-of-the-smtp-password"


def settings(**changes: object) -> pr.SenderSettings:
    values: dict[str, object] = {
        "host": "smtp.empresa.mx",
        "port": 587,
        "security": pr.Security.STARTTLS,
        "username": "envios@empresa.mx",
        "from_address": "envios@empresa.mx",
        "display_name": "Contabilidad",
    }
    values.update(changes)
    return pr.SenderSettings(**values)  # type: ignore[arg-type]


# Policy


def test_defaults_follow_the_design() -> None:
    """Every default is the value DESIGN §3 gives."""
    policy = pr.Policy()
    expected = {
        "temporary_password_ttl": timedelta(days=7),
        "temporary_password_length": 12,
        "verification_code_ttl": timedelta(hours=24),
        "recovery_requests_per_window": 3,
        "recovery_window": timedelta(hours=1),
        "max_failed_sign_ins": 5,
        "lockout_base": timedelta(minutes=1),
        "lockout_max": timedelta(hours=1),
        "password_min_length": 8,
        "password_max_length": 128,
        "disclosure": "detailed",
    }
    assert expected == {name: getattr(policy, name) for name in expected}


def test_uniform_disclosure_is_accepted() -> None:
    """ "uniform" is the other documented disclosure."""
    assert "uniform" == pr.Policy(disclosure="uniform").disclosure


def test_24_hour_temporary_password_is_accepted() -> None:
    """The NIST-style 24-hour lifetime the design mentions is a valid setting."""
    ttl = timedelta(hours=24)
    assert ttl == pr.Policy(temporary_password_ttl=ttl).temporary_password_ttl


def test_policy_is_frozen() -> None:
    """A policy cannot be changed after it is made."""
    policy = pr.Policy()
    with pytest.raises(AttributeError):
        policy.max_failed_sign_ins = 100  # type: ignore[misc]


TIMEDELTA_FIELDS = [
    "temporary_password_ttl",
    "verification_code_ttl",
    "recovery_window",
    "lockout_base",
    "lockout_max",
]
INT_FIELDS = [
    "temporary_password_length",
    "verification_code_attempts",
    "recovery_requests_per_window",
    "max_failed_sign_ins",
    "password_min_length",
    "password_max_length",
]


def outcome(field: str, value: object) -> str:
    """What Policy does with one setting: "refused", "accepted" or the stray exception."""
    try:
        pr.Policy(**{field: value})  # type: ignore[arg-type]
    except pr.InvalidConfiguration as error:
        return "refused" if error.setting == field else f"refused as {error.setting}"
    except Exception as error:  # noqa: BLE001 (any other outcome is what the test reports)
        return type(error).__name__
    return "accepted"


@pytest.mark.parametrize("field", TIMEDELTA_FIELDS)
@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1), 0, -5, None, "1h"])
def test_durations_must_be_positive_timedeltas(field: str, value: object) -> None:
    """A zero, negative or non-duration value for a duration is refused, naming the setting."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(**{field: value})  # type: ignore[arg-type]
    assert field == caught.value.setting


def test_durations_given_as_bare_numbers_are_refused() -> None:
    """A positive number where a timedelta belongs is refused up front, not used later."""
    expected = dict.fromkeys(TIMEDELTA_FIELDS, "refused")
    assert expected == {field: outcome(field, 60) for field in TIMEDELTA_FIELDS}


@pytest.mark.parametrize("field", INT_FIELDS)
@pytest.mark.parametrize("value", [0, -1, True, False, 12.0, "12", None])
def test_counts_must_be_positive_whole_numbers(field: str, value: object) -> None:
    """Zero, negative, bool, float or text counts are refused, naming the setting."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(**{field: value})  # type: ignore[arg-type]
    assert field == caught.value.setting


def test_counts_given_as_timedeltas_are_refused() -> None:
    """A positive timedelta where a count belongs is refused up front, not used later."""
    expected = dict.fromkeys(INT_FIELDS, "refused")
    assert expected == {field: outcome(field, timedelta(minutes=5)) for field in INT_FIELDS}


def test_password_max_below_min_is_refused() -> None:
    """The longest allowed password cannot be shorter than the shortest."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(password_min_length=20, password_max_length=19)
    assert "password_max_length" == caught.value.setting


def test_password_max_equal_to_min_is_accepted() -> None:
    """Equal minimum and maximum is a (strict) valid setting."""
    assert 20 == pr.Policy(password_min_length=20, password_max_length=20).password_max_length


def test_lockout_max_below_base_is_refused() -> None:
    """The lock cap cannot be shorter than the first lock."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(lockout_base=timedelta(minutes=10), lockout_max=timedelta(minutes=5))
    assert "lockout_max" == caught.value.setting


@pytest.mark.parametrize("value", ["vague", "Detailed", "", None])
def test_unknown_disclosure_is_refused(value: object) -> None:
    """Only "detailed" and "uniform" are disclosures."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(disclosure=value)  # type: ignore[arg-type]
    assert "disclosure" == caught.value.setting


def test_invalid_configuration_is_a_value_error_and_ours() -> None:
    """InvalidConfiguration is both a ValueError and a PwRecoveryError with a stable code."""
    with pytest.raises(ValueError, match=r"\S") as caught:
        pr.Policy(max_failed_sign_ins=0)
    assert isinstance(caught.value, pr.PwRecoveryError)
    assert "invalid_configuration" == caught.value.code


# SenderSettings


def test_sender_settings_normalise_the_from_address() -> None:
    """The from address is normalised like any other address (domain lower-cased)."""
    assert "Envios@empresa.mx" == settings(from_address="Envios@EMPRESA.MX").from_address


def test_sender_settings_convert_security_from_text() -> None:
    """The security mode may be given as its string value."""
    assert pr.Security.SSL is settings(security="ssl").security


def test_sender_settings_refuse_an_invalid_from_address() -> None:
    """A from address that is not an address is refused."""
    with pytest.raises(pr.InvalidEmailAddress):
        settings(from_address="Contabilidad <envios@empresa.mx>")


@pytest.mark.parametrize("port", [1, 25, 465, 587, 65535])
def test_sender_settings_accept_ports_1_to_65535(port: int) -> None:
    """Every TCP port number is a valid port."""
    assert port == settings(port=port).port


@pytest.mark.parametrize("port", [0, -1, 65536, True, False, 587.0, "587"])
def test_sender_settings_refuse_bad_ports(port: object) -> None:
    """Port 0, over 65535, a bool, a float or text is refused."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        settings(port=port)
    assert "port" == caught.value.setting


@pytest.mark.parametrize("field", ["username", "display_name"])
@pytest.mark.parametrize("bad", ["\r", "\n", "\x00", "\u2028"])
def test_sender_settings_refuse_line_breaks_in_header_fields(field: str, bad: str) -> None:
    """A username or display name that could inject a header is refused."""
    with pytest.raises(pr.InvalidHeaderValue) as caught:
        settings(**{field: f"Conta{bad}bilidad"})
    assert field == caught.value.field


def test_sender_settings_refuse_a_bad_host() -> None:
    """The host goes through the host check."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        settings(host="smtp empresa.mx")
    assert "host" == caught.value.setting


def test_sender_settings_refuse_unknown_security() -> None:
    """An unknown security mode is refused as a configuration error of ours."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        settings(security="tls")
    assert "security" == caught.value.setting


# Reprs never show secrets


def test_temporary_credential_repr_hides_the_hash() -> None:
    """The hash of a temporary password does not appear in its repr."""
    credential = records.TemporaryCredential(
        id="t1", hash=TEMPORARY_HASH, issued_at=NOW, expires_at=NOW + timedelta(days=7)
    )
    assert TEMPORARY_HASH not in repr(credential)
    assert "t1" in repr(credential)


def test_pending_verification_repr_hides_the_code_hash() -> None:
    """The hash of a verification code does not appear in its repr."""
    pending = records.PendingVerification(code_hash=CODE_HASH, expires_at=NOW)
    assert CODE_HASH not in repr(pending)


def test_user_record_repr_hides_every_hash() -> None:
    """A user record shows neither its password hash nor nested secret hashes."""
    record = records.UserRecord(
        login="juan",
        key="juan",
        password_hash=PASSWORD_HASH,
        pending_verification=records.PendingVerification(code_hash=CODE_HASH, expires_at=NOW),
        temporary=records.TemporaryCredential(
            id="t1", hash=TEMPORARY_HASH, issued_at=NOW, expires_at=NOW + timedelta(days=7)
        ),
    )
    text = repr(record)
    assert [] == [secret for secret in (PASSWORD_HASH, TEMPORARY_HASH, CODE_HASH) if secret in text]
    assert "juan" in text


def test_sender_record_repr_hides_the_encrypted_password() -> None:
    """A sender record does not show the encrypted SMTP password."""
    account = pr.SenderAccount(id="s1", owner="juan", settings=settings(), verified_at=NOW)
    record = records.SenderRecord(account=account, secret=SMTP_BLOB, owner_supervisor=True)
    text = repr(record)
    assert repr(SMTP_BLOB) not in text
    assert "nonce-and-ciphertext" not in text
    assert "s1" in text


def test_user_as_the_host_sees_it_has_no_secret_fields() -> None:
    """to_user() carries the public fields only."""
    record = records.UserRecord(
        login="juan",
        key="juan",
        display_name="Juan Pérez",
        password_hash=PASSWORD_HASH,
        recovery_email="juan@empresa.mx",
        recovery_email_verified=True,
    )
    expected = pr.User(
        login="juan",
        display_name="Juan Pérez",
        supervisor=False,
        recovery_email="juan@empresa.mx",
        recovery_email_verified=True,
    )
    assert expected == record.to_user()
    assert PASSWORD_HASH not in repr(record.to_user())


@pytest.mark.parametrize(
    ("address", "verified", "expected"),
    [
        (None, False, False),
        (None, True, False),
        ("juan@empresa.mx", False, False),
        ("juan@empresa.mx", True, True),
    ],
)
def test_has_verified_address_needs_both(
    address: str | None, verified: bool, expected: bool
) -> None:
    """Only a set and confirmed address counts (an unconfirmed one counts as missing)."""
    record = records.UserRecord(
        login="juan",
        key="juan",
        password_hash=PASSWORD_HASH,
        recovery_email=address,
        recovery_email_verified=verified,
    )
    assert expected == record.has_verified_address


def test_uniform_response_time() -> None:
    """Uniform mode waits 1 s by default; zero is allowed, negative or non-timedelta is not."""
    assert timedelta(seconds=1) == pr.Policy().uniform_response_time
    assert timedelta(0) == pr.Policy(uniform_response_time=timedelta(0)).uniform_response_time
    for bad in (timedelta(seconds=-1), 1, None):
        with pytest.raises(pr.InvalidConfiguration):
            pr.Policy(uniform_response_time=bad)  # type: ignore[arg-type]
