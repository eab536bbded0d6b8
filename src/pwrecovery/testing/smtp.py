"""A real SMTP server on loopback, for tests and the demo (needs ``aiosmtpd``).

``running_smtp_server()`` starts aiosmtpd with STARTTLS or implicit TLS (or
neither), AUTH, a certificate made on the spot by a private CA, an
``outbox`` of what it received, and switches to make it fail as real servers
do (``SmtpServer``: a given reply to AUTH, refused senders and recipients,
4xx or 5xx to RCPT or DATA, a connection closed after a number of messages).
Install it with ``pip install 'pwrecovery[testing]'``.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder:
...     certificates = make_certificates(pathlib.Path(folder))
...     with running_smtp_server("starttls", certificates, {"a@b.mx": "pw"}) as server:
...         server.settings("a@b.mx").security.value
'starttls'
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

import attrs
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pwrecovery.models import Security, SenderSettings

# The certificates are made in _certificates; they are part of this module's kit.
from pwrecovery.testing._certificates import HOST, Certificates, make_certificates

__all__ = [
    "HOST",
    "Certificates",
    "Mode",
    "Received",
    "SmtpServer",
    "free_port",
    "make_certificates",
    "running_smtp_server",
    "silent_server",
]

Mode = Literal["starttls", "ssl", "plain"]


@attrs.define
class Received:
    """One message as the server received it: the envelope, the bytes (``raw``), and the
    message parsed from them on first use (``message``): parsing is the costliest thing
    the server does, and it runs in the tests' own process."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes = attrs.field(repr=False)
    _parsed: EmailMessage | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def message(self) -> EmailMessage:
        if self._parsed is None:
            self._parsed = message_from_bytes(self.raw, _class=EmailMessage, policy=policy.default)
        return self._parsed


@attrs.define(eq=False)
class SmtpServer:
    """State and switches of one running server; tests read ``outbox`` and flip switches.

    What it saw: ``outbox`` (messages taken), ``logins`` (every AUTH, by login),
    ``mail_from`` (every MAIL FROM address offered, taken or not).

    Switches (``reset()`` turns them all off):

    - ``auth_reply``: answer every AUTH (PLAIN, LOGIN, CRAM-MD5) with this reply
      instead of checking the password, e.g. ``"535 5.7.139 Authentication
      unsuccessful, SmtpClientAuthentication is disabled for the Tenant."``;
    - ``refused_senders``: MAIL FROM address → the reply refusing it, e.g.
      ``"553 5.7.1 <x@y>: Sender address rejected: not owned by user z"``;
    - ``refused_recipients``: RCPT TO address → the reply refusing it;
    - ``rcpt_reply``: answer every RCPT TO with this refusal (``"450 4.2.1 …"``);
    - ``data_reply``: answer every message (after its data) with this refusal;
      ``reject_data`` is the same with ``554 5.6.0``;
    - ``drop_during_data``: close the connection instead of answering the data;
    - ``messages_per_session``: after this many messages in one connection, answer
      the next MAIL FROM with ``421`` and close the connection;
    - ``pipelining``: offer PIPELINING in the EHLO reply (on by default, as Postfix,
      Exchange Online and Gmail do; aiosmtpd reads pipelined commands in order).
    """

    mode: Mode
    port: int
    accounts: dict[str, str]
    tokens: dict[str, str] = attrs.Factory(dict)  # username -> the one valid XOAUTH2 token
    outbox: list[Received] = attrs.Factory(list)
    logins: list[str] = attrs.Factory(list)
    mail_from: list[str] = attrs.Factory(list)
    auth_reply: str | None = None
    refused_senders: dict[str, str] = attrs.Factory(dict)
    refused_recipients: dict[str, str] = attrs.Factory(dict)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    reject_data: bool = False
    drop_during_data: bool = False
    messages_per_session: int | None = None
    pipelining: bool = True
    _taken: dict[int, int] = attrs.Factory(dict)  # id(session) -> messages taken in it

    def settings(
        self, username: str = "envios@empresa.mx", *, security: Security | None = None
    ) -> SenderSettings:
        """Sender settings that point at this server, in its mode unless told otherwise."""
        default = {
            "starttls": Security.STARTTLS,
            "ssl": Security.SSL,
            "plain": Security.NONE,
        }
        return SenderSettings(
            host=HOST,
            port=self.port,
            security=security or default[self.mode],
            username=username,
            from_address=username,
            display_name="Contabilidad",
        )

    def reset(self) -> None:
        """Empty the outbox and the logs, and switch every failure off."""
        self.outbox.clear()
        self.logins.clear()
        self.mail_from.clear()
        self.auth_reply = None
        self.refused_senders.clear()
        self.refused_recipients.clear()
        self.rcpt_reply = None
        self.data_reply = None
        self.reject_data = False
        self.drop_during_data = False
        self.messages_per_session = None
        self.pipelining = True
        self._taken.clear()

    # aiosmtpd hooks ---------------------------------------------------------

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,
        envelope: Envelope,  # noqa: ARG002
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    def authenticate(  # aiosmtpd's signature: every argument is passed
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,  # noqa: ARG002
        envelope: Envelope,  # noqa: ARG002
        mechanism: str,  # noqa: ARG002
        auth_data: object,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8")
        self.logins.append(login)
        if self.auth_reply is not None:
            return AuthResult(success=False, handled=False, message=self.auth_reply)
        if self.accounts.get(login) == auth_data.password.decode("utf-8"):
            return AuthResult(success=True)
        # handled=False makes aiosmtpd answer 535; handled=True would leave the client waiting.
        return AuthResult(success=False, handled=False)

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd's name for CRAM-MD5)
        """SASL CRAM-MD5 (RFC 2195), which smtplib's ``login`` prefers; offered only
        when asked for (``running_smtp_server(with_auth=("CRAM-MD5",))``)."""
        del args
        challenge = f"<{secrets.token_hex(8)}@pwrecovery.test>".encode("ascii")
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)  # aiosmtpd answered already
        login, _, digest = answer.decode("utf-8", "replace").rpartition(" ")
        self.logins.append(login)
        if self.auth_reply is not None:
            return AuthResult(success=False, handled=False, message=self.auth_reply)
        password = self.accounts.get(login)
        if password is not None:
            expected = hmac.new(password.encode("utf-8"), challenge, "md5").hexdigest()
            if hmac.compare_digest(expected, digest):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd's name)
        """SASL XOAUTH2: ``user=…^Aauth=Bearer …^A^A``; a bad token gets the error
        challenge real providers send, then 535."""
        try:
            raw = base64.b64decode(args[1], validate=True).decode("utf-8")
        except (IndexError, ValueError):
            return AuthResult(success=False, handled=False)
        fields = dict(part.split("=", 1) for part in raw.split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        self.logins.append(user)
        if user and token and self.tokens.get(user) == token:
            return AuthResult(success=True)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "Bearer"}))
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        self.mail_from.append(address)
        limit = self.messages_per_session
        if limit is not None and self._taken.get(id(session), 0) >= limit:
            transport = server.transport
            if transport is not None:  # closed once the reply is out, as a real server does
                asyncio.get_running_loop().call_soon(transport.close)
            return "421 4.7.0 Too many messages for this session, closing connection"
        refused = self.refused_senders.get(address)
        if refused is not None:
            return refused
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,  # noqa: ARG002
        session: Session,  # noqa: ARG002
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refused = self.refused_recipients.get(address, self.rcpt_reply)
        if refused is not None:
            return refused
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
    ) -> str:
        if self.drop_during_data:
            if server.transport is not None:
                server.transport.close()
            return "421 closing"
        if self.reject_data:
            return "554 5.6.0 Message refused by policy"
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content or b""
        self.outbox.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), content))
        self._taken[id(session)] = self._taken.get(id(session), 0) + 1
        return "250 2.0.0 OK"


def _not_aiosmtpd_own_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd 1.4 logs a warning about its own deprecated Session.login_data on every
    # successful AUTH, whatever the caller does; it says nothing about the caller.
    return "login_data is deprecated" not in record.getMessage()


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_smtp_server(
    mode: Mode,
    certificates: Certificates,
    accounts: dict[str, str],
    *,
    without_auth: tuple[str, ...] = (),
    with_auth: tuple[str, ...] = (),
    smtputf8: bool = True,
) -> Iterator[SmtpServer]:
    """Start an aiosmtpd server on loopback in ``mode``; stop it afterwards.

    ``without_auth`` names AUTH mechanisms the server must not offer (e.g. ``"XOAUTH2"``);
    ``with_auth`` those offered only when asked for (``"CRAM-MD5"``); ``smtputf8=False``
    makes a server that does not offer SMTPUTF8.
    """
    state = SmtpServer(mode=mode, port=free_port(), accounts=dict(accounts))
    excluded = {*without_auth, *({"CRAM-MD5"} - set(with_auth))}
    options: dict[str, Any] = {
        "authenticator": state.authenticate,
        "auth_require_tls": mode == "starttls",
        "auth_exclude_mechanism": sorted(excluded),
        "enable_SMTPUTF8": smtputf8,
    }
    if mode == "starttls":
        options["tls_context"] = certificates.server_context()
    elif mode == "ssl":
        options["ssl_context"] = certificates.server_context()
    mail_log = logging.getLogger("mail.log")
    if _not_aiosmtpd_own_deprecation not in mail_log.filters:
        mail_log.addFilter(_not_aiosmtpd_own_deprecation)
    controller = Controller(state, hostname=HOST, port=state.port, **options)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (for timeouts)."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
