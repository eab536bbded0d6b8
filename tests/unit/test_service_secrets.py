"""No secret in a log line, a repr, an audit event, an exception or the store."""

from __future__ import annotations

import logging

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.helpers import (
    NEW_PASSWORD,
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    race_to_change,
    sender_settings,
    temporary_password_in,
    verification_code_in,
)


def test_no_secret_leaks_anywhere(
    make_service: ServiceFactory,
    store: pr.InMemoryStore,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    secret_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Run the whole story, collect every text the host could see, and find no secret in it."""
    caplog.set_level(logging.DEBUG)
    svc = make_service()
    seen: list[str] = []

    def attempt(action: object, *args: object) -> None:
        try:
            action(*args)  # type: ignore[operator]
        except pr.PwRecoveryError as error:
            seen.extend([str(error), repr(error), str(error.__dict__)])

    secrets = [USER_PASSWORD, SUPERVISOR_PASSWORD, NEW_PASSWORD, SMTP_PASSWORD, secret_key]
    svc.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    svc.add_user("juan", USER_PASSWORD)
    attempt(svc.configure_sender, "SUPERVISOR", sender_settings(), "wrong-smtp-password")
    secrets.append("wrong-smtp-password")
    svc.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    for login in ("SUPERVISOR", "juan"):
        svc.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        code = verification_code_in(mailer.outbox[-1])
        secrets.append(code)
        attempt(svc.confirm_recovery_email, login, "99999999" if code != "99999999" else "0")
        svc.confirm_recovery_email(login, code)
    svc.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    secrets.append(temporary)
    attempt(svc.authenticate, "juan", "Caballo azul 78")
    svc.authenticate("juan", temporary)
    attempt(svc.change_password, "juan", temporary, NEW_PASSWORD, "Caballo")
    attempt(svc.change_password, "juan", temporary, temporary, temporary)
    svc.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD)
    attempt(svc.authenticate, "juan", temporary)
    svc.authenticate("juan", NEW_PASSWORD)

    seen += [repr(svc), repr(store), repr(mailer), repr(clock)]
    seen += [repr(u) for u in svc.users()]
    seen += [repr(a) for a in svc.senders()]
    seen += [repr(r) for r in store.list_users()]
    seen += [repr(r) for r in store.list_senders()]
    seen += [repr(e) for e in svc.audit_trail()]
    seen += [record.getMessage() for record in caplog.records]
    stored = [r.password_hash for r in store.list_users()] + [
        r.secret.hex() for r in store.list_senders()
    ]
    haystack = "\n".join(seen + stored)
    for secret in secrets:
        assert secret not in haystack, f"a secret of length {len(secret)} leaked"
    assert 9 <= len(svc.audit_trail())


def test_two_workstations_one_temporary_password(
    make_service: ServiceFactory, ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """Racing threads on one store: the temporary password changes the password exactly once."""
    ready.request_recovery("juan")
    temporary = temporary_password_in(mailer.outbox[-1])
    outcomes = race_to_change([make_service() for _ in range(8)], "juan", temporary)
    assert 1 == outcomes.count("ok")
    # Losers presented a password that no longer works: it counts as a failure like any other.
    assert {"ok", "invalid_credentials", "too_many_attempts"} >= set(outcomes)


def test_clock_must_be_aware(make_service: ServiceFactory) -> None:
    """A clock returning naive datetimes is a configuration error, not silent local time."""
    from datetime import datetime  # noqa: PLC0415

    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2026, 1, 1)  # noqa: DTZ001

    svc = make_service(clock=NaiveClock())
    with pytest.raises(pr.InvalidConfiguration):
        svc.add_user("ana", USER_PASSWORD)


@pytest.mark.parametrize("key", ["", "corta", [], 42])
def test_bad_secret_key(make_service: ServiceFactory, key: object) -> None:
    """A key that is not a 256-bit key is refused when the service is built."""
    with pytest.raises(pr.SecretKeyInvalid):
        make_service(secret_key=key)
