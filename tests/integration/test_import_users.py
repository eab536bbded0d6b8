"""Bringing an existing application's users, with the hashes of passwords nobody knows:
``import_users`` is one transaction, all or nothing, on every store (the table of
tests/contract/conftest.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pwrecovery as pr
from tests.conftest import ServiceFactory
from tests.contract.conftest import STORE_FACTORIES
from tests.helpers import (
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    cheap_hasher,
    sender_settings,
    verification_code_in,
    verify_address,
)
from tests.legacy_hashes import (
    OLD_PASSWORD,
    bcrypt_hash,
    django_pbkdf2,
    legacy_hashers,
    stores_of_every_kind,
)

ORIGIN = "MIGRACION"


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pr.Store]:
    """Each store kind in turn (MariaDB too, once it is in that table)."""
    yield from stores_of_every_kind(request, tmp_path)


@pytest.fixture
def importer(make_service: ServiceFactory, mailer: pr.RecordingMailer) -> pr.RecoveryService:
    """A service that knows Django's and bcrypt hashes, with a verified SUPERVISOR, a
    sender, and one user of its own (``juan``); nothing mailed yet."""
    service = make_service(legacy_hashers=legacy_hashers())
    service.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True)
    service.add_user("juan", "Caballo azul 77")
    service.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(service, mailer, "SUPERVISOR", "supervisor@empresa.mx")
    mailer.outbox.clear()
    return service


@functools.cache
def bulk_hashes(count: int) -> tuple[str, ...]:
    """Django hashes of ``Clave vieja <n>``, made once for every test that needs them."""
    return tuple(django_pbkdf2(f"Clave vieja {n}", f"sal{n:019d}") for n in range(count))


def bulk_rows(count: int, **changes: object) -> list[pr.ImportedUser]:
    """``count`` users of the old application, each with an address the host vouches for."""
    hashes = bulk_hashes(10_000)
    values: dict[str, object] = {"recovery_email_verified": True}
    values.update(changes)
    return [
        pr.ImportedUser(
            login=f"usuario{n:05d}",
            password_hash=hashes[n],
            display_name=f"Usuario {n}",
            recovery_email=f"usuario{n:05d}@empresa.mx",
            **values,  # type: ignore[arg-type]
        )
        for n in range(count)
    ]


def kinds(service: pr.RecoveryService, login: str | None = None) -> list[str]:
    return [event.kind for event in service.audit_trail(login)]


def logins(service: pr.RecoveryService) -> list[str]:
    return [user.login for user in service.users()]


# -- all of them, in one transaction ---------------------------------------------------


@pytest.mark.parametrize("count", [1, 500, pytest.param(10_000, marks=pytest.mark.slow)])
def test_every_row_is_imported(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer, count: int
) -> None:
    """An import of 1, 500 or 10,000 users stores every one, each audited as imported
    with its hash's scheme and the origin; vouched addresses are mailed nothing."""
    rows = bulk_rows(count)
    imported = importer.import_users(rows, origin=ORIGIN)
    expected = [f"usuario{n:05d}" for n in range(count)]
    assert expected == [user.login for user in imported]
    assert ["juan", "SUPERVISOR", *expected] == logins(importer)
    events = [e for e in importer.audit_trail() if e.kind == "user_imported"]
    assert count == len(events)
    assert {("Pbkdf2Hasher", "False", ORIGIN)} == {
        (e.detail["scheme"], e.detail["supervisor"], e.origin) for e in events
    }
    assert [] == mailer.outbox
    last = expected[-1]
    assert pr.User(last, f"Usuario {count - 1}", False, f"{last}@empresa.mx", True) == (
        importer.get_user(last)
    )
    password = f"Clave vieja {count - 1}"
    assert pr.LoginStatus.OK == importer.authenticate(last, password).status


def test_a_bad_row_in_the_middle_imports_nothing(
    importer: pr.RecoveryService, store: pr.Store, mailer: pr.RecordingMailer
) -> None:
    """One bad row among 500 (row 250): no user is imported, nothing audited as
    imported, nothing queued or mailed; the error names that row."""
    rows = bulk_rows(500, recovery_email_verified=False)
    rows[249] = pr.ImportedUser(
        login="usuario00249", password_hash=rows[249].password_hash, recovery_email="usuario@"
    )
    before = kinds(importer)
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows, mail="queued", origin=ORIGIN)
    assert ((250, "usuario00249", "invalid_email"),) == caught.value.rows
    assert ["row 250 (“usuario00249”): the recovery e-mail address is not valid"] == (
        caught.value.row_messages("en")
    )
    assert ["juan", "SUPERVISOR"] == logins(importer)
    assert before == kinds(importer)
    assert [] == store.due_messages(pr.ManualClock().now() + pr.Policy().delivery_lease, 1000)
    assert [] == mailer.outbox


def test_every_bad_row_is_listed_with_its_reason(importer: pr.RecoveryService) -> None:
    """ImportRejected lists every bad row at once (number from 1, login, reason code),
    with a sentence for each in the service's locale or any other."""
    good = django_pbkdf2(OLD_PASSWORD)
    rows = [
        pr.ImportedUser(login="ana", password_hash=good),
        pr.ImportedUser(login="", password_hash=good),
        pr.ImportedUser(login="bea", password_hash="5f4dcc3b5aa765d61d8327deb882cf99"),
        pr.ImportedUser(login="carlos", password_hash=good, recovery_email="carlos@"),
        pr.ImportedUser(login="diana", password_hash=good, locale="fr_FR"),
        pr.ImportedUser(login="elena", password_hash=good, display_name="Elena\r\nBcc: x@y.mx"),
        pr.ImportedUser(login="JUAN", password_hash=good),
        pr.ImportedUser(login="Ana", password_hash=good),
        pr.ImportedUser(login="fer", password_hash=good, locale="en"),
    ]
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows)
    assert (
        (2, "", "invalid_login"),
        (3, "bea", "unknown_hash"),
        (4, "carlos", "invalid_email"),
        (5, "diana", "invalid_locale"),
        (6, "elena", "invalid_display_name"),
        (7, "JUAN", "duplicate_in_store"),
        (8, "Ana", "duplicate_in_batch"),
    ) == caught.value.rows
    assert [
        "row 2 (“”): the user name is not valid",
        "row 3 (“bea”): no configured password format recognises its hash",
        "row 4 (“carlos”): the recovery e-mail address is not valid",
        "row 5 (“diana”): the language is not one of those available",
        "row 6 (“elena”): the display name holds characters that are not allowed or is too long",
        "row 7 (“JUAN”): a user with that name already exists",
        "row 8 (“Ana”): the user appears more than once in the import",
    ] == caught.value.row_messages("en")
    spanish = caught.value.row_messages()  # the service's locale
    assert "fila 7 («JUAN»): ya existe un usuario con ese nombre" == spanish[5]
    assert str(caught.value).startswith("No se importó ningún usuario porque 7 filas")
    assert ["juan", "SUPERVISOR"] == logins(importer)


@pytest.mark.parametrize(
    ("first", "second"),
    [("pedro", "PEDRO"), ("juana", "Ｊｕａｎａ"), ("ｐｅｄｒｏ", "Pedro"), ("ﬁdel", "FIDEL")],
)
def test_duplicates_in_the_batch_differ_only_by_case_or_nfkc(
    importer: pr.RecoveryService, first: str, second: str
) -> None:
    """Two rows whose logins differ only by case or by NFKC (full-width letters, a
    ligature) are the same user: the second is refused, shown as NFKC made it."""
    hashed = django_pbkdf2(OLD_PASSWORD)
    rows = [pr.ImportedUser(login=login, password_hash=hashed) for login in (first, second)]
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows)
    shown = second.replace("Ｊｕａｎａ", "Juana")
    assert ((2, shown, "duplicate_in_batch"),) == caught.value.rows


@pytest.mark.parametrize("login", ["JUAN", "Juan", "Ｊｕａｎ", " juan "])
def test_duplicates_of_a_stored_user_differ_only_by_case_or_nfkc(
    importer: pr.RecoveryService, login: str
) -> None:
    """A row whose login is a stored user's but for case, NFKC or surrounding spaces is
    refused as existing ("Ｊｕａｎ" is "juan")."""
    rows = [pr.ImportedUser(login=login, password_hash=django_pbkdf2(OLD_PASSWORD))]
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows)
    shown = login.replace("Ｊｕａｎ", "Juan").strip()
    assert ((1, shown, "duplicate_in_store"),) == caught.value.rows
    assert ["juan", "SUPERVISOR"] == logins(importer)


@pytest.mark.parametrize(
    "password_hash",
    [
        "5f4dcc3b5aa765d61d8327deb882cf99",  # MD5, no hasher configured for it
        "sha1$sal$c88e9c67041a74e0357befdff93f87dde0904214",  # Django's old salted SHA-1
        "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "pbkdf2_sha256$3000000$sal$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdA==",  # above its max
        "$2b$31$" + "a" * 53,  # bcrypt cost above what it accepts
        "$argon2id$v=19$m=9999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    ],
)
def test_a_hash_no_configured_hasher_identifies_is_refused(
    importer: pr.RecoveryService, password_hash: str
) -> None:
    """A hash that neither the service's hasher nor a legacy one identifies (a foreign
    format, or one whose cost is beyond the hasher's bounds) is refused: no user could
    ever sign in with it."""
    rows = [pr.ImportedUser(login="ana", password_hash=password_hash)]
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows)
    assert ((1, "ana", "unknown_hash"),) == caught.value.rows


def test_hashes_of_every_configured_scheme_are_imported(importer: pr.RecoveryService) -> None:
    """Django's PBKDF2, bcrypt ($2a$, $2b$, $2y$) and the service's own Argon2id are each
    identified; the audit names the scheme, never the hash."""
    hashes = {
        "ana": django_pbkdf2(OLD_PASSWORD),
        "bea": bcrypt_hash(OLD_PASSWORD, prefix=b"2a"),
        "carlos": bcrypt_hash(OLD_PASSWORD),
        "diana": "$2y$" + bcrypt_hash(OLD_PASSWORD)[4:],
        "elena": cheap_hasher().hash(OLD_PASSWORD),
    }
    rows = [pr.ImportedUser(login=login, password_hash=h) for login, h in hashes.items()]
    importer.import_users(rows, origin=ORIGIN)
    events = [e for e in importer.audit_trail() if e.kind == "user_imported"]
    assert [
        ("ana", "Pbkdf2Hasher"),
        ("bea", "BcryptHasher"),
        ("carlos", "BcryptHasher"),
        ("diana", "BcryptHasher"),
        ("elena", "Argon2idHasher"),
    ] == [(e.login, e.detail["scheme"]) for e in events]
    trail = repr(importer.audit_trail())
    assert not any(h in trail or h[-20:] in trail for h in hashes.values())


# -- recovery addresses --------------------------------------------------------------


def test_a_vouched_address_counts_at_once(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """An address the host vouches for is verified at once, audited as vouched (masked),
    and nothing is mailed; the user can recover straight away."""
    row = pr.ImportedUser(
        login="ana",
        password_hash=django_pbkdf2(OLD_PASSWORD),
        recovery_email="Ana@Empresa.MX",
        recovery_email_verified=True,
    )
    importer.import_users([row], origin=ORIGIN)
    user = importer.get_user("ana")
    assert ("Ana@empresa.mx", True) == (user.recovery_email, user.recovery_email_verified)
    vouched = [e for e in importer.audit_trail("ana") if e.kind == "recovery_email_vouched"]
    assert [({"address": "A***@empresa.mx"}, ORIGIN)] == [
        (dict(e.detail), e.origin) for e in vouched
    ]
    assert [] == mailer.outbox
    assert "ana" not in importer.readiness().users_without_address
    assert "A***@empresa.mx" == importer.request_recovery("ana").masked_address


def test_an_unverified_address_is_mailed_a_code(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """An address not vouched for is stored unverified and mailed a verification code at
    once; it counts only once the user types the code back."""
    row = pr.ImportedUser(
        login="ana", password_hash=django_pbkdf2(OLD_PASSWORD), recovery_email="ana@empresa.mx"
    )
    importer.import_users([row], origin=ORIGIN)
    assert ["email-verification"] == [m["X-PwRecovery-Purpose"] for m in mailer.outbox]
    assert "ana@empresa.mx" in mailer.outbox[0]["To"]
    assert importer.get_user("ana").recovery_email_verified is False
    assert "ana" in importer.readiness().users_without_address
    importer.confirm_recovery_email("ana", verification_code_in(mailer.outbox[0]))
    assert importer.get_user("ana").recovery_email_verified is True
    assert "recovery_email_vouched" not in kinds(importer, "ana")


def _queued_import(service: pr.RecoveryService, **options: object) -> None:
    rows = [
        pr.ImportedUser(
            login="ana", password_hash=django_pbkdf2(OLD_PASSWORD), recovery_email="ana@empresa.mx"
        ),
        pr.ImportedUser(
            login="bea",
            password_hash=bcrypt_hash(OLD_PASSWORD),
            recovery_email="bea@empresa.mx",
            recovery_email_verified=True,
        ),
    ]
    service.import_users(rows, origin=ORIGIN, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("keyless", [False, True], ids=["mail-queued", "keyless-service"])
def test_codes_are_queued_with_the_users_and_sent_by_the_worker(
    importer: pr.RecoveryService,
    make_service: ServiceFactory,
    store: pr.Store,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    keyless: bool,
) -> None:
    """With ``mail="queued"``, or on a service without the key, the verification mail is
    stored in the import's transaction and nothing is sent; ``deliver_pending`` (with
    the key) makes the code and mails it, and the code verifies the address."""
    if keyless:
        window = make_service(secret_key=None, legacy_hashers=legacy_hashers())
        _queued_import(window)
    else:
        _queued_import(importer, mail="queued")
    assert [] == mailer.outbox
    queued = store.due_messages(clock.now(), 100)
    assert [("ana", pr.Purpose.EMAIL_VERIFICATION)] == [(m.user_key, m.purpose) for m in queued]
    assert pr.DeliveryReport(sent=1) == importer.deliver_pending()
    assert ["email-verification"] == [m["X-PwRecovery-Purpose"] for m in mailer.outbox]
    importer.confirm_recovery_email("ana", verification_code_in(mailer.outbox[0]))
    assert [True, True] == [importer.get_user(u).recovery_email_verified for u in ("ana", "bea")]


class WorkstationMeanwhile:
    """A store through which another workstation adds a user right after the import
    checked the catalog and before it writes (every other call goes to the real store)."""

    def __init__(self, inner: pr.Store, meanwhile: Callable[[pr.Store], None]) -> None:
        self._inner = inner
        self._meanwhile: Callable[[pr.Store], None] | None = meanwhile

    def add_users(self, *args: object, **kwargs: object) -> None:
        if self._meanwhile is not None:
            self._meanwhile, meanwhile = None, self._meanwhile
            meanwhile(self._inner)
        self._inner.add_users(*args, **kwargs)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_a_login_taken_meanwhile_refuses_the_whole_batch(
    importer: pr.RecoveryService,
    make_service: ServiceFactory,
    store: pr.Store,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
) -> None:
    """If another workstation adds one of the logins between the import's check and its
    write, the store refuses the whole transaction: no imported user, no audit event
    and no queued mail is left."""

    def add_pedro(inner: pr.Store) -> None:
        pr.RecoveryService(
            store=inner, mailer=mailer, secret_key=None, hasher=cheap_hasher(), clock=clock
        ).add_user("PEDRO", "Caballo azul 77")

    racing = make_service(
        store=WorkstationMeanwhile(store, add_pedro), legacy_hashers=legacy_hashers()
    )
    rows = bulk_rows(300, recovery_email_verified=False)
    rows[150] = pr.ImportedUser(login="pedro", password_hash=rows[150].password_hash)
    before = kinds(importer)
    with pytest.raises(pr.UserExists):
        racing.import_users(rows, mail="queued", origin=ORIGIN)
    assert ["juan", "PEDRO", "SUPERVISOR"] == logins(importer)
    assert [*before, "user_added"] == kinds(importer)
    assert [] == store.due_messages(clock.now(), 1000)


def test_each_imported_user_keeps_its_fields(importer: pr.RecoveryService) -> None:
    """Display name, SUPERVISOR, locale and address come through as given (normalised)."""
    row = pr.ImportedUser(
        login=" Ｊｏｓé ",
        password_hash=django_pbkdf2(OLD_PASSWORD),
        supervisor=True,
        display_name="  José Núñez ",
        recovery_email="jose@empresa.mx",
        recovery_email_verified=True,
        locale="en",
    )
    importer.import_users([row])
    assert pr.User("José", "José Núñez", True, "jose@empresa.mx", True, locale="en") == (
        importer.get_user("josé")
    )


def test_a_row_that_is_not_an_imported_user_is_a_configuration_error(
    importer: pr.RecoveryService,
) -> None:
    """A row that is not an ``ImportedUser`` is the host's programming error: refused
    before anything is checked or stored, naming the row's index, in a sentence of the
    catalog (never a bare message id)."""
    rows = [pr.ImportedUser(login="ana", password_hash=django_pbkdf2(OLD_PASSWORD)), "bea"]
    with pytest.raises(pr.InvalidConfiguration) as caught:
        importer.import_users(rows)  # type: ignore[list-item]
    assert ("rows[1]", "type") == (caught.value.setting, caught.value.rule)
    assert "The value of “rows[1]” is not valid: it must be a pwrecovery.ImportedUser." == (
        caught.value.message("en")
    )
    assert ["juan", "SUPERVISOR"] == logins(importer)


@pytest.mark.parametrize("field", ["supervisor", "recovery_email_verified"])
@pytest.mark.parametrize("value", ["no", "false", "0", 1, None])
def test_flags_that_are_not_booleans_are_refused(
    importer: pr.RecoveryService, mailer: pr.RecordingMailer, field: str, value: object
) -> None:
    """SUPERVISOR and "address vouched for" must be True or False: a text such as "no"
    from a CSV is the host's parsing at fault and must not make a SUPERVISOR or vouch
    for an address. Nothing is imported."""
    row = pr.ImportedUser(
        login="ana",
        password_hash=django_pbkdf2(OLD_PASSWORD),
        recovery_email="ana@empresa.mx",
        **{field: value},  # type: ignore[arg-type]
    )
    with pytest.raises(pr.InvalidConfiguration) as caught:
        importer.import_users([row])
    assert (f"rows[0].{field}", "type", {"kind": "bool"}) == (
        caught.value.setting,
        caught.value.rule,
        caught.value.rule_params,
    )
    assert ["juan", "SUPERVISOR"] == logins(importer)
    assert [] == mailer.outbox


def test_a_duplicate_of_a_bad_row_is_listed_too(importer: pr.RecoveryService) -> None:
    """Every bad row is listed at once: a row repeating the login of an earlier row that
    is itself bad (here for its address) is a duplicate as well, so that fixing the first
    does not reveal the second only on the next try."""
    hashed = django_pbkdf2(OLD_PASSWORD)
    rows = [
        pr.ImportedUser(login="ana", password_hash=hashed, recovery_email="ana@"),
        pr.ImportedUser(login="ANA", password_hash=hashed, recovery_email="ana@empresa.mx"),
        pr.ImportedUser(login="bea", password_hash="md5:nada"),
        pr.ImportedUser(login="Ｂｅａ", password_hash=hashed),
    ]
    with pytest.raises(pr.ImportRejected) as caught:
        importer.import_users(rows)
    assert (
        (1, "ana", "invalid_email"),
        (2, "ANA", "duplicate_in_batch"),
        (3, "bea", "unknown_hash"),
        (4, "Bea", "duplicate_in_batch"),
    ) == caught.value.rows


@pytest.mark.parametrize("mail", ["immediate", "queued"])
def test_an_unverified_address_is_audited_however_its_code_goes(
    importer: pr.RecoveryService, mail: str
) -> None:
    """The audit trail says which address (masked) an import set to be verified, and
    from where, whether its code was mailed at once or queued for the worker."""
    row = pr.ImportedUser(
        login="ana", password_hash=django_pbkdf2(OLD_PASSWORD), recovery_email="ana@empresa.mx"
    )
    importer.import_users([row], mail=mail, origin=ORIGIN)  # type: ignore[arg-type]
    set_events = [e for e in importer.audit_trail("ana") if e.kind == "recovery_email_set"]
    assert [({"address": "a***@empresa.mx"}, ORIGIN)] == [
        (dict(e.detail), e.origin) for e in set_events
    ]
