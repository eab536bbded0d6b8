"""Hostile input over the whole service.

Every public method either succeeds or raises a ``PwRecoveryError`` subclass;
a refused call writes nothing; and no mail ever has more than one recipient,
also once it is serialised as ``smtplib`` sends it and parsed back.

Each example runs on fresh in-memory adapters built through the ``make_service``
factory, so no state is carried from one example to the next.

A property with a refusing and an accepting side draws its inputs with ``spoiled``: every
input ordinary in about half the examples, at least one hostile in the others, so that
both sides are reached often (``event`` records which; ``pytest
--hypothesis-show-statistics`` shows the shares).
"""

from __future__ import annotations

import base64
import email
import email.policy
import time
import unicodedata
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses
from typing import NamedTuple, TypeVar

import email_validator
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import pwrecovery as pr
from tests.helpers import (
    SMTP_PASSWORD,
    SUPERVISOR_PASSWORD,
    USER_PASSWORD,
    sender_settings,
    verify_address,
)

ServiceFactory = Callable[..., pr.RecoveryService]
T = TypeVar("T")

# make_service is a pure factory: every example passes it a fresh store, mailer and
# clock, so reusing the fixture across examples shares no state (only the secret key).
SERVICE_LEVEL = settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# -- hostile text ----------------------------------------------------------------

CONTROLS = [
    "\r",
    "\n",
    "\r\n",
    "\x00",
    "\u2028",
    "\u2029",
    "\u0085",
    "\t",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\u200b",
    "\u200e",
    "\ufeff",
]
ENCODED_WORDS = [
    "=?utf-8?q?a=0Ab?=",
    "=?utf-8?q?a=0D=0ABcc:_x@y.mx?=",
    "=?utf-8?b?YQpi?=",
    "=?UTF-8?B?YQ0KYg==?=",
    "=?utf-8?q?a=00b?=",
    "=?utf-8?q?a=E2=80=A8b?=",
    "=?x-unknown?q?a=0Ab?=",
    "=?utf-8?q?Jos=C3=A9?=",
    "=?utf-8?b?!!!?=",
    "=?utf-8?q?",
    "?=",
]
NFKC_EDGES = [
    "ﬁ",
    "ﬂ",
    "ﬀ",
    "ＪＵＡＮ",
    "ｊｕａｎ",
    "１２３",
    "e\u0301",
    "é",
    "\u0301",
    "\u0345",
    "ı",
    "İ",
    "ß",
    "ẞ",
    "ſ",
    "\u212b",
    "㎏",
    "Ⅻ",
    "\ufdfa",  # one code point that NFKC turns into eighteen
    "ǅ",
    "\u00a0",
    "\u3000",
]
LONE_SURROGATES = ["\ud800", "\udfff"]
ADDRESS_PIECES = [
    "@",
    ",",
    ", ",
    ";",
    "<",
    ">",
    '"',
    "\\",
    "(",
    ")",
    ":",
    "[",
    "]",
    " ",
    "Bcc: ",
    "b@y.mx",
    "<evil@x.mx>",
    "x@y.mx, ",
]
LONG_TEXTS = ["", "a" * 10_000, "\x00" * 10_000, "é" * 10_000, "\ufdfa" * 10_000, "a\r\n" * 3_000]


def _encoded_word(text: str, b_encoding: bool) -> str:
    """An RFC 2047 encoded word that decodes to ``text``."""
    data = text.encode("utf-8", "surrogatepass")
    if b_encoding:
        return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="
    q = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"={b:02X}" for b in data)
    return f"=?utf-8?q?{q}?="


FRAGMENTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(CONTROLS + ENCODED_WORDS + NFKC_EDGES + LONE_SURROGATES + ADDRESS_PIECES),
)
ENCODED = st.builds(_encoded_word, st.lists(FRAGMENTS, max_size=4).map("".join), st.booleans())
HOSTILE = st.one_of(
    st.sampled_from(LONG_TEXTS),
    st.lists(st.one_of(FRAGMENTS, ENCODED), max_size=6).map("".join),
)

EXPLICIT_ADDRESSES = [
    "juan@empresa.mx",
    "JUAN@EMPRESA.MX",
    "josé@ñandú.mx",
    "ｊｕａｎ@ｅｍｐｒｅｓａ.ｍｘ",
    "a" * 64 + "@x.mx",
    "a" * 65 + "@x.mx",
    "a@" + ("b" * 63 + ".") * 4 + "mx",
    "a" * 10_000 + "@x.mx",
    "a@[127.0.0.1]",
    "a@[IPv6:::1]",
    "a@127.0.0.1",
    "a@localhost",
    "a@x.mx, b@y.mx",
    "a@x.mx; b@y.mx",
    "a@x.mx\r\nBcc: c@z.mx",
    "a@x.mx\nBcc: c@z.mx",
    "a@x.mx\n",
    "a@x.mx\x00",
    "a@x.mx\u2028",
    "a@x.mx\u0085",
    "a@x.mx\t",
    "Juan <juan@x.mx>",
    '"Juan Pérez" <juan@x.mx>',
    "<juan@x.mx>",
    '"a b"@x.mx',
    '"a@b"@x.mx',
    "a@x.mx (Juan)",
    "=?utf-8?q?a=0Ab?=@x.mx",
    "=?utf-8?b?YUB4Lm14LCBiQHkubXg=?=",
    "a@b@c.mx",
    "",
    "@",
    "a@",
    "@x.mx",
    "ß@straße.de",
    "ı@x.mx",
    "ﬁ@x.mx",
    "\ud800@x.mx",
]
DOMAINS = ["x.mx", "empresa.mx", "ñandú.mx", "[127.0.0.1]", "localhost", "xn--and-6ma2c.mx"]
ADDRESSES = st.one_of(
    st.sampled_from(EXPLICIT_ADDRESSES),
    st.builds(
        "{}@{}".format,
        st.lists(FRAGMENTS, min_size=1, max_size=3).map("".join),
        st.one_of(st.sampled_from(DOMAINS), HOSTILE),
    ),
    HOSTILE,
)
JUAN_SPELLINGS = ["juan", "JUAN", "Juan", "ｊｕａｎ", "ＪＵＡＮ", " juan ", "juan\n"]
SUPPORTED_PASSWORD = "Tortuga verde 2026"  # passes every password rule

# -- ordinary input: what the service accepts, with its awkward corners -----------

# Logins of letters, digits, dots, dashes and underscores (none of them "juan").
ORDINARY_LOGINS = st.one_of(
    st.sampled_from(["ana", "Straße", "José", "ｐｅｐｅ", "maría.lópez", "user_01", "Ⅻ"]),
    st.from_regex(r"[A-Za-zñáéíóú][A-Za-z0-9ñáéíóú._-]{0,30}", fullmatch=True).filter(
        lambda login: login.casefold() != "juan"
    ),
)
# Passwords that pass every rule: a first word of five letters or more (so never the
# temporary form, whose groups have four), spaces, digits; or full-width spellings.
ORDINARY_PASSWORDS = st.one_of(
    st.sampled_from([SUPPORTED_PASSWORD, "Ｔｏｒｔｕｇａ ｖｅｒｄｅ ２０２６", "ﬁesta de ﬁn 2026"]),
    st.from_regex(r"[A-Za-zñáé]{5,12} [a-zñáé ]{3,20} [0-9]{1,6}", fullmatch=True),
)
# Display names with the pieces of addresses in them (quotes, commas, brackets, "Bcc: ")
# and NFKC's corners, yet nothing a header refuses: no control character, no "=?", and at
# most 128 characters after NFKC (seven letters of up to 18 each, or six pieces).
SAFE_NAME_PIECES = [
    *(piece for piece in ADDRESS_PIECES if piece),
    *NFKC_EDGES,
    "Juan",
    "Pérez",
    "Contabilidad",
]
ORDINARY_NAMES = st.one_of(
    st.lists(st.sampled_from(SAFE_NAME_PIECES), max_size=6).map("".join),
    st.text(alphabet=st.characters(categories=["L", "M", "N", "Zs"]), max_size=7),
)
LOCAL_PARTS = st.from_regex(r"[A-Za-z0-9+_-]{1,12}(\.[A-Za-z0-9+_-]{1,12}){0,2}", fullmatch=True)
ORDINARY_ADDRESSES = st.one_of(
    st.sampled_from(
        [
            "juan@empresa.mx",  # the address juan already has
            "JUAN@EMPRESA.MX",
            "josé@ñandú.mx",
            "ｊｕａｎ@ｅｍｐｒｅｓａ.ｍｘ",
            "a" * 64 + "@x.mx",
            "a@" + ("b" * 63 + ".") * 3 + "mx",
            "ß@straße.de",
            "ı@x.mx",
            "ﬁ@x.mx",
        ]
    ),
    st.builds(
        "{}@{}.{}".format,
        LOCAL_PARTS,
        st.one_of(st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True), st.just("ñandú")),
        st.sampled_from(["mx", "com", "org", "com.mx"]),
    ),
)
ORDINARY_HOSTS = st.sampled_from(["smtp.empresa.mx", "smtp.x.mx", "127.0.0.1", "[::1]", "ñandú.mx"])
ORDINARY_USERNAMES = st.sampled_from(["envios@empresa.mx", "otro@empresa.mx", "josé@ñandú.mx"])
# Security that sends credentials anywhere (NONE goes only to loopback addresses).
ORDINARY_SECURITIES = st.sampled_from([pr.Security.SSL, pr.Security.STARTTLS, "ssl", "starttls"])


def inputs(
    side: str, **fields: tuple[st.SearchStrategy[object], st.SearchStrategy[object]]
) -> st.SearchStrategy[dict[str, object]]:
    """Keyword inputs, each field given as (ordinary, hostile). On the ordinary side every
    field is ordinary; on the hostile side at least one is hostile and the others are
    ordinary, so that each refusal is met next to otherwise valid input."""
    names = sorted(fields)

    @st.composite
    def draw_inputs(draw: st.DrawFn) -> dict[str, object]:
        hostile: frozenset[str] = frozenset()
        if side == "hostile":
            hostile = draw(st.frozensets(st.sampled_from(names), min_size=1))
        return {name: draw(fields[name][1 if name in hostile else 0]) for name in names}

    return draw_inputs()


def either(
    side: str, ordinary: st.SearchStrategy[T], hostile: st.SearchStrategy[T]
) -> st.SearchStrategy[T]:
    return ordinary if side == "ordinary" else hostile


# A property with an accepting and a refusing side runs once on each: its examples are
# drawn (with st.data()) from ordinary input, then from hostile input. One strategy mixing
# both would leave the shares to chance: Hypothesis concentrates its examples unevenly.
SIDES = pytest.mark.parametrize("side", ["ordinary", "hostile"])
EACH_SIDE = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])

# -- a fresh service per example -------------------------------------------------


class World(NamedTuple):
    service: pr.RecoveryService
    store: pr.InMemoryStore
    mailer: pr.RecordingMailer
    clock: pr.ManualClock


def fresh(make_service: ServiceFactory) -> World:
    """A service with its own empty store, a default RecordingMailer and its own clock."""
    store, mailer, clock = pr.InMemoryStore(), pr.RecordingMailer(), pr.ManualClock()
    return World(make_service(store=store, mailer=mailer, clock=clock), store, mailer, clock)


def fresh_with_juan(make_service: ServiceFactory) -> World:
    world = fresh(make_service)
    world.service.add_user("juan", USER_PASSWORD, display_name="Juan Pérez")
    return world


def fresh_ready(make_service: ServiceFactory) -> World:
    """What the ``ready`` fixture builds: a sender, both addresses verified, empty outbox."""
    world = fresh(make_service)
    svc = world.service
    svc.add_user("SUPERVISOR", SUPERVISOR_PASSWORD, supervisor=True, display_name="Supervisor")
    svc.add_user("juan", USER_PASSWORD, display_name="Juan Pérez")
    svc.configure_sender("SUPERVISOR", sender_settings(), SMTP_PASSWORD)
    verify_address(svc, world.mailer, "SUPERVISOR", "supervisor@empresa.mx")
    verify_address(svc, world.mailer, "juan", "juan@empresa.mx")
    world.mailer.outbox.clear()
    world.mailer.sent_through.clear()
    return world


# -- what a server receives ------------------------------------------------------

RECIPIENT_FIELDS = ("To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc")
FORBIDDEN_IN_HEADERS = ("\r", "\n", "\x00", "\u2028", "\u2029")


def on_the_wire(message: EmailMessage) -> EmailMessage:
    """The message serialised as ``smtplib.send_message`` does, then parsed back."""
    values = [str(v) for field in ("From", "To") for v in message.get_all(field, [])]
    addresses = [address for _, address in getaddresses(values)]
    policy = message.policy.clone(linesep="\r\n", utf8=not "".join(addresses).isascii())
    raw = message.as_bytes(policy=policy)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def canonical(address: str) -> str:
    """One spelling per address: ``xn--`` domains back to Unicode, as email-validator does."""
    try:
        return str(
            email_validator.validate_email(
                address, check_deliverability=False, allow_smtputf8=True
            ).normalized
        )
    except email_validator.EmailNotValidError:
        return address


def recipients(message: EmailMessage) -> list[str]:
    """Every recipient the message names, read with ``getaddresses`` as a server would."""
    values = [str(v) for field in RECIPIENT_FIELDS for v in message.get_all(field, [])]
    return [canonical(address) for _, address in getaddresses(values)]


def wire_recipients(message: EmailMessage) -> list[str]:
    return recipients(on_the_wire(message))


def assert_headers_clean(message: EmailMessage) -> None:
    """No header value holds a line break, and serialising adds no header."""
    for name, value in message.items():
        assert [] == [ch for ch in FORBIDDEN_IN_HEADERS if ch in f"{name}{value}"]
    assert sorted(message.keys()) == sorted(on_the_wire(message).keys())


def assert_one_recipient_each(outbox: list[EmailMessage]) -> None:
    for message in outbox:
        assert 1 == len(recipients(message))
        assert 1 == len(wire_recipients(message))


def secret_state(store: pr.InMemoryStore, key: str) -> tuple[object, ...]:
    """What only a successful call may change: passwords and recovery address."""
    record = store.get_user(key)
    assert record is not None
    return (
        record.password_hash,
        record.temporary,
        record.recovery_email,
        record.recovery_email_verified,
    )


# -- users catalog ---------------------------------------------------------------

ADD_USER_ERRORS = (
    pr.InvalidLogin,
    pr.InvalidHeaderValue,
    pr.PasswordPolicyViolation,
    pr.UserExists,
)
UNPRINTABLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def add_user_outcome(make_service: ServiceFactory, drawn: dict[str, str]) -> str:
    """add_user's answer to ``drawn``, after checking what a success or a refusal leaves."""
    world = fresh_with_juan(make_service)
    before = world.store.list_users()
    try:
        user = world.service.add_user(**drawn)
    except ADD_USER_ERRORS as error:
        assert before == world.store.list_users()
        return f"refused: {error.code}"
    assert isinstance(user, pr.User)
    assert len(before) + 1 == len(world.store.list_users())
    assert user == world.service.get_user(user.login)
    assert set() == {unicodedata.category(ch) for ch in user.login} & UNPRINTABLE
    return "accepted"


@EACH_SIDE
@SIDES
@given(data=st.data())
def test_add_user_succeeds_or_refuses_without_writing(
    make_service: ServiceFactory, side: str, data: st.DataObject
) -> None:
    """add_user returns a User or raises a catalog error, and a refusal stores nothing."""
    drawn = data.draw(
        inputs(
            side,
            login=(ORDINARY_LOGINS, st.one_of(st.sampled_from(JUAN_SPELLINGS), HOSTILE)),
            password=(ORDINARY_PASSWORDS, HOSTILE),
            display_name=(ORDINARY_NAMES, HOSTILE),
        ),
        label="add_user",
    )
    event(add_user_outcome(make_service, drawn))


@pytest.mark.parametrize(
    ("login", "password", "display_name", "expected"),
    [
        ("ana", "", "", "refused: password_policy"),
        ("ana", "a" * 10_000, "", "refused: password_policy"),
        ("a" * 10_000, SUPPORTED_PASSWORD, "", "refused: invalid_login"),
        ("ana", SUPPORTED_PASSWORD, "Ana\r\nBcc: x@y.mx", "refused: invalid_header_value"),
        ("ana", SUPPORTED_PASSWORD, "=?utf-8?q?a=0Ab?=", "refused: invalid_header_value"),
        ("ana", SUPPORTED_PASSWORD, "Ana <ana@x.mx>, Bcc: b@y.mx", "accepted"),
    ],
)
def test_add_user_answers_these_inputs(
    make_service: ServiceFactory, login: str, password: str, display_name: str, expected: str
) -> None:
    """Empty and 10,000-character passwords, a 10,000-character login, a line break or an
    encoded word in the display name are refused without writing; address-like text in a
    display name is only a name."""
    drawn = {"login": login, "password": password, "display_name": display_name}
    assert expected == add_user_outcome(make_service, drawn)


def set_address_outcome(make_service: ServiceFactory, address: str) -> str:
    """set_recovery_email's answer for juan, after checking what it mailed or left alone."""
    world = fresh_ready(make_service)
    before = world.store.get_user("juan")
    try:
        normalized = world.service.set_recovery_email("juan", address)
    except pr.InvalidEmailAddress:
        assert before == world.store.get_user("juan")
        assert [] == world.mailer.outbox
        return "refused"
    outbox = world.mailer.outbox
    assert_one_recipient_each(outbox)
    if normalized == "juan@empresa.mx":  # the address already verified: nothing happens
        assert [] == outbox
        return "accepted: already verified"
    # The code goes to the new address; the old verified one may hear of the change after it.
    verification = [m for m in outbox if m["X-PwRecovery-Purpose"] == "email-verification"]
    assert 1 == len(verification)
    assert [canonical(normalized)] == recipients(verification[0])
    assert [canonical(normalized)] == wire_recipients(verification[0])
    assert normalized == world.service.get_user("juan").recovery_email
    return "accepted"


@EACH_SIDE
@SIDES
@given(data=st.data())
def test_set_recovery_email_mails_one_recipient_or_changes_nothing(
    make_service: ServiceFactory, side: str, data: st.DataObject
) -> None:
    """set_recovery_email mails the normalised address alone, or refuses and changes nothing."""
    address = data.draw(either(side, ORDINARY_ADDRESSES, ADDRESSES), label="address")
    event(set_address_outcome(make_service, address))


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("josé@ñandú.mx", "accepted"),
        ("a@x.mx\r\nBcc: c@z.mx", "refused"),
        ("juan@empresa.mx", "accepted: already verified"),
        ("JUAN@empresa.mx", "accepted"),  # the local part keeps its case: another mailbox
    ],
)
def test_set_recovery_email_answers_these_addresses(
    make_service: ServiceFactory, address: str, expected: str
) -> None:
    """An internationalised address gets its code, a header injection is refused, the
    address already verified changes nothing."""
    assert expected == set_address_outcome(make_service, address)


def display_name_outcome(make_service: ServiceFactory, display_name: str) -> str:
    """Whether add_user took the name, after checking the mail to that user."""
    world = fresh_ready(make_service)
    try:
        world.service.add_user("pepe", SUPPORTED_PASSWORD, display_name=display_name)
    except pr.InvalidHeaderValue:
        return "refused"
    world.service.set_recovery_email("pepe", "pepe@empresa.mx")
    message = world.mailer.outbox[-1]
    assert ["pepe@empresa.mx"] == recipients(message)
    assert ["pepe@empresa.mx"] == wire_recipients(message)
    assert_headers_clean(message)
    return "accepted"


HOSTILE_NAMES = st.one_of(
    HOSTILE,
    st.builds(
        _encoded_word,
        st.lists(st.sampled_from(ADDRESS_PIECES), min_size=1, max_size=5).map("".join),
        st.booleans(),
    ),
)


@EACH_SIDE
@SIDES
@given(data=st.data())
def test_a_display_name_never_adds_a_recipient(
    make_service: ServiceFactory, side: str, data: st.DataObject
) -> None:
    """A display name add_user accepts never adds or hides a recipient, even once serialised."""
    name = data.draw(either(side, ORDINARY_NAMES, HOSTILE_NAMES), label="display_name")
    event(display_name_outcome(make_service, name))


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        ("=?utf-8?b?YUBiLm14LCBjQGQubXg=?=", "refused"),  # "a@b.mx, c@d.mx"
        ("=?utf-8?q?=40?=", "refused"),  # "@"
        ("=?utf-8?q?=3D=3Futf=2D8=3Fq=3Fa=3D0Ab=3F=3D?=", "refused"),  # "=?utf-8?q?a=0Ab?="
        ("Juan \ud800", "refused"),
        ('"Juan" <x@y.mx>, z@w.mx', "accepted"),
    ],
)
def test_these_display_names_add_no_recipient(
    make_service: ServiceFactory, display_name: str, expected: str
) -> None:
    """Encoded words (whatever they decode to) and lone surrogates are refused; quotes,
    brackets and commas stay inside the name."""
    assert expected == display_name_outcome(make_service, display_name)


# -- login window and password change --------------------------------------------


JUAN = st.sampled_from(JUAN_SPELLINGS)


@EACH_SIDE
@SIDES
@given(data=st.data(), origin=st.one_of(st.none(), HOSTILE))
def test_sign_in_change_and_recovery_raise_only_library_errors(
    make_service: ServiceFactory, side: str, data: st.DataObject, origin: str | None
) -> None:
    """Sign-in, change and recovery raise only PwRecoveryError, refuse without writing, mail one."""
    sign_in = data.draw(
        inputs(side, login=(JUAN, HOSTILE), password=(st.just(USER_PASSWORD), HOSTILE)),
        label="sign-in",
    )
    change = data.draw(
        inputs(
            side,
            login=(JUAN, HOSTILE),
            current=(st.just(USER_PASSWORD), HOSTILE),
            new=(ORDINARY_PASSWORDS, HOSTILE),
            confirmation=(st.none(), HOSTILE),  # None: the new password typed again
        ),
        label="change",
    )
    recovery = data.draw(either(side, JUAN, HOSTILE), label="recovery login")
    world = fresh_ready(make_service)
    svc, store = world.service, world.store

    before = secret_state(store, "juan")
    try:
        svc.authenticate(sign_in["login"], sign_in["password"], origin=origin)
        event("sign-in accepted")
    except pr.PwRecoveryError:
        event("sign-in refused")
        assert before == secret_state(store, "juan")

    before = secret_state(store, "juan")
    new, confirmation = change["new"], change["confirmation"]
    try:
        svc.change_password(
            change["login"],
            change["current"],
            new,
            new if confirmation is None else confirmation,
            origin=origin,
        )
        event("change accepted")
    except pr.PwRecoveryError:
        event("change refused")
        assert before == secret_state(store, "juan")

    users = store.list_users()
    try:
        svc.request_recovery(recovery, origin=origin)
        event("recovery accepted")
    except pr.PwRecoveryError:
        event("recovery refused")
        assert users == store.list_users()

    assert_one_recipient_each(world.mailer.outbox)
    for message in world.mailer.outbox:
        assert ["juan@empresa.mx"] == wire_recipients(message)
        assert_headers_clean(message)


NUL_OR_HUGE = st.one_of(
    st.sampled_from(
        [
            "\x00",
            "\x00" * 10_000,
            "a" * 10_000,
            "\ufdfa" * 10_000,
            USER_PASSWORD + "\x00",
            USER_PASSWORD + "\x00" + "x" * 10_000,
            USER_PASSWORD + "a" * 10_000,
        ]
    ),
    st.builds(
        lambda head, tail: f"{head}\x00{tail}",
        st.one_of(st.just(USER_PASSWORD), HOSTILE),
        HOSTILE,
    ),
)


@SERVICE_LEVEL
@given(login=st.sampled_from(["juan", "JUAN", "nadie", "ju\x00an"]), password=NUL_OR_HUGE)
def test_password_with_nul_or_ten_thousand_characters_is_invalid_credentials(
    make_service: ServiceFactory, login: str, password: str
) -> None:
    """A password with NUL or 10,000 characters is InvalidCredentials at once, never truncated."""
    world = fresh_with_juan(make_service)
    started = time.perf_counter()
    with pytest.raises(pr.InvalidCredentials):
        world.service.authenticate(login, password)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("password", ["", "a" * 10_000, "\x00" * 10_000, "é" * 10_000])
def test_nul_and_long_passwords_fail_fast_on_the_ready_service(
    ready: pr.RecoveryService, password: str
) -> None:
    """On the ready service, empty, NUL and 10,000-character passwords fail fast and cleanly."""
    started = time.perf_counter()
    with pytest.raises(pr.InvalidCredentials):
        ready.authenticate("juan", password)
    assert time.perf_counter() - started < 2.0


# -- passwords -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [("", "too_short"), ("a" * 10_000, "too_long"), ("\ufdfa" * 8, "too_long")],
)
def test_empty_and_overlong_passwords_are_refused_with_reasons(
    service: pr.RecoveryService, store: pr.InMemoryStore, password: str, reason: str
) -> None:
    """add_user refuses 0 characters as too_short, 10,000 (after NFKC) as too_long; stores none."""
    before = store.list_users()
    with pytest.raises(pr.PasswordPolicyViolation) as caught:
        service.add_user("ana", password)
    assert reason in caught.value.reasons
    assert before == store.list_users()


def test_password_with_nul_is_accepted_and_signs_in(service: pr.RecoveryService) -> None:
    """A password with a NUL inside is accepted and signs in; no part of it alone does."""
    service.add_user("ana", "clave\x00secreta 12")
    assert pr.LoginStatus.OK == service.authenticate("ana", "clave\x00secreta 12").status
    for part in ["clave", "clave\x00", "secreta 12", "clave secreta 12"]:
        with pytest.raises(pr.InvalidCredentials):
            service.authenticate("ana", part)


def _full_width(text: str) -> str:
    """ASCII in its full-width forms (NFKC folds them back); space as the ideographic space."""
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


def _ligatures(text: str) -> str:
    return text.replace("ffi", "ﬃ").replace("fi", "ﬁ").replace("fl", "ﬂ").replace("ff", "ﬀ")


def _decomposed(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@SERVICE_LEVEL
@given(
    core=st.text(
        alphabet=st.sampled_from("abcdefiflnóé0123456789 ABCFIL"), min_size=4, max_size=20
    ),
    stored=st.sampled_from([_full_width, _ligatures, _decomposed, str]),
    typed=st.sampled_from([_full_width, _ligatures, _decomposed, str]),
)
@example(core="fiesta de 2026", stored=_ligatures, typed=str)
@example(core="fiesta de 2026", stored=str, typed=_full_width)
@example(core="José clave 2026", stored=str, typed=_decomposed)
def test_nfkc_equivalent_passwords_sign_in_alike(
    make_service: ServiceFactory,
    core: str,
    stored: Callable[[str], str],
    typed: Callable[[str], str],
) -> None:
    """Spellings NFKC makes equal ("ﬁ"/"fi", "２０２６"/"2026", é/e+◌́) are one password."""
    password = f"Tortuga {core}"
    world = fresh(make_service)
    world.service.add_user("ana", stored(password))
    assert pr.LoginStatus.OK == world.service.authenticate("ana", typed(password)).status


# -- logins ----------------------------------------------------------------------


@pytest.mark.parametrize("spelling", JUAN_SPELLINGS)
def test_login_spellings_find_the_same_user(service: pr.RecoveryService, spelling: str) -> None:
    """NFKC and case-folded spellings of a login ("JUAN", "ｊｕａｎ") are one user."""
    assert "juan" == service.get_user(spelling).login
    assert pr.LoginStatus.OK == service.authenticate(spelling, USER_PASSWORD).status
    with pytest.raises(pr.UserExists):
        service.add_user(spelling, SUPPORTED_PASSWORD)


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Straße", "STRASSE"),
        ("Straße", "strasse"),
        ("ﬁdel", "FIDEL"),
        ("José", "JOSE\u0301"),
        ("İlker", "i\u0307lker"),
        ("Ⅻ", "xii"),
    ],
)
def test_casefold_equivalent_logins_are_one_user(
    service: pr.RecoveryService, stored: str, typed: str
) -> None:
    """Logins meet after NFKC and casefold, including ß, ligatures and combining marks."""
    created = service.add_user(stored, SUPPORTED_PASSWORD)
    assert created == service.get_user(typed)
    assert pr.LoginStatus.OK == service.authenticate(typed, SUPPORTED_PASSWORD).status


@SERVICE_LEVEL
@given(
    head=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=10),
    control=st.sampled_from(
        [*CONTROLS, *LONE_SURROGATES, "\u0000", "\u001f", "\u009f", "\u2066", "\u061c"]
    ),
    tail=st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=10),
)
@example(head="ju", control="\n", tail="an")
@example(head="ju", control="\x00", tail="an")
def test_login_with_a_control_character_is_refused(
    make_service: ServiceFactory, head: str, control: str, tail: str
) -> None:
    """A login with a control character inside is InvalidLogin; at sign-in, InvalidCredentials."""
    world = fresh_with_juan(make_service)
    login = f"{head}{control}{tail}"
    before = world.store.list_users()
    with pytest.raises(pr.InvalidLogin):
        world.service.add_user(login, SUPPORTED_PASSWORD)
    assert before == world.store.list_users()
    with pytest.raises(pr.InvalidCredentials):
        world.service.authenticate(login, SUPPORTED_PASSWORD)


# -- sender accounts -------------------------------------------------------------

SETTINGS_ERRORS = (pr.InvalidConfiguration, pr.InvalidHeaderValue, pr.InvalidEmailAddress)
HOSTS = st.one_of(
    st.sampled_from(
        ["smtp.empresa.mx", "smtp.x.mx", "127.0.0.1", "[::1]", "localhost", "ñandú.mx"]
    ),
    HOSTILE,
    st.none(),
)
PORTS = st.one_of(
    st.integers(min_value=-10, max_value=70_000),
    st.sampled_from([True, False, 587.0, "587", None]),
)
SECURITIES = st.one_of(
    st.sampled_from(pr.Security), st.sampled_from(["ssl", "SSL", "tls", ""]), HOSTILE
)
USERNAMES = st.one_of(
    st.sampled_from(["envios@empresa.mx", "otro@empresa.mx", "josé@ñandú.mx"]), HOSTILE, st.none()
)
FROM_ADDRESSES = st.one_of(
    st.sampled_from(["envios@empresa.mx", "josé@ñandú.mx", "a" * 64 + "@x.mx"]), ADDRESSES
)


ORDINARY_PORTS = st.one_of(st.sampled_from([25, 465, 587, 2525]), st.integers(1, 65_535))
SETTINGS = {
    "host": (ORDINARY_HOSTS, HOSTS),
    "port": (ORDINARY_PORTS, PORTS),
    "security": (ORDINARY_SECURITIES, SECURITIES),
    "username": (ORDINARY_USERNAMES, USERNAMES),
    "from_address": (st.one_of(ORDINARY_USERNAMES, ORDINARY_ADDRESSES), FROM_ADDRESSES),
    "display_name": (ORDINARY_NAMES, st.one_of(HOSTILE, st.none())),
}


@settings(max_examples=150)
@SIDES
@given(data=st.data())
def test_sender_settings_build_or_refuse_with_library_errors(
    side: str, data: st.DataObject
) -> None:
    """SenderSettings builds header-safe values or raises one of its three library errors."""
    fields = data.draw(inputs(side, **SETTINGS), label="settings")
    try:
        built = pr.SenderSettings(**fields)  # type: ignore[arg-type]
    except SETTINGS_ERRORS as error:
        event(f"refused: {type(error).__name__}")
        return
    event("built")
    assert isinstance(built.security, pr.Security)
    for value in (built.host, built.username, built.from_address, built.display_name):
        assert [] == [ch for ch in FORBIDDEN_IN_HEADERS if ch in value]


# Passwords an SMTP login cannot carry (NUL separates AUTH PLAIN's fields, a lone
# surrogate has no UTF-8), blank ones, and any other text.
HOSTILE_SMTP_PASSWORDS = st.one_of(
    st.builds("{}{}{}".format, HOSTILE, st.sampled_from(["\x00", "\ud800", "\udfff"]), HOSTILE),
    st.sampled_from(["", " ", "\t"]),
    HOSTILE,
)
SENDER_INPUTS = {
    **SETTINGS,
    "password": (st.one_of(st.just(SMTP_PASSWORD), ORDINARY_PASSWORDS), HOSTILE_SMTP_PASSWORDS),
}


def configured_sender_outcome(make_service: ServiceFactory, fields: dict[str, object]) -> str:
    """What becomes of a sender configured with ``fields`` (keyword overrides of
    tests.helpers.sender_settings, and the password), after checking its mail."""
    fields = dict(fields)
    password = fields.pop("password")
    try:
        settings_ = sender_settings(**fields)
    except SETTINGS_ERRORS:
        return "settings refused"
    world = fresh_ready(make_service)
    world.clock.advance(seconds=1)  # the new supervisor sender is the most recently verified
    before = world.store.list_senders()
    try:
        world.service.configure_sender("SUPERVISOR", settings_, password)
    except pr.PwRecoveryError:
        assert before == world.store.list_senders()
        return "sender refused"
    world.service.request_recovery("juan")
    assert [settings_] == world.mailer.sent_through
    message = world.mailer.outbox[-1]
    assert ["juan@empresa.mx"] == recipients(message)
    assert ["juan@empresa.mx"] == wire_recipients(message)
    assert_headers_clean(message)
    wire_from = getaddresses([str(v) for v in on_the_wire(message).get_all("From", [])])
    assert [canonical(settings_.from_address)] == [canonical(a) for _, a in wire_from]
    return "mail sent"


@EACH_SIDE
@pytest.mark.parametrize("side", ["ordinary", "hostile", "hostile password"])
@given(data=st.data())
def test_a_configured_sender_sends_clean_single_recipient_mail(
    make_service: ServiceFactory, side: str, data: st.DataObject
) -> None:
    """A sender that configure_sender saves sends clean one-recipient mail; a refusal saves none."""
    # "hostile password": settings that build, so that configure_sender itself is tried.
    fields = data.draw(
        inputs("ordinary", **SETTINGS, password=(HOSTILE_SMTP_PASSWORDS,) * 2)
        if side == "hostile password"
        else inputs(side, **SENDER_INPUTS),
        label="sender",
    )
    event(configured_sender_outcome(make_service, fields))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"display_name": "=?utf-8?b?YUBiLm14LCBjQGQubXg=?="}, "settings refused"),
        ({"display_name": "x" * 998}, "settings refused"),
        ({"display_name": "Contabilidad \ud800"}, "settings refused"),
        ({"username": "otro@empresa.mx", "password": "clave\ud800"}, "sender refused"),
        ({"username": "otro@empresa.mx", "password": "   "}, "sender refused"),
        ({"from_address": "josé@ñandú.mx"}, "mail sent"),
    ],
)
def test_these_senders_are_refused_or_send_clean_mail(
    make_service: ServiceFactory, fields: dict[str, object], expected: str
) -> None:
    """Encoded words, 998 characters or a lone surrogate in the display name are refused
    before the service sees them; a password no SMTP login can carry, or a blank one, is
    refused and saves nothing; an internationalised From address sends clean mail."""
    drawn = {"password": SMTP_PASSWORD, **fields}
    assert expected == configured_sender_outcome(make_service, drawn)


@pytest.mark.parametrize("display_name", ["x" * 998, "é" * 400])
def test_a_sender_display_name_that_builds_fits_in_the_from_header(
    ready: pr.RecoveryService,
    mailer: pr.RecordingMailer,
    clock: pr.ManualClock,
    display_name: str,
) -> None:
    """A sender display name SenderSettings accepts fits in the From header, so mail goes out."""
    try:
        settings_ = sender_settings(username="otro@empresa.mx", display_name=display_name)
    except SETTINGS_ERRORS:
        return
    clock.advance(seconds=1)
    ready.configure_sender("SUPERVISOR", settings_, SMTP_PASSWORD)
    ready.request_recovery("juan")
    assert settings_ == mailer.sent_through[-1]


def test_a_display_name_with_a_lone_surrogate_is_refused_or_mailed(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer
) -> None:
    """A user display name with a lone surrogate is refused as InvalidHeaderValue or mailed."""
    try:
        ready.add_user("pepe", SUPPORTED_PASSWORD, display_name="Pepe \ud800")
    except pr.InvalidHeaderValue:
        return
    ready.set_recovery_email("pepe", "pepe@empresa.mx")
    assert ["pepe@empresa.mx"] == wire_recipients(mailer.outbox[-1])


def test_a_sender_display_name_with_a_lone_surrogate_never_breaks_recovery(
    ready: pr.RecoveryService, mailer: pr.RecordingMailer, clock: pr.ManualClock
) -> None:
    """A sender display name with a lone surrogate is refused, or recovery mail still goes out."""
    try:
        settings_ = sender_settings(username="otro@empresa.mx", display_name="Contabilidad \ud800")
    except SETTINGS_ERRORS:
        return
    clock.advance(seconds=1)
    ready.configure_sender("SUPERVISOR", settings_, SMTP_PASSWORD)
    ready.request_recovery("juan")
    assert ["juan@empresa.mx"] == wire_recipients(mailer.outbox[-1])


@pytest.mark.parametrize("password", ["clave\ud800", "\udfff"])
def test_configure_sender_refuses_an_unencodable_password_with_a_library_error(
    service: pr.RecoveryService, store: pr.InMemoryStore, password: str
) -> None:
    """An SMTP password with a lone surrogate is refused with a PwRecoveryError; nothing saved."""
    with pytest.raises(pr.PwRecoveryError):
        service.configure_sender(
            "SUPERVISOR", sender_settings(username="otro@empresa.mx"), password
        )
    assert [] == store.list_senders()
