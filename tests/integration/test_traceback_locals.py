"""Security review, finding 4: no secret in a traceback formatted with its locals.

Error reporters capture tracebacks with every frame's local variables
(``traceback.TracebackException(..., capture_locals=True)``, Sentry's
``include_local_variables``). For each public method's error paths, over a real
SQLite file and a real SMTP server, the formatted text must hold no secret (a
typed, temporary, new or confirmation password, a verification code, an SMTP
password, the key) outside the public parameters' own names (``password``,
``current_password``, ``new_password``, ``confirmation``, ``code``): below the
public method every local that holds a secret is a ``Secret``, whose ``repr``
is masked.

Release 1 fails many of these: its service passed secrets down as plain ``str``
(``typed``, ``temporary``, ``new``, the SMTP password, the queued payload).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery._domain.tokens import TEMPORARY_PASSWORD_ALPHABET
from pwrecovery.testing.plugin import SMTP_PASSWORD as SMTP_TEST_PASSWORD
from pwrecovery.testing.plugin import SMTP_USERNAME
from pwrecovery.testing.smtp import SmtpServer
from tests.helpers import (
    NEW_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    cheap_hasher,
    temporary_password_in,
    verification_code_in,
)
from tests.integration.leaks import holds

WRONG_PASSWORD = "Caballo azul 78"
WRONG_SMTP_PASSWORD = "clave-smtp-equivocada-Ñ"
WRONG_CODE = "31415926"
MARIA_PASSWORD = "Maria sin correo 2026"
PUBLIC_NAMES = ("password", "current_password", "new_password", "confirmation", "code")
PUBLIC_LINE = re.compile(rf"^\s+(?:{'|'.join(PUBLIC_NAMES)}) = .*$", re.MULTILINE)
_SYMBOL = f"[{TEMPORARY_PASSWORD_ALPHABET}]"
# What a secret looks like even when the test cannot know it (it was made and never mailed).
SHAPES = (
    re.compile(rf"(?<![\w-]){_SYMBOL}{{4}}-{_SYMBOL}{{4}}-{_SYMBOL}{{1,4}}(?![\w-])"),
    re.compile(r"(?<!\w)\d{8}(?!\w)"),
)
FACADE = str(Path(pr.__file__).parent / "_service" / "__init__.py")
# The ports' adapters (Mailer, PasswordHasher) take the secret as ``password: str`` by the
# port's contract: there, and only there below the facade, that one name may hold it.
ADAPTERS = str(Path(pr.__file__).parent / "adapters")


# -- the story the error paths start from ---------------------------------------------------


class FailingStore:
    """The real store, failing (``StoreUnavailable``) at the ``n``-th call of ``name``: a
    database that goes away mid-request, after a secret was made. A fake around a port."""

    def __init__(self, inner: pr.Store, name: str, n: int = 1) -> None:
        self._inner, self._name, self._left = inner, name, n

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if attribute != self._name:
            return value

        def maybe_fail(*args: object, **kwargs: object) -> object:
            self._left -= 1
            if self._left == 0:
                raise pr.StoreUnavailable
            return value(*args, **kwargs)

        return maybe_fail


@attrs.define
class Story:
    service: pr.RecoveryService
    server: SmtpServer
    clock: pr.ManualClock
    key: str
    db_path: Path
    mailer: pr.SmtpMailer
    typed: list[str]  # secrets the test typed or gave

    def on(self, store: object | None = None, key: str | None = "same") -> pr.RecoveryService:
        """Another service on the same file (or on ``store``), clock and mailer."""
        return pr.RecoveryService(
            store=store if store is not None else pr.SqliteStore(self.db_path),  # type: ignore[arg-type]
            mailer=self.mailer,
            secret_key=self.key if key == "same" else key,
            hasher=cheap_hasher(),
            clock=self.clock,
        )

    def secrets(self) -> list[str]:
        """Every secret known so far: typed, configured, and carried by every mail."""
        mailed = []
        for received in self.server.outbox:
            purpose = received.message["X-PwRecovery-Purpose"]
            if purpose == pr.Purpose.TEMPORARY_PASSWORD.value:
                mailed.append(temporary_password_in(received.message))
            elif purpose == pr.Purpose.EMAIL_VERIFICATION.value:
                mailed.append(verification_code_in(received.message))
        return [*self.typed, *mailed]

    def temporary(self) -> str:
        self.service.request_recovery("juan")
        return temporary_password_in(self.server.outbox[-1].message)


@pytest.fixture
def story(
    db_path: Path, pwrecovery_smtp_server: SmtpServer, pwrecovery_smtp_mailer: pr.SmtpMailer
) -> Story:
    key = pr.generate_key()
    clock = pr.ManualClock()
    server = pwrecovery_smtp_server
    typed = [
        USER_PASSWORD,
        SUPERVISOR_PASSWORD,
        MARIA_PASSWORD,
        NEW_PASSWORD,
        WRONG_PASSWORD,
        SMTP_TEST_PASSWORD,
        WRONG_SMTP_PASSWORD,
        WRONG_CODE,
        key,
    ]
    service = pr.RecoveryService(
        store=pr.SqliteStore(db_path),
        mailer=pwrecovery_smtp_mailer,
        secret_key=key,
        hasher=cheap_hasher(),
        clock=clock,
    )
    story = Story(service, server, clock, key, db_path, pwrecovery_smtp_mailer, typed)
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.add_user("juan", USER_PASSWORD)
    service.add_user("maria", MARIA_PASSWORD)
    service.configure_sender("SUPERVISOR", server.settings(SMTP_USERNAME), SMTP_TEST_PASSWORD)
    for login in ("SUPERVISOR", "juan"):
        service.set_recovery_email(login, f"{login.lower()}@empresa.mx")
        service.confirm_recovery_email(login, verification_code_in(server.outbox[-1].message))
    return story


# -- the error paths -------------------------------------------------------------------------

Action = Callable[[], object]


def authenticate_wrong(s: Story) -> Action:
    return lambda: s.service.authenticate("juan", WRONG_PASSWORD)


def authenticate_unknown(s: Story) -> Action:
    return lambda: s.service.authenticate("nadie", USER_PASSWORD)


def authenticate_locked(s: Story) -> Action:
    for _ in range(5):
        with pytest.raises((pr.InvalidCredentials, pr.TooManyAttempts)):
            s.service.authenticate("juan", WRONG_PASSWORD)
    return lambda: s.service.authenticate("juan", USER_PASSWORD)


def authenticate_expired(s: Story) -> Action:
    temporary = s.temporary()
    s.clock.advance(days=8)
    return lambda: s.service.authenticate("juan", temporary)


def authenticate_disabled(s: Story) -> Action:
    s.service.disable_user("juan")
    return lambda: s.service.authenticate("juan", USER_PASSWORD)


def change_mismatch(s: Story) -> Action:
    temporary = s.temporary()
    return lambda: s.service.change_password("juan", temporary, NEW_PASSWORD, NEW_PASSWORD + "!")


def change_policy_common(s: Story) -> Action:
    temporary = s.temporary()
    s.typed.append("iloveyou12")
    return lambda: s.service.change_password("juan", temporary, "iloveyou12", "iloveyou12")


def change_policy_same_as_current(s: Story) -> Action:
    temporary = s.temporary()
    return lambda: s.service.change_password("juan", temporary, USER_PASSWORD, USER_PASSWORD)


def change_policy_temporary_form(s: Story) -> Action:
    temporary = s.temporary()
    return lambda: s.service.change_password("juan", temporary, temporary, temporary)


def change_wrong_current(s: Story) -> Action:
    return lambda: s.service.change_password("juan", WRONG_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)


def change_wrong_temporary(s: Story) -> Action:
    temporary = s.temporary()
    wrong = temporary[:-1] + ("A" if temporary[-1] != "A" else "B")
    s.typed.append(wrong)
    return lambda: s.service.change_password("juan", wrong, NEW_PASSWORD, NEW_PASSWORD)


def recover_unknown(s: Story) -> Action:
    return lambda: s.service.request_recovery("nadie")


def recover_without_address(s: Story) -> Action:
    return lambda: s.service.request_recovery("maria")


def recover_rate_limited(s: Story) -> Action:
    for _ in range(3):
        s.temporary()
    return lambda: s.service.request_recovery("juan")


def recover_delivery_failed(s: Story) -> Action:
    """A temporary password is made, and the server refuses the mail."""
    s.server.reject_data = True
    return lambda: s.service.request_recovery("juan")


def recover_store_gone_after_sending(s: Story) -> Action:
    """The mail went out; the store fails when the request is settled."""
    service = s.on(FailingStore(pr.SqliteStore(s.db_path), "update_user", 2))
    return lambda: service.request_recovery("juan")


def recover_without_sender(s: Story) -> Action:
    for account in s.service.senders():
        s.service.remove_sender(account.id)
    return lambda: s.service.request_recovery("juan")


def configure_refused_by_server(s: Story) -> Action:
    settings = s.server.settings(SMTP_USERNAME)
    return lambda: s.service.configure_sender("SUPERVISOR", settings, WRONG_SMTP_PASSWORD)


def configure_blank(s: Story) -> Action:
    settings = s.server.settings(SMTP_USERNAME)
    return lambda: s.service.configure_sender("SUPERVISOR", settings, "   ")


def confirm_wrong_code(s: Story) -> Action:
    s.service.set_recovery_email("maria", "maria@empresa.mx")
    return lambda: s.service.confirm_recovery_email("maria", WRONG_CODE)


def address_delivery_failed(s: Story) -> Action:
    """A code is made, and the server refuses the mail."""
    s.server.reject_data = True
    return lambda: s.service.set_recovery_email("maria", "maria@empresa.mx")


def deliver_without_key(s: Story) -> Action:
    s.service.request_recovery("juan", delivery="queued")
    window = s.on(key=None)
    return window.deliver_pending


def deliver_store_gone_after_sending(s: Story) -> Action:
    """The worker made the temporary password and mailed it; the store fails as it marks
    the batch sent."""
    s.service.request_recovery("juan", delivery="queued")
    worker = s.on(FailingStore(pr.SqliteStore(s.db_path), "delete_messages"))
    return worker.deliver_pending


def deliver_store_gone_while_storing_the_hash(s: Story) -> Action:
    """The worker made the temporary password; the store fails as it stores the batch's
    hashes."""
    s.service.request_recovery("juan", delivery="queued")
    worker = s.on(FailingStore(pr.SqliteStore(s.db_path), "update_users"))
    return worker.deliver_pending


CASES: dict[str, tuple[Callable[[Story], Action], type[pr.PwRecoveryError]]] = {
    "authenticate_wrong": (authenticate_wrong, pr.InvalidCredentials),
    "authenticate_unknown": (authenticate_unknown, pr.InvalidCredentials),
    "authenticate_locked": (authenticate_locked, pr.TooManyAttempts),
    "authenticate_expired": (authenticate_expired, pr.TemporaryPasswordExpired),
    "authenticate_disabled": (authenticate_disabled, pr.AccountDisabled),
    "change_mismatch": (change_mismatch, pr.PasswordConfirmationMismatch),
    "change_policy_common": (change_policy_common, pr.PasswordPolicyViolation),
    "change_policy_same_as_current": (change_policy_same_as_current, pr.PasswordPolicyViolation),
    "change_policy_temporary_form": (change_policy_temporary_form, pr.PasswordPolicyViolation),
    "change_wrong_current": (change_wrong_current, pr.InvalidCredentials),
    "change_wrong_temporary": (change_wrong_temporary, pr.InvalidCredentials),
    "recover_unknown": (recover_unknown, pr.UnknownUser),
    "recover_without_address": (recover_without_address, pr.RecoveryEmailMissing),
    "recover_rate_limited": (recover_rate_limited, pr.RateLimited),
    "recover_delivery_failed": (recover_delivery_failed, pr.DeliveryFailed),
    "recover_store_gone_after_sending": (recover_store_gone_after_sending, pr.StoreUnavailable),
    "recover_without_sender": (recover_without_sender, pr.NoSenderConfigured),
    "configure_refused_by_server": (configure_refused_by_server, pr.SenderAuthenticationFailed),
    "configure_blank": (configure_blank, pr.SenderCredentialsEmpty),
    "confirm_wrong_code": (confirm_wrong_code, pr.VerificationFailed),
    "address_delivery_failed": (address_delivery_failed, pr.DeliveryFailed),
    "deliver_without_key": (deliver_without_key, pr.SecretKeyMissing),
    "deliver_store_gone_after_sending": (deliver_store_gone_after_sending, pr.StoreUnavailable),
    "deliver_store_gone_while_storing_the_hash": (
        deliver_store_gone_while_storing_the_hash,
        pr.StoreUnavailable,
    ),
}


def caught(story: Story, case: str) -> pr.PwRecoveryError:
    """Run the error path; the error, its traceback starting at the public method (the
    test's own frames, which hold the test's secrets, are dropped)."""
    prepare, expected = CASES[case]
    action = prepare(story)
    with pytest.raises(expected) as raised:
        action()
    error = raised.value
    frame = error.__traceback__
    while frame is not None and "/src/pwrecovery/" not in frame.tb_frame.f_code.co_filename:
        frame = frame.tb_next
    return error.with_traceback(frame)


def leaked(text: str, secrets: list[str]) -> list[str]:
    """What in ``text`` is a secret: the lengths of known ones, and unknown ones by shape.
    (Never the secret itself: a failing test must not print it.)"""
    found = [f"a known secret of {len(s)} characters" for s in secrets if holds(text.encode(), s)]
    found += [
        f"something shaped like /{shape.pattern[:12]}…/" for shape in SHAPES if shape.search(text)
    ]
    return found


def chain(error: BaseException) -> list[traceback.TracebackException]:
    whole = traceback.TracebackException.from_exception(error, capture_locals=True)
    found, current = [], whole
    while current is not None:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_no_secret_in_a_local_below_the_public_method(story: Story, case: str) -> None:
    """Every frame below the public method (and every chained exception's), formatted with
    its locals, shows no secret: whatever holds one there is a ``Secret`` (only a port's
    adapter may hold its ``password: str`` parameter). Release 1 fails: its use cases held
    the typed, temporary and new passwords and codes as ``str``."""
    error = caught(story, case)
    shown = []
    for summary in chain(error):
        shown += [str(summary)]
        for frame in summary.stack:
            if frame.filename == FACADE:
                continue
            port = frame.filename.startswith(ADAPTERS)
            shown += [
                f"{name} = {value}"
                for name, value in (frame.locals or {}).items()
                if not (port and name in PUBLIC_NAMES)
            ]
    assert len(shown) > 1
    assert [] == leaked("\n".join(shown), story.secrets())


@pytest.mark.parametrize("case", CASES)
def test_no_secret_in_the_formatted_traceback(story: Story, case: str) -> None:
    """The whole text an error reporter would keep (``TracebackException(...,
    capture_locals=True)``, every chained exception included) holds no secret outside the
    lines of the public parameters themselves (``password = …``, ``code = …``)."""
    error = caught(story, case)
    text = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    outside = PUBLIC_LINE.sub("", text)
    assert "Traceback" in text
    assert [] == leaked(outside, story.secrets())


def test_the_search_sees_secrets() -> None:
    """The search finds a known secret, and an unknown temporary password or code by its
    shape, so that an empty result above means something."""
    assert leaked(f"x = {USER_PASSWORD!r}", [USER_PASSWORD])
    assert leaked("temporary = 'Kx7P-mQ2z-H9aB'", [])
    assert leaked("code = '57612096'", [])
    assert [] == leaked("at = datetime.datetime(2026, 11, 27, 9, 5, 29, 877717)", [])


def stored_hashes(story: Story) -> list[str]:
    """Every password, temporary password and code hash in the store now."""
    found = []
    for user in pr.SqliteStore(story.db_path).list_users():
        found.append(user.password_hash)
        if user.temporary is not None and user.temporary.hash is not None:
            found.append(user.temporary.hash)
        if user.pending_verification is not None and user.pending_verification.code_hash:
            found.append(user.pending_verification.code_hash)
    return found


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith(("authenticate", "change"))])
def test_no_password_hash_below_the_public_method(story: Story, case: str) -> None:
    """A hash is offline-guessing material: as ``UserRecord``'s ``repr`` hides it, no frame
    below the public method shows it in a local either (an error reporter would ship it)."""
    error = caught(story, case)
    hashes = stored_hashes(story)
    shown = [
        value
        for summary in chain(error)
        for frame in summary.stack
        if frame.filename != FACADE
        for value in (frame.locals or {}).values()
    ]
    assert len(hashes) >= 3
    assert [] == [len(h) for h in hashes if any(h in value for value in shown)]
