"""The error tree: stable codes, groups a host can catch, complete sentences in every locale."""

from __future__ import annotations

import pickle
import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pwrecovery as pr
from pwrecovery import _i18n
from pwrecovery.adapters.secretbox import SecretTampered

# The public contract (docs/design.md), copied by hand: a rename there or here must be deliberate.
DOCUMENTED = {
    "UnknownUser": "unknown_user",
    "UserExists": "user_exists",
    "RecoveryEmailMissing": "recovery_email_missing",
    "NoSenderConfigured": "no_sender_configured",
    "SenderCredentialsEmpty": "sender_credentials_empty",
    "SenderAuthenticationFailed": "sender_auth_failed",
    "SenderUnreachable": "sender_unreachable",
    "DeliveryFailed": "delivery_failed",
    "RateLimited": "rate_limited",
    "InvalidEmailAddress": "invalid_email",
    "InvalidCredentials": "invalid_credentials",
    "TemporaryPasswordExpired": "temporary_password_expired",
    "TooManyAttempts": "too_many_attempts",
    "PasswordConfirmationMismatch": "password_mismatch",
    "PasswordPolicyViolation": "password_policy",
    "VerificationFailed": "verification_failed",
}

ALL_REASONS = tuple(
    msgid.removeprefix("password_rule.")
    for msgid in sorted(_i18n.DEFAULT_TEXTS.msgids())
    if msgid.startswith("password_rule.")
)
UNREACHABLE_REASONS = tuple(
    msgid.removeprefix("unreachable.")
    for msgid in sorted(_i18n.DEFAULT_TEXTS.msgids())
    if msgid.startswith("unreachable.")
)

# One representative instance of every error class, and the attributes it must keep.
SAMPLES: dict[type[pr.PwRecoveryError], tuple[dict[str, object], dict[str, object]]] = {
    pr.UnknownUser: ({"login": "juan"}, {"login": "juan"}),
    pr.UserExists: ({"login": "juan"}, {"login": "juan"}),
    pr.InvalidLogin: ({"max_length": 64}, {}),
    pr.RecoveryEmailMissing: (
        {"login": "juan", "missing": frozenset({"user", "supervisor"})},
        {"login": "juan", "missing": frozenset({"user", "supervisor"})},
    ),
    pr.NoSenderConfigured: ({}, {}),
    pr.SenderCredentialsEmpty: ({}, {}),
    pr.SenderAuthenticationFailed: ({"host": "smtp.empresa.mx"}, {"host": "smtp.empresa.mx"}),
    pr.SenderUnreachable: (
        {"host": "smtp.empresa.mx", "port": 587, "reason": "certificate"},
        {"host": "smtp.empresa.mx", "port": 587, "reason": "certificate"},
    ),
    pr.UnknownSender: ({"sender_id": "s-1"}, {"sender_id": "s-1"}),
    pr.DeliveryFailed: ({"attempts": 2}, {"attempts": 2}),
    pr.RateLimited: (
        {"retry_after": timedelta(minutes=20)},
        {"retry_after": timedelta(minutes=20)},
    ),
    pr.InvalidEmailAddress: ({}, {}),
    pr.InvalidHeaderValue: ({"field": "display_name"}, {"field": "display_name"}),
    pr.InvalidCredentials: ({}, {}),
    pr.TemporaryPasswordExpired: ({}, {}),
    pr.TooManyAttempts: (
        {"retry_after": timedelta(minutes=2)},
        {"retry_after": timedelta(minutes=2)},
    ),
    pr.PasswordConfirmationMismatch: ({}, {}),
    pr.PasswordPolicyViolation: (
        {"reasons": ("too_short", "common"), "min_length": 8, "max_length": 128},
        {"reasons": ("too_short", "common")},
    ),
    pr.VerificationFailed: ({}, {}),
    pr.SecretKeyInvalid: ({}, {}),
    pr.SecretUndecryptable: ({"sender_id": "s-1"}, {"sender_id": "s-1"}),
    pr.ConcurrentModification: ({}, {}),
    pr.StoreUnavailable: ({}, {}),
    pr.StoreSchemaTooNew: ({"found": 9, "supported": 3}, {"found": 9, "supported": 3}),
    pr.StoreDamaged: ({"table": "users"}, {"table": "users"}),
    pr.TokenUnavailable: ({"sender_id": "s-1"}, {"sender_id": "s-1"}),
    pr.InvalidConfiguration: (
        {"setting": "memory_cost", "rule": "positive_count"},
        {"setting": "memory_cost", "rule": "positive_count"},
    ),
    pr.AccountDisabled: ({}, {}),
    pr.ImportRejected: (
        {"rows": [(3, "ana", "duplicate_in_store"), (7, "", "invalid_login")]},
        {"rows": ((3, "ana", "duplicate_in_store"), (7, "", "invalid_login"))},
    ),
    pr.SenderInUse: ({"login": "ana", "sender_ids": ["s-1"]}, {"sender_ids": ("s-1",)}),
    pr.SecretKeyMissing: ({}, {}),
    pr.BasicAuthDisabled: ({"host": "smtp.office365.com"}, {"host": "smtp.office365.com"}),
    pr.SenderAddressRefused: (
        {"host": "smtp.empresa.mx", "address": "x@empresa.mx", "reply_code": 553},
        {"address": "x@empresa.mx", "reply_code": 553},
    ),
    pr.DeliveryRejected: ({"attempts": 1, "reply_code": 550}, {"reply_code": 550}),
    SecretTampered: ({"sender_id": "s-1"}, {"sender_id": "s-1"}),
}

# The groups a host can catch, and what each holds.
GROUPS = {
    pr.InputError: {
        pr.InvalidLogin,
        pr.InvalidEmailAddress,
        pr.InvalidHeaderValue,
        pr.PasswordConfirmationMismatch,
        pr.PasswordPolicyViolation,
        pr.ImportRejected,
    },
    pr.CatalogError: {pr.UnknownUser, pr.UserExists, pr.UnknownSender, pr.SenderInUse},
    pr.CredentialError: {
        pr.InvalidCredentials,
        pr.TemporaryPasswordExpired,
        pr.TooManyAttempts,
        pr.AccountDisabled,
        pr.VerificationFailed,
    },
    pr.RecoveryRefused: {pr.RecoveryEmailMissing, pr.RateLimited},
    pr.SenderError: {
        pr.NoSenderConfigured,
        pr.SenderCredentialsEmpty,
        pr.SenderAuthenticationFailed,
        pr.BasicAuthDisabled,
        pr.SenderUnreachable,
        pr.SenderAddressRefused,
        pr.TokenUnavailable,
        pr.DeliveryFailed,
        pr.DeliveryRejected,
    },
    pr.SecretError: {
        pr.SecretKeyInvalid,
        pr.SecretKeyMissing,
        pr.SecretUndecryptable,
        SecretTampered,
    },
    pr.StoreError: {
        pr.StoreUnavailable,
        pr.StoreSchemaTooNew,
        pr.StoreDamaged,
        pr.ConcurrentModification,
    },
}
GROUP_CLASSES = set(GROUPS)


def _subclasses(cls: type[pr.PwRecoveryError]) -> list[type[pr.PwRecoveryError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _error_classes() -> list[type[pr.PwRecoveryError]]:
    """Every concrete error (groups and private helpers excluded)."""
    return sorted(
        {
            cls
            for cls in _subclasses(pr.PwRecoveryError)
            if cls not in GROUP_CLASSES and not cls.__name__.startswith("_")
        },
        key=lambda cls: cls.__name__,
    )


def _sample(cls: type[pr.PwRecoveryError], locale: str = "es_MX") -> pr.PwRecoveryError:
    error = cls(**SAMPLES[cls][0])
    error.locale = locale
    return error


def _assert_sentence(text: str) -> None:
    assert text[:1].isupper(), text
    assert text.endswith("."), text
    assert "{" not in text, text
    assert "}" not in text, text


samples = pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda cls: cls.__name__)
locales = pytest.mark.parametrize("locale", list(_i18n.SHIPPED_LOCALES))


def test_design_table_matches_the_codes() -> None:
    """Each exception of docs/design.md exists under its name with exactly the documented code."""
    assert DOCUMENTED == {name: getattr(pr, name).code for name in DOCUMENTED}


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_every_documented_error_subclasses_the_base(name: str) -> None:
    """Every documented exception is a PwRecoveryError (and so an Exception)."""
    assert issubclass(getattr(pr, name), pr.PwRecoveryError)


def test_every_error_class_has_a_sample() -> None:
    """This module checks every error the library defines; a new one must be added here."""
    assert set(_error_classes()) == set(SAMPLES)


def test_codes_are_unique() -> None:
    """No two error classes share a code, and none reuses the base's."""
    codes = [cls.code for cls in _error_classes()] + [pr.PwRecoveryError.code]
    assert len(codes) == len(set(codes))


def test_invalid_configuration_is_also_a_value_error() -> None:
    """A bad setting can be caught as the ValueError Python programmers expect."""
    assert issubclass(pr.InvalidConfiguration, ValueError)


@pytest.mark.parametrize("group", list(GROUPS), ids=lambda cls: cls.__name__)
def test_groups_hold_their_errors(group: type[pr.PwRecoveryError]) -> None:
    """A host can catch a whole group: each group holds exactly its documented errors."""
    assert GROUPS[group] == {cls for cls in _error_classes() if issubclass(cls, group)}


def test_every_error_is_in_one_group_or_is_configuration() -> None:
    """Every error belongs to exactly one group, except InvalidConfiguration (a ValueError)."""
    for cls in _error_classes():
        owners = [group for group in GROUPS if issubclass(cls, group)]
        expected = 0 if cls is pr.InvalidConfiguration else 1
        assert expected == len(owners), cls


@samples
@locales
def test_message_is_a_complete_sentence(cls: type[pr.PwRecoveryError], locale: str) -> None:
    """str(error) starts with a capital, ends with a period, and has no unfilled placeholder."""
    _assert_sentence(str(_sample(cls, locale)))


@samples
def test_message_follows_the_locale(cls: type[pr.PwRecoveryError]) -> None:
    """Setting .locale changes the language of str(error)."""
    assert str(_sample(cls, "es_MX")) != str(_sample(cls, "en"))


def test_unknown_locale_falls_back_to_the_default() -> None:
    """An unsupported locale gives the message of the default locale, not an exception."""
    assert str(_sample(pr.UnknownUser, _i18n.DEFAULT_LOCALE)) == str(
        _sample(pr.UnknownUser, "fr_FR")
    )


@samples
def test_message_renders_any_locale_without_changing_the_error(
    cls: type[pr.PwRecoveryError],
) -> None:
    """error.message(locale) says it in that locale; str() keeps the error's own locale."""
    error = _sample(cls, "es_MX")
    assert (str(_sample(cls, "en")), str(error)) == (error.message("en"), error.message())


@pytest.mark.parametrize("reason", UNREACHABLE_REASONS)
@locales
def test_every_unreachable_reason_makes_a_sentence(reason: str, locale: str) -> None:
    """SenderUnreachable names the host, the port and the reason in its locale."""
    error = pr.SenderUnreachable("smtp.empresa.mx", 465, reason)
    error.locale = locale
    text = str(error)
    _assert_sentence(text)
    assert "smtp.empresa.mx:465" in text
    assert _i18n.DEFAULT_TEXTS.text(locale, f"unreachable.{reason}", port=465) in text


@locales
def test_recovery_email_missing_says_which_address_is_missing(locale: str) -> None:
    """The user's, the supervisor's and both missing give three different messages."""
    texts = set()
    for missing in ({"user"}, {"supervisor"}, {"user", "supervisor"}):
        error = pr.RecoveryEmailMissing("juan", missing)  # type: ignore[arg-type]
        error.locale = locale
        assert frozenset(missing) == error.missing
        assert isinstance(error.missing, frozenset)
        texts.add(str(error))
    assert 3 == len(texts)


@pytest.mark.parametrize("cls", [pr.RateLimited, pr.TooManyAttempts], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("retry_after", "es_mx", "en"),
    [
        (timedelta(minutes=2), "2 minutos", "2 minutes"),
        (timedelta(minutes=1), "1 minuto", "1 minute"),
        (timedelta(hours=1), "1 hora", "1 hour"),
        (timedelta(hours=2), "2 horas", "2 hours"),
        (timedelta(seconds=30), "30 segundos", "30 seconds"),
        (timedelta(hours=1, minutes=1), "1 hora y 1 minuto", "1 hour and 1 minute"),
    ],
)
def test_retry_after_is_written_in_words(
    cls: type[pr.RateLimited | pr.TooManyAttempts], retry_after: timedelta, es_mx: str, en: str
) -> None:
    """The wait appears as words in each locale, and retry_after keeps the timedelta."""
    error = cls(retry_after)
    spanish = str(error)
    error.locale = "en"
    assert (retry_after, True, True) == (error.retry_after, es_mx in spanish, en in str(error))


@locales
def test_password_policy_violation_lists_every_reason(locale: str) -> None:
    """Each broken rule's text appears in the message, with its limits filled in."""
    error = pr.PasswordPolicyViolation(ALL_REASONS, min_length=8, max_length=128)
    error.locale = locale
    text = str(error)
    expected = [
        _i18n.DEFAULT_TEXTS.text(locale, f"password_rule.{r}", min_length=8, max_length=128)
        for r in ALL_REASONS
    ]
    assert [] == [reason for reason in expected if reason not in text]
    assert ALL_REASONS == error.reasons
    _assert_sentence(text)


@samples
@locales
def test_errors_survive_pickling(cls: type[pr.PwRecoveryError], locale: str) -> None:
    """An error sent across processes keeps its class, code, attributes, locale and message."""
    error = _sample(cls, locale)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own object, just made)
    attributes = SAMPLES[cls][1]
    assert (cls, error.code, locale, str(error)) == (type(copy), copy.code, copy.locale, str(copy))
    assert attributes == {name: getattr(copy, name) for name in attributes}


@locales
def test_import_rejected_names_every_bad_row(locale: str) -> None:
    """ImportRejected says how many rows are bad and gives one sentence per row, with its
    number, its login and the reason in words."""
    error = _sample(pr.ImportRejected, locale)
    lines = error.row_messages()
    texts = _i18n.DEFAULT_TEXTS
    assert 2 == len(lines)
    assert "3" in lines[0]
    assert "ana" in lines[0]
    assert texts.text(locale, "import_reason.duplicate_in_store") in lines[0]
    assert texts.text(locale, "import_reason.invalid_login") in lines[1]
    assert texts.plural(locale, "error.import_rejected", 2, details="; ".join(lines)) == str(error)


@samples
def test_repr_shows_only_class_and_code(cls: type[pr.PwRecoveryError]) -> None:
    """repr(error) is Class(code='…'), with none of its parameters."""
    assert f"{cls.__name__}(code={cls.code!r})" == repr(_sample(cls))


def _printed_seconds(text: str) -> int:
    units = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
    return sum(
        int(count) * units[unit]
        for count, unit in re.findall(r"(\d+) (second|minute|hour|day)s?", text)
    )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "1 second"),
        (0.2, "1 second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (59.1, "1 minute"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (3599, "1 hour"),
        (3600, "1 hour"),
        (3601, "1 hour and 1 minute"),
        (7200, "2 hours"),
        (5400, "1 hour and 30 minutes"),
        (86400, "1 day"),
        (86401, "24 hours and 1 minute"),
        (30 * 86400, "30 days"),
    ],
)
def test_format_duration_rounds_up(seconds: float, expected: str) -> None:
    """The printed wait is rounded up: 59.1 s is '1 minute', 61 s is '2 minutes'."""
    assert expected == _i18n.format_duration(timedelta(seconds=seconds), "en")


@given(seconds=st.floats(min_value=0, max_value=3 * 86400, allow_nan=False))
def test_waiting_the_printed_time_is_always_enough(seconds: float) -> None:
    """The printed wait is never shorter than the real one, and at most a minute longer."""
    printed = _printed_seconds(_i18n.format_duration(timedelta(seconds=seconds), "en"))
    actual = timedelta(seconds=seconds).total_seconds()
    assert printed >= actual
    assert printed - max(actual, 1) < 60


@given(seconds=st.integers(min_value=0, max_value=3 * 86400))
def test_spanish_and_english_durations_agree(seconds: int) -> None:
    """Both locales print the same amounts, only the words differ."""
    en = _i18n.format_duration(timedelta(seconds=seconds), "en")
    es = _i18n.format_duration(timedelta(seconds=seconds), "es_MX")
    assert re.findall(r"\d+", en) == re.findall(r"\d+", es)
