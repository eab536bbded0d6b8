"""Policy defaults and validation, sender settings, and what the records show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
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

DEFAULTS: dict[str, object] = {
    "temporary_password_ttl": timedelta(days=7),
    "temporary_password_length": 12,
    "verification_code_ttl": timedelta(hours=24),
    "verification_code_attempts": 5,
    "recovery_requests_per_window": 3,
    "recovery_window": timedelta(hours=1),
    "max_failed_sign_ins": 5,
    "lockout_base": timedelta(minutes=1),
    "lockout_max": timedelta(hours=1),
    "failure_memory": timedelta(hours=24),
    "password_min_length": 8,
    "password_max_length": 128,
    "disclosure": "detailed",
    "uniform_response_time": timedelta(seconds=1),
    "smtp_logins_per_minute": 20,
    "sender_failures_before_cooldown": 3,
    "sender_cooldown": timedelta(minutes=15),
    "delivery_attempts": 8,
    "delivery_retry_base": timedelta(minutes=1),
    "delivery_lease": timedelta(minutes=5),
    "allow_private_domains": False,
}


def test_defaults_follow_the_design() -> None:
    """Every setting has its documented default (the vendor's, OWASP's or NIST's), and
    this table names every setting there is."""
    policy = pr.Policy()
    assert DEFAULTS == {
        field.name: getattr(policy, field.name) for field in attrs.fields(pr.Policy)
    }


def test_every_setting_can_be_given() -> None:
    """Each setting given a valid value other than its default keeps it."""
    chosen: dict[str, object] = {
        "temporary_password_ttl": timedelta(hours=24),
        "temporary_password_length": 16,
        "verification_code_ttl": timedelta(hours=2),
        "verification_code_attempts": 3,
        "recovery_requests_per_window": 5,
        "recovery_window": timedelta(hours=2),
        "max_failed_sign_ins": 10,
        "lockout_base": timedelta(minutes=2),
        "lockout_max": timedelta(hours=4),
        "failure_memory": timedelta(hours=1),
        "password_min_length": 12,
        "password_max_length": 64,
        "disclosure": "uniform",
        "uniform_response_time": timedelta(0),
        "smtp_logins_per_minute": 5,
        "sender_failures_before_cooldown": 1,
        "sender_cooldown": timedelta(hours=1),
        "delivery_attempts": 3,
        "delivery_retry_base": timedelta(seconds=30),
        "delivery_lease": timedelta(minutes=1),
        "allow_private_domains": True,
    }
    policy = pr.Policy(**chosen)  # type: ignore[arg-type]
    assert chosen == {name: getattr(policy, name) for name in chosen}


def test_policy_is_frozen() -> None:
    """A policy cannot be changed after it is made."""
    policy = pr.Policy()
    with pytest.raises(AttributeError):
        policy.max_failed_sign_ins = 100  # type: ignore[misc]


POSITIVE_DURATIONS = [
    "temporary_password_ttl",
    "verification_code_ttl",
    "recovery_window",
    "lockout_base",
    "lockout_max",
    "failure_memory",
    "sender_cooldown",
    "delivery_retry_base",
    "delivery_lease",
]
POSITIVE_COUNTS = [
    "verification_code_attempts",
    "recovery_requests_per_window",
    "max_failed_sign_ins",
    "password_min_length",
    "password_max_length",
    "smtp_logins_per_minute",
    "sender_failures_before_cooldown",
    "delivery_attempts",
]


def refusal(**settings: object) -> tuple[str, str, dict[str, object]] | str:
    """How Policy refuses the settings: (setting, rule, rule parameters), or "accepted",
    or the name of any other exception."""
    try:
        pr.Policy(**settings)  # type: ignore[arg-type]
    except pr.InvalidConfiguration as error:
        return error.setting, error.rule, error.rule_params
    except Exception as error:  # noqa: BLE001 (any other outcome is what the test reports)
        return type(error).__name__
    return "accepted"


def test_the_validated_settings_are_every_setting() -> None:
    """Every setting is checked by one of the rules tested here."""
    others = {
        "temporary_password_length",
        "disclosure",
        "uniform_response_time",
        "allow_private_domains",
    }
    names = {field.name for field in attrs.fields(pr.Policy)}
    assert names == {*POSITIVE_DURATIONS, *POSITIVE_COUNTS, *others}


@pytest.mark.parametrize("field", POSITIVE_DURATIONS)
@pytest.mark.parametrize(
    "value", [timedelta(0), timedelta(microseconds=-1), 0, 60, -5, None, "1h", 1.5]
)
def test_durations_must_be_positive_timedeltas(field: str, value: object) -> None:
    """A zero, negative or non-duration value (a bare number of seconds too) is refused
    as positive_duration, naming the setting."""
    assert (field, "positive_duration", {}) == refusal(**{field: value})


@pytest.mark.parametrize("field", POSITIVE_COUNTS)
@pytest.mark.parametrize("value", [0, -1, True, False, 12.0, "12", None, timedelta(minutes=5)])
def test_counts_must_be_positive_whole_numbers(field: str, value: object) -> None:
    """Zero, negative, bool, float, text or duration counts are refused as positive_count,
    naming the setting."""
    assert (field, "positive_count", {}) == refusal(**{field: value})


@pytest.mark.parametrize("field", [*POSITIVE_DURATIONS])
def test_the_shortest_positive_duration_is_accepted(field: str) -> None:
    """A microsecond is a positive duration (the lock cap then equals its base)."""
    settings = {field: timedelta(microseconds=1)}
    if field == "lockout_base":
        settings["lockout_max"] = timedelta(microseconds=1)
    if field == "lockout_max":
        settings["lockout_base"] = timedelta(microseconds=1)
    assert "accepted" == refusal(**settings)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"temporary_password_length": 0}, ("temporary_password_length", "positive_count", {})),
        ({"temporary_password_length": True}, ("temporary_password_length", "positive_count", {})),
        (
            {"temporary_password_length": 10},
            ("temporary_password_length", "min_bits", {"bits": 64}),
        ),
        ({"temporary_password_length": 11}, "accepted"),
        ({"temporary_password_length": 64}, "accepted"),
        (
            {"temporary_password_length": 65},
            ("temporary_password_length", "range", {"min": 11, "max": 64}),
        ),
        ({"uniform_response_time": timedelta(0)}, "accepted"),
        (
            {"uniform_response_time": timedelta(microseconds=-1)},
            ("uniform_response_time", "non_negative_duration", {}),
        ),
        ({"uniform_response_time": 1}, ("uniform_response_time", "non_negative_duration", {})),
        ({"uniform_response_time": None}, ("uniform_response_time", "non_negative_duration", {})),
        ({"disclosure": "uniform"}, "accepted"),
        (
            {"disclosure": "Detailed"},
            ("disclosure", "one_of", {"choices": "'detailed', 'uniform'"}),
        ),
        ({"disclosure": ""}, ("disclosure", "one_of", {"choices": "'detailed', 'uniform'"})),
        ({"disclosure": None}, ("disclosure", "one_of", {"choices": "'detailed', 'uniform'"})),
        (
            {"disclosure": ["uniform"]},
            ("disclosure", "one_of", {"choices": "'detailed', 'uniform'"}),
        ),
        ({"allow_private_domains": True}, "accepted"),
        ({"allow_private_domains": 1}, ("allow_private_domains", "type", {"kind": "bool"})),
        ({"allow_private_domains": "yes"}, ("allow_private_domains", "type", {"kind": "bool"})),
        ({"allow_private_domains": None}, ("allow_private_domains", "type", {"kind": "bool"})),
        (
            {"password_min_length": 20, "password_max_length": 19},
            ("password_max_length", "not_below", {"other": "password_min_length"}),
        ),
        ({"password_min_length": 20, "password_max_length": 20}, "accepted"),
        (
            {"lockout_base": timedelta(minutes=10), "lockout_max": timedelta(minutes=5)},
            ("lockout_max", "not_below", {"other": "lockout_base"}),
        ),
        (
            {"lockout_base": timedelta(hours=2)},
            ("lockout_max", "not_below", {"other": "lockout_base"}),
        ),
        ({"lockout_base": timedelta(hours=1)}, "accepted"),
    ],
)
def test_each_rule_refuses_with_its_code(settings: dict[str, object], expected: object) -> None:
    """Each setting is refused with the code of the rule it breaks and that rule's
    parameters, and accepted at the edge of the rule."""
    assert expected == refusal(**settings)


CASES = [
    {"temporary_password_ttl": timedelta(0)},
    {"max_failed_sign_ins": 0},
    {"temporary_password_length": 10},
    {"temporary_password_length": 65},
    {"uniform_response_time": timedelta(seconds=-1)},
    {"disclosure": "vague"},
    {"allow_private_domains": "no"},
    {"password_min_length": 20, "password_max_length": 19},
    {"lockout_base": timedelta(hours=2)},
]


@pytest.mark.parametrize(
    "settings", CASES, ids=[next(iter(c)) + "-" + str(i) for i, c in enumerate(CASES)]
)
def test_every_refusal_reads_in_both_locales(settings: dict[str, object]) -> None:
    """The message names the setting in both locales; the Spanish one says the rule in
    Spanish (no English "it must"/"must"), the English one in English; str() is in the
    error's locale, Spanish by default."""
    with pytest.raises(pr.InvalidConfiguration) as caught:
        pr.Policy(**settings)  # type: ignore[arg-type]
    error = caught.value
    spanish, english = error.message("es_MX"), error.message("en")
    assert (True, True) == (error.setting in spanish, error.setting in english)
    assert (False, False) == ("must" in spanish, "debe" in english or "puede" in english)
    assert (True, spanish) == ("must" in english or "must not" in english, str(error))


def test_invalid_configuration_is_a_value_error_and_ours() -> None:
    """InvalidConfiguration is both a ValueError and a PwRecoveryError with a stable code."""
    with pytest.raises(ValueError, match=r"\S") as caught:
        pr.Policy(max_failed_sign_ins=0)
    assert (True, "invalid_configuration") == (
        isinstance(caught.value, pr.PwRecoveryError),
        caught.value.code,
    )


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
