"""The pwrecovery command over a real SQLite file, the loopback SMTP server and, for
OAuth 2.0 senders, the loopback token endpoint."""

from __future__ import annotations

import io
import json
import os
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery import cli, exceptions
from pwrecovery._domain.audit_kinds import AUDIT_KINDS
from pwrecovery.testing import temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import HOST, Certificates, SmtpServer
from tests.oauth_server import IssuedToken, TokenServer, running_token_server

SMTP_USER = "envios@empresa.mx"
SMTP_PASSWORD = "clave-de-aplicacion"
NEW = "Tortuga verde 2026"
ZONE = "America/Mexico_City"
HEADER = "login,password_hash,supervisor,display_name,recovery_email,recovery_email_verified,locale"
DJANGO = pr.Pbkdf2Hasher(iterations=1000)


@attrs.define
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@attrs.define
class Cli:
    """Runs the command in-process with a store, a key and the test CA; ``locale=None``
    leaves the locale to the environment."""

    db: Path
    key: str
    ca_file: Path
    locale: str | None = "es_MX"

    def __call__(
        self, *argv: str, answers: list[str] | None = None, env: dict[str, str] | None = None
    ) -> Run:
        stdout, stderr = io.StringIO(), io.StringIO()
        common = ["--db", str(self.db), "--ca-file", str(self.ca_file)]
        common += ["--locale", self.locale] if self.locale else []
        code = cli.main(
            [*common, *argv],
            stdin=io.StringIO("".join(f"{a}\n" for a in answers or [])),
            stdout=stdout,
            stderr=stderr,
            environ={"PWRECOVERY_KEY": self.key, "TZ": ZONE} if env is None else env,
        )
        return Run(code, stdout.getvalue(), stderr.getvalue())

    def ok(self, *argv: str, answers: list[str] | None = None) -> Run:
        result = self(*argv, answers=answers)
        assert 0 == result.code, result.err
        return result

    def users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = self.ok("user", "list", "--json").json["users"]
        return users

    def kinds(self, origin: str | None = None) -> list[str]:
        events = self.ok("audit", "--json").json["events"]
        return [e["kind"] for e in events if origin is None or e["origin"] == origin]

    def stored_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.db.parent.glob(f"{self.db.name}*"))


@pytest.fixture
def run(tmp_path: Path, pwrecovery_certificates: Certificates) -> Cli:
    return Cli(tmp_path / "empresa.db", pr.generate_key(), pwrecovery_certificates.ca_file)


@pytest.fixture
def server(pwrecovery_smtp_server: SmtpServer) -> SmtpServer:
    pwrecovery_smtp_server.accounts[SMTP_USER] = SMTP_PASSWORD
    return pwrecovery_smtp_server


def sender_add(run: Cli, server: SmtpServer, password: str, *extra: str) -> Run:
    options = ["--host", HOST, "--port", str(server.port), "--security", "starttls"]
    options += ["--username", SMTP_USER, *extra]
    return run("sender", "add", "SUPERVISOR", *options, answers=[password])


def add_supervisor(run: Cli) -> None:
    run.ok("user", "add", "SUPERVISOR", "--supervisor", answers=["Supervisor de 2026"] * 2)


def verify(run: Cli, server: SmtpServer, login: str) -> None:
    run.ok("address", "set", login, f"{login.lower()}@empresa.mx")
    run.ok("address", "confirm", login, answers=[verification_code_in(server.outbox[-1].message)])


def set_up(run: Cli, server: SmtpServer) -> None:
    """Supervisor, juan, a sender, both addresses verified: all through the command."""
    add_supervisor(run)
    run.ok("user", "add", "juan", "--name", "Juan Pérez", answers=["Caballo azul 77"] * 2)
    assert 0 == sender_add(run, server, SMTP_PASSWORD).code
    verify(run, server, "SUPERVISOR")
    verify(run, server, "juan")


# -- the story ---------------------------------------------------------------


def test_the_whole_story(run: Cli, server: SmtpServer) -> None:
    """Recover (the service's sentence), sign in with the temporary password, change it
    twice-typed ("Clave recuperada con éxito."), sign in again; every event kind is one
    AUDIT_KINDS describes."""
    set_up(run, server)
    recovered = run.ok("recover", "juan", "--origin", "CAJA-01").out
    assert recovered.startswith("Se envió una clave temporal a j***@empresa.mx; es válida hasta")
    assert recovered.endswith("(CST).\n")
    temporary = temporary_password_in(server.outbox[-1].message)
    login = run.ok("login", "juan", answers=[temporary, NEW, NEW])
    prompts = "Clave de acceso: Nueva clave de acceso: Confirmar clave de acceso: "
    assert prompts == login.err
    assert login.out.startswith("Ingresaste con una clave temporal (válida hasta el ")
    assert login.out.endswith("\nClave recuperada con éxito.\n")
    assert "Acceso correcto.\n" == run.ok("login", "juan", answers=[NEW]).out
    events = run.ok("audit", "juan", "--json").json["events"]
    issued = [e for e in events if e["kind"] == "temporary_password_issued"]
    assert ["CAJA-01"] == [e["origin"] for e in issued]
    assert "signed_in_with_temporary" in [e["kind"] for e in events]
    assert set() == set(run.kinds()) - set(AUDIT_KINDS)


def test_change_password(run: Cli, server: SmtpServer) -> None:
    """change-password asks for the current password and the new one twice."""
    set_up(run, server)
    changed = run.ok("change-password", "juan", answers=["Caballo azul 77", NEW, NEW])
    assert "Clave cambiada con éxito.\n" == changed.out
    assert "Acceso correcto.\n" == run.ok("login", "juan", answers=[NEW]).out


def test_queued_recover_and_deliver(run: Cli, server: SmtpServer) -> None:
    """recover --queued stores the mail; deliver sends it through the server."""
    set_up(run, server)
    received = len(server.outbox)
    run.ok("recover", "juan", "--queued")
    assert received == len(server.outbox)
    report = run.ok("deliver", "--json").json
    assert (1, 0) == (report["sent"], report["retried"])
    temporary_password_in(server.outbox[-1].message)
    assert run.ok("deliver").out.startswith("Correos enviados: 0;")


# -- secrets and input -------------------------------------------------------


def test_secrets_are_never_arguments_or_output(run: Cli) -> None:
    """Secrets are read from the prompt, never printed back, never taken as arguments
    (an unknown option is a usage error, exit 2, written to the run's stderr)."""
    result = run.ok("user", "add", "ana", answers=["Una clave larga 1"] * 2)
    assert "Una clave larga 1" not in result.out + result.err
    refused = run("user", "add", "pedro", "--password", "Una clave larga 1")
    assert (cli.EXIT_USAGE, "") == (refused.code, refused.out)
    assert "--password" in refused.err


def test_input_that_ends_too_soon(run: Cli) -> None:
    """A prompt that gets no answer is a usage error, not a crash."""
    result = run("user", "add", "ana", answers=["Una clave larga 1"])
    assert (cli.EXIT_USAGE, True) == (result.code, "la entrada terminó" in result.err)


def test_mismatched_confirmation(run: Cli) -> None:
    """Typing the new password differently the second time fails with its exit code."""
    result = run("user", "add", "ana", answers=["Una clave larga 1", "Otra clave larga 2"])
    assert cli.EXIT_CODES["password_mismatch"] == result.code
    assert result.err.endswith("La nueva clave y su confirmación no coinciden.\n")


def test_errors_as_json(run: Cli, server: SmtpServer) -> None:
    """With --json an error is an object with a stable code, and the exit code matches it."""
    set_up(run, server)
    result = run("login", "juan", "--json", answers=["no es la clave"])
    assert cli.EXIT_CODES["invalid_credentials"] == result.code
    message = "El usuario o la clave de acceso no son correctos."
    assert {"ok": False, "error": {"code": "invalid_credentials", "message": message}} == (
        result.json
    )


def test_missing_key(run: Cli) -> None:
    """Without PWRECOVERY_KEY or --key-file the command says how to make a key (exit 3)."""
    result = run("user", "list", env={})
    assert (cli.EXIT_SETUP, True) == (result.code, "pwrecovery key new" in result.err)


def test_key_file_and_key_new(run: Cli, tmp_path: Path) -> None:
    """key new writes a new mode-600 file, never over an existing one; --key-file reads it."""
    key_file = tmp_path / "clave.key"
    run.ok("key", "new", "--output", str(key_file))
    assert 0o600 == stat.S_IMODE(key_file.stat().st_mode)
    assert cli.EXIT_SETUP == run("key", "new", "--output", str(key_file)).code
    assert 44 == len(run.ok("key", "new").out.strip())
    via_file = run("--key-file", str(key_file), "user", "list", env={})
    assert (0, "") == (via_file.code, via_file.out)


# -- senders -----------------------------------------------------------------


def test_wrong_sender_password_saves_nothing(run: Cli, server: SmtpServer) -> None:
    """sender add checks the login: a wrong password exits 16 and nothing is saved."""
    add_supervisor(run)
    assert cli.EXIT_CODES["sender_auth_failed"] == sender_add(run, server, "mala").code
    assert [] == run.ok("sender", "list", "--json").json["senders"]
    blank = sender_add(run, server, "  ")
    assert cli.EXIT_CODES["sender_credentials_empty"] == blank.code
    assert blank.err.endswith("No puedes tener tu clave y/o usuario vacío.\n")


def test_sender_list_and_remove(run: Cli, server: SmtpServer) -> None:
    """Senders are listed and can be removed; an unknown id exits with its own code; a
    user who owns a sender cannot be removed (exit 39)."""
    add_supervisor(run)
    saved = sender_add(run, server, SMTP_PASSWORD, "--name", "Contabilidad")
    (sender,) = run.ok("sender", "list", "--json").json["senders"]
    assert (sender["id"] in saved.out, "Contabilidad") == (True, sender["display_name"])
    line = run.ok("sender", "list").out
    assert (
        f"{sender['id']}\tSUPERVISOR\t{SMTP_USER}\t{HOST}:{server.port} (starttls, password)\t"
        in line
    )
    assert line.endswith("(CST)\n")
    assert cli.EXIT_CODES["sender_in_use"] == run("user", "remove", "SUPERVISOR").code
    run.ok("sender", "remove", sender["id"])
    assert cli.EXIT_CODES["unknown_sender"] == run("sender", "remove", sender["id"]).code
    run.ok("user", "remove", "SUPERVISOR")


def test_ca_file_adds_to_the_system_trust_store(
    pwrecovery_certificates: Certificates, server: SmtpServer
) -> None:
    """--ca-file adds one CA to the system's: the system CAs stay trusted, and the
    loopback server signed by the private CA is accepted (and refused without it)."""
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    context = cli.trust_context(str(pwrecovery_certificates.ca_file))
    assert context is not None
    assert system > 0
    assert system + 1 == context.cert_store_stats()["x509_ca"]
    settings = server.settings(SMTP_USER)
    pr.SmtpMailer(timeout=5.0, ssl_context=context).verify(settings, SMTP_PASSWORD)
    with pytest.raises(pr.SenderUnreachable) as refused:
        pr.SmtpMailer(timeout=5.0).verify(settings, SMTP_PASSWORD)
    assert "certificate" == refused.value.reason


def test_unreadable_ca_file(run: Cli, tmp_path: Path) -> None:
    """A --ca-file that cannot be read is a setup error (exit 3) that names it."""
    missing = tmp_path / "no-such-ca.pem"
    result = attrs.evolve(run, ca_file=missing)("user", "list")
    assert (cli.EXIT_SETUP, True) == (result.code, str(missing) in result.err)


# -- OAuth 2.0 senders -------------------------------------------------------

MAILBOX = "envios@contoso.mx"
TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6f1c2a9e-7b3d-4e5f-8a9b-0c1d2e3f4a5b"
CLIENT_SECRET = "Xq8Q~entra.client-secret_value-0123456789abcd"
GOOGLE_CLIENT_ID = "1234567890-abcdef.apps.googleusercontent.com"
GOOGLE_SECRET = "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yz"
REFRESH_TOKEN = "1//0g-stored-refresh-token-value-for-the-tests"


@pytest.fixture(scope="module")
def _endpoint_session(pwrecovery_certificates: Certificates) -> Iterator[TokenServer]:
    with running_token_server(pwrecovery_certificates) as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(_endpoint_session: TokenServer, server: SmtpServer) -> TokenServer:
    """The loopback token endpoint; each token it issues is the one the SMTP server takes."""
    _endpoint_session.reset()

    def accept_at_smtp(issued: IssuedToken) -> None:  # as Exchange or Gmail accept it
        server.tokens[MAILBOX] = issued.access_token

    _endpoint_session.on_issue.append(accept_at_smtp)
    return _endpoint_session


def oauth_sender(run: Cli, server: SmtpServer, *options: str, answers: list[str]) -> Run:
    argv = ["sender", "add", "SUPERVISOR", "--host", HOST, "--port", str(server.port)]
    argv += ["--security", "starttls", "--username", MAILBOX, *options]
    for answer in answers:
        assert answer not in " ".join(argv)
    return run(*argv, answers=answers)


def test_microsoft365_sender_end_to_end(
    run: Cli, server: SmtpServer, endpoint: TokenServer
) -> None:
    """sender add --oauth m365 reads the client secret from standard input, gets a token
    from the (loopback) Entra endpoint, logs in with XOAUTH2 and saves; recovery mail
    then goes through it. The secret is in no argument, no output and not in the store."""
    endpoint.add_entra_app(TENANT, CLIENT_ID, CLIENT_SECRET)
    add_supervisor(run)
    run.ok("user", "add", "juan", answers=["Caballo azul 77"] * 2)
    options = ["--oauth", "m365", "--tenant-id", TENANT, "--client-id", CLIENT_ID]
    options += ["--authority-host", endpoint.authority_host]
    saved = oauth_sender(run, server, *options, answers=[CLIENT_SECRET])
    assert 0 == saved.code, saved.err
    assert "Secreto de cliente de la aplicación: " == saved.err
    (sender,) = run.ok("sender", "list", "--json").json["senders"]
    assert ("xoauth2", MAILBOX) == (sender["authentication"], sender["username"])
    verify(run, server, "SUPERVISOR")
    verify(run, server, "juan")
    recovered = run.ok("recover", "juan")
    temporary_password_in(server.outbox[-1].message)
    assert (["juan@empresa.mx"], MAILBOX) == (
        server.outbox[-1].rcpt_tos,
        server.outbox[-1].mail_from,
    )
    everything = saved.out + saved.err + recovered.out + recovered.err
    assert CLIENT_SECRET not in everything
    assert CLIENT_SECRET.encode() not in run.stored_bytes()
    assert "sender_configured" in run.kinds()


def test_google_senders_from_prompt_and_key_file(
    run: Cli, server: SmtpServer, endpoint: TokenServer, tmp_path: Path
) -> None:
    """--oauth google asks for the client secret and the refresh token; --oauth
    google-service-account reads the JSON key file; both log in and are saved."""
    from tests.oauth_server import make_rsa_key, service_account_info  # noqa: PLC0415

    endpoint.add_refresh_token(
        REFRESH_TOKEN, client_id=GOOGLE_CLIENT_ID, client_secret=GOOGLE_SECRET, subject=MAILBOX
    )
    key = make_rsa_key()
    account = "envios@pwrecovery-tests.iam.gserviceaccount.com"
    endpoint.add_service_account(account, key.public_key(), {MAILBOX})
    key_file = tmp_path / "cuenta-de-servicio.json"
    key_file.write_text(json.dumps(service_account_info(key, account, endpoint.google_token_uri)))
    add_supervisor(run)
    google = ["--oauth", "google", "--client-id", GOOGLE_CLIENT_ID]
    google += ["--token-uri", endpoint.google_token_uri]
    saved = oauth_sender(run, server, *google, answers=[GOOGLE_SECRET, REFRESH_TOKEN])
    assert 0 == saved.code, saved.err
    assert 1 == endpoint.counts["refresh_token"]
    with_key = ["--oauth", "google-service-account", "--service-account-file", str(key_file)]
    again = oauth_sender(run, server, *with_key, answers=[])
    assert 0 == again.code, again.err
    stored = run.stored_bytes()
    assert (False, False) == (GOOGLE_SECRET.encode() in stored, REFRESH_TOKEN.encode() in stored)


@pytest.mark.parametrize(
    ("options", "sentence"),
    [
        (["--oauth", "m365", "--client-id", "x"], "--oauth m365 necesita la opción --tenant-id."),
        (["--tenant-id", "contoso.mx"], "La opción --tenant-id solo se usa con --oauth."),
        (
            ["--oauth", "google", "--client-id", "x", "--tenant-id", "t"],
            "La opción --tenant-id no se usa con --oauth google.",
        ),
    ],
)
def test_oauth_options_are_checked_before_any_prompt(
    run: Cli, server: SmtpServer, options: list[str], sentence: str
) -> None:
    """A missing or misplaced OAuth option is a usage error (exit 2), said before asking."""
    add_supervisor(run)
    result = oauth_sender(run, server, *options, answers=[])
    assert (cli.EXIT_USAGE, sentence + "\n") == (result.code, result.err)


def test_blank_client_secret(run: Cli, server: SmtpServer) -> None:
    """A blank client secret gets the vendor's sentence for empty credentials (exit 15)."""
    add_supervisor(run)
    options = ["--oauth", "m365", "--tenant-id", TENANT, "--client-id", CLIENT_ID]
    result = oauth_sender(run, server, *options, answers=["   "])
    assert cli.EXIT_CODES["sender_credentials_empty"] == result.code


# -- the users catalog -------------------------------------------------------


def test_user_list_and_show(run: Cli, server: SmtpServer) -> None:
    """Users list with their role and address state, in text and JSON."""
    set_up(run, server)
    run.ok("user", "add", "pedro", answers=["Clave de pedro 12"] * 2)
    assert [
        "juan\tusuario\tjuan@empresa.mx",
        "pedro\tusuario\tsin correo de recuperación",
        "SUPERVISOR\tSUPERVISOR\tsupervisor@empresa.mx",
    ] == run.ok("user", "list").out.splitlines()
    assert {
        "login": "juan",
        "display_name": "Juan Pérez",
        "supervisor": False,
        "recovery_email": "juan@empresa.mx",
        "recovery_email_verified": True,
        "disabled": False,
        "locale": None,
    } == run.ok("user", "show", "JUAN", "--json").json["user"]


def test_catalog_commands_change_the_user_and_are_audited(run: Cli) -> None:
    """disable, enable, supervisor, unlock, rename, locale and remove each change the
    user as they say and leave an audit event with the workstation's name."""
    add_supervisor(run)
    run.ok("user", "add", "juan", answers=["Caballo azul 77"] * 2)
    here = ("--origin", "CAJA-02")

    def user(*argv: str) -> dict[str, Any]:
        shown: dict[str, Any] = run.ok("user", *argv, *here, "--json").json["user"]
        return shown

    assert True is user("disable", "juan")["disabled"]
    assert "juan\tusuario\tsin correo de recuperación\tdesactivado" in run.ok("user", "list").out
    disabled = run("login", "juan", answers=["Caballo azul 77"])
    assert cli.EXIT_CODES["account_disabled"] == disabled.code
    assert False is user("enable", "juan")["disabled"]
    assert (True, False) == (
        user("supervisor", "juan", "on")["supervisor"],
        user("supervisor", "juan", "off")["supervisor"],
    )
    for _ in range(5):
        run("login", "juan", answers=["no es la clave"])
    locked = run("login", "juan", answers=["Caballo azul 77"])
    assert cli.EXIT_CODES["too_many_attempts"] == locked.code
    user("unlock", "juan")
    run.ok("login", "juan", answers=["Caballo azul 77"])
    assert "Juan P. López" == user("rename", "juan", "Juan P. López")["display_name"]
    assert "en" == user("locale", "juan", "EN")["locale"]
    assert None is user("locale", "juan", "-")["locale"]
    assert cli.EXIT_CODES["invalid_configuration"] == run("user", "locale", "juan", "fr").code
    removed = run.ok("user", "remove", "juan", *here)
    assert "Usuario «juan» eliminado.\n" == removed.out
    assert cli.EXIT_CODES["unknown_user"] == run("user", "show", "juan").code
    assert [
        "user_disabled",
        "user_enabled",
        "supervisor_set",
        "supervisor_set",
        "user_unlocked",
        "display_name_set",
        "locale_set",
        "locale_set",
        "user_removed",
    ] == run.kinds(origin="CAJA-02")


def test_catalog_sentences(run: Cli) -> None:
    """Each catalog command says what it did, in the run's locale."""
    add_supervisor(run)
    run.ok("user", "add", "juan", answers=["Caballo azul 77"] * 2)
    english = attrs.evolve(run, locale="en")
    assert [
        "User “juan” disabled: they can no longer sign in or recover their password.\n",
        "User “juan” enabled again.\n",
        "“juan” is now a SUPERVISOR.\n",
        "The sign-in locks of “juan” were cleared.\n",
        "Display name of “juan”: “Juan”.\n",
        "Language of the mails of “juan”: en.\n",
        "The mails of “juan” will be in the system's language.\n",
    ] == [
        english.ok("user", *argv).out
        for argv in (
            ("disable", "juan"),
            ("enable", "juan"),
            ("supervisor", "juan", "on"),
            ("unlock", "juan"),
            ("rename", "juan", "Juan"),
            ("locale", "juan", "en"),
            ("locale", "juan", "-"),
        )
    ]


# -- import ------------------------------------------------------------------


def csv_file(folder: Path, lines: list[str], *, bom: bool = False, name: str = "u.csv") -> str:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig" if bom else "utf-8")
    return str(path)


@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "without-bom"])
def test_import_csv_with_or_without_bom(run: Cli, tmp_path: Path, bom: bool) -> None:
    """A UTF-8 CSV, as Excel writes it (with a byte order mark) or not, imports every
    column: yes/no cells in any case and language, an empty cell as no."""
    add_supervisor(run)
    path = csv_file(
        tmp_path,
        [
            HEADER,
            f"ana,{DJANGO.hash('Clave de ana 2026')},Sí,Ana López,ana@empresa.mx,TRUE,en",
            f"pedro,{DJANGO.hash('Clave de pedro 2026')},,,,,",
        ],
        bom=bom,
    )
    result = run.ok("user", "import", path, "--origin", "MIGRACION")
    assert "Se importaron 2 usuarios.\n" == result.out
    ana, pedro = (u for u in run.users() if u["login"] in {"ana", "pedro"})
    assert (True, "Ana López", "ana@empresa.mx", True, "en") == (
        ana["supervisor"],
        ana["display_name"],
        ana["recovery_email"],
        ana["recovery_email_verified"],
        ana["locale"],
    )
    assert (False, "", None, None) == (
        pedro["supervisor"],
        pedro["display_name"],
        pedro["recovery_email"],
        pedro["locale"],
    )
    assert ["user_imported", "recovery_email_vouched", "user_imported"] == run.kinds("MIGRACION")


def test_import_reports_every_bad_row_by_line_and_imports_nothing(run: Cli, tmp_path: Path) -> None:
    """Bad rows in the middle: one stderr line per bad row with its line in the file (a
    quoted line break counts), exit 38, and no user is imported."""
    add_supervisor(run)
    before = run.users()
    path = csv_file(
        tmp_path,
        [
            "login,password_hash,display_name,recovery_email",
            f'ana,{DJANGO.hash("a")},"Ana',
            'López",',
            "pedro,not-a-hash,,",
            f"luis,{DJANGO.hash('l')},,luis@",
            f"rosa,{DJANGO.hash('r')},,rosa@empresa.mx",
        ],
    )
    result = run("user", "import", path)
    assert cli.EXIT_CODES["import_rejected"] == result.code
    assert [
        "Línea 2: fila 1 («ana»): el nombre para mostrar tiene caracteres no permitidos o es "
        "demasiado largo",
        "Línea 4: fila 2 («pedro»): ningún formato de clave configurado reconoce su hash",
        "Línea 5: fila 3 («luis»): el correo de recuperación no es válido",
        "No se importó ningún usuario: corrige las líneas anteriores y vuelve a intentarlo.",
    ] == result.err.splitlines()
    assert before == run.users()
    as_json = run("user", "import", path, "--json").json["error"]
    assert ("import_rejected", [2, 4, 5]) == (
        as_json["code"],
        [row["line"] for row in as_json["rows"]],
    )


def test_import_bad_yes_no_cell_is_a_bad_row(run: Cli, tmp_path: Path) -> None:
    """A yes/no cell that says neither is reported on its line, with the service's own
    findings for the other rows; nothing is imported."""
    add_supervisor(run)
    path = csv_file(
        tmp_path,
        [
            "login,password_hash,supervisor",
            f"ana,{DJANGO.hash('a')},quizá",
            "pedro,not-a-hash,no",
        ],
    )
    result = run("user", "import", path)
    assert cli.EXIT_CODES["import_rejected"] == result.code
    assert [
        "Línea 2: en la fila de «ana», la columna supervisor dice «quizá»: escribe sí o no",
        "Línea 3: fila 2 («pedro»): ningún formato de clave configurado reconoce su hash",
    ] == result.err.splitlines()[:2]
    assert ["SUPERVISOR"] == [u["login"] for u in run.users()]


@pytest.mark.parametrize(
    ("header", "sentence"),
    [
        (
            "login,password_hash,email",
            "tiene una columna que no se reconoce: «email». Las columnas válidas son: "
            "login, password_hash, supervisor, display_name, recovery_email, "
            "recovery_email_verified, locale.",
        ),
        ("login,supervisor", "le falta la columna obligatoria «password_hash»."),
        ("login,password_hash,LOGIN", "La columna «login» aparece más de una vez"),
    ],
)
def test_import_header_is_checked_first(
    run: Cli, tmp_path: Path, header: str, sentence: str
) -> None:
    """An unknown, missing or repeated column is a usage error (exit 2) before any row
    is read."""
    add_supervisor(run)
    path = csv_file(tmp_path, [header, "ana,x,y"])
    result = run("user", "import", path)
    assert (cli.EXIT_USAGE, True) == (result.code, sentence in result.err)
    assert 1 == len(result.err.splitlines())


def test_import_dry_run_writes_nothing(run: Cli, server: SmtpServer, tmp_path: Path) -> None:
    """--dry-run checks everything, lists the users it would create, and saves, audits
    and sends nothing."""
    add_supervisor(run)
    assert 0 == sender_add(run, server, SMTP_PASSWORD).code
    path = csv_file(
        tmp_path,
        ["login,password_hash,recovery_email", f"ana,{DJANGO.hash('a')},ana@empresa.mx"],
    )
    users, kinds, sent = run.users(), run.kinds(), len(server.outbox)
    result = run.ok("user", "import", path, "--dry-run")
    assert [
        "ana\tusuario\tana@empresa.mx (sin autenticar)",
        "Revisión sin cambios: se importaría 1 usuario; no se guardó ni se envió nada.",
    ] == result.out.splitlines()
    assert (users, kinds, sent) == (run.users(), run.kinds(), len(server.outbox))
    run.ok("user", "import", path, "--queued")
    assert sent == len(server.outbox)
    assert 1 == run.ok("deliver", "--json").json["sent"]
    verification_code_in(server.outbox[-1].message)


def test_imported_django_hash_signs_in_and_leaves_the_legacy_list(run: Cli, tmp_path: Path) -> None:
    """A Django pbkdf2_sha256 hash imports and signs in; `user legacy` lists the user
    until that first sign-in replaces the hash."""
    add_supervisor(run)
    path = csv_file(tmp_path, ["login,password_hash", f"ana,{DJANGO.hash('Clave de ana 2026')}"])
    run.ok("user", "import", path)
    assert "ana\n" == run.ok("user", "legacy").out
    assert [] == run.ok("user", "legacy", "--days", "30", "--json").json["users"]
    assert "Acceso correcto.\n" == run.ok("login", "ana", answers=["Clave de ana 2026"]).out
    assert "password_upgraded" in run.kinds()
    assert "Ningún usuario sigue con una clave importada de otro sistema.\n" == (
        run.ok("user", "legacy").out
    )
    assert "Acceso correcto.\n" == run.ok("login", "ana", answers=["Clave de ana 2026"]).out


def test_imported_bcrypt_hash_signs_in(run: Cli, tmp_path: Path) -> None:
    """With the bcrypt package installed, bcrypt hashes import and sign in too."""
    bcrypt = pytest.importorskip("bcrypt")
    hashed = bcrypt.hashpw(b"Clave de ana 2026", bcrypt.gensalt(rounds=4)).decode()
    add_supervisor(run)
    run.ok("user", "import", csv_file(tmp_path, ["login,password_hash", f"ana,{hashed}"]))
    assert "Acceso correcto.\n" == run.ok("login", "ana", answers=["Clave de ana 2026"]).out


# -- check and audit ---------------------------------------------------------


def test_check_reports_what_would_stop_a_recovery(run: Cli, server: SmtpServer) -> None:
    """check --json gives each problem's own code, params and sentence; exit 1 while one
    blocks recovery, 0 with none (and then the ready sentence)."""
    add_supervisor(run)
    blocked = run("check", "--json")
    assert (1, False) == (blocked.code, blocked.json["ready"])
    assert [
        ("no_sender", {}),
        ("no_supervisor", {}),
        ("user_without_address", {"login": "SUPERVISOR"}),
    ] == [(p["code"], p["params"]) for p in blocked.json["problems"]]
    assert (
        "El usuario «SUPERVISOR» no tiene un correo de recuperación autenticado."
        == (blocked.json["problems"][2]["message"])
    )
    assert 0 == sender_add(run, server, SMTP_PASSWORD).code
    verify(run, server, "SUPERVISOR")
    ready = run.ok("check")
    assert ready.out.startswith("Todo listo")
    server.accounts[SMTP_USER] = "changed on the server"
    failing = run("check", "--verify-senders", "--json")
    (problem,) = failing.json["problems"]
    assert (1, "sender_failing", "sender_auth_failed") == (
        failing.code,
        problem["code"],
        problem["params"]["code"],
    )
    assert "no pudo iniciar sesión" in run("check", "--verify-senders").out


def test_check_passes_with_problems_that_do_not_block(run: Cli, server: SmtpServer) -> None:
    """A user without an address is reported, but recovery works for the others: exit 0."""
    add_supervisor(run)
    assert 0 == sender_add(run, server, SMTP_PASSWORD).code
    verify(run, server, "SUPERVISOR")
    run.ok("user", "add", "juan", answers=["Caballo azul 77"] * 2)
    result = run.ok("check")
    assert "El usuario «juan» no tiene un correo de recuperación autenticado.\n" == result.out


def test_check_finds_senders_under_another_key(run: Cli, server: SmtpServer) -> None:
    """A sender saved under another key is reported as undecryptable."""
    add_supervisor(run)
    sender_add(run, server, SMTP_PASSWORD)
    problems = attrs.evolve(run, key=pr.generate_key())("check", "--json").json["problems"]
    assert "sender_undecryptable" in [p["code"] for p in problems]


def test_audit_describes_each_event_in_the_company_zone(run: Cli) -> None:
    """audit shows a sentence per event, at its time in --timezone; --json keeps the kind."""
    add_supervisor(run)
    spanish = run.ok("audit", "--timezone", "America/New_York").out.split("\t")
    assert spanish[0].endswith(" EST") or spanish[0].endswith(" EDT")
    assert ["Usuario agregado", "SUPERVISOR"] == spanish[1:3]
    english = attrs.evolve(run, locale="en").ok("audit", "--timezone", "UTC").out
    assert english.split("\t")[0].endswith(" UTC")
    assert "User added" == english.split("\t")[1]
    assert ["user_added"] == run.kinds()


# -- locale, version, exit codes ---------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "es_MX"),
        ({"LANG": ""}, "es_MX"),
        ({"LANG": "es_ES.UTF-8"}, "es_MX"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "fr_FR"}, "es_MX"),
        ({"LC_ALL": "en_GB", "LANG": "es_MX"}, "en"),
        ({"LC_MESSAGES": "C", "LANG": "es_MX"}, "en"),
        ({"LC_ALL": "es_MX.UTF-8", "LC_MESSAGES": "en_US"}, "es_MX"),
    ],
)
def test_locale_from_the_environment(environ: dict[str, str], expected: str) -> None:
    """LC_ALL, LC_MESSAGES, LANG in that order: C/POSIX speak English, nothing set
    speaks es_MX, any other name is resolved."""
    assert expected == cli.locale_from(environ)


def test_lang_c_speaks_english(run: Cli) -> None:
    """LANG=C (a bare server) gives English sentences, not Spanish."""
    result = attrs.evolve(run, locale=None)(
        "user", "show", "nadie", env={"PWRECOVERY_KEY": run.key, "LANG": "C"}
    )
    assert (cli.EXIT_CODES["unknown_user"], "There is no user “nadie”.\n") == (
        result.code,
        result.err,
    )


def test_locale_option_takes_any_known_spelling(run: Cli) -> None:
    """--locale takes a locale the service knows in any spelling, and refuses others."""
    assert "There is no user “x”.\n" == attrs.evolve(run, locale="EN")("user", "show", "x").err
    refused = attrs.evolve(run, locale="fr")("user", "list")
    assert (cli.EXIT_USAGE, True) == (refused.code, "no es un idioma disponible" in refused.err)


def test_version_and_help(run: Cli) -> None:
    """--version prints `pwrecovery <version>`; --help goes to the run's stdout in its
    locale; both exit 0."""
    version = run("--version")
    assert (0, f"pwrecovery {pr.__version__}\n", "") == (version.code, version.out, version.err)
    helped = run("--help")
    assert (0, True) == (helped.code, "muestra la versión y termina" in helped.out)


HELP_PAGES = [
    [],
    *([group] for group in ("key", "user", "address", "sender")),
    ["key", "new"],
    *(
        ["user", action]
        for action in (
            "add",
            "list",
            "show",
            "import",
            "disable",
            "enable",
            "remove",
            "supervisor",
            "unlock",
            "rename",
            "locale",
            "legacy",
        )
    ),
    ["address", "set"],
    ["address", "confirm"],
    *(["sender", action] for action in ("add", "list", "remove")),
    *([name] for name in ("recover", "deliver", "login", "change-password", "audit", "check")),
    ["demo"],
]


@pytest.mark.parametrize("locale", ["es_MX", "en"])
def test_every_help_page_is_written_from_the_catalog(locale: str) -> None:
    """Every command's --help exits 0 with texts from the catalog: no message id shows."""
    for argv in HELP_PAGES:
        stdout = io.StringIO()
        code = cli.main(
            [*argv, "--help", "--locale", locale], stdout=stdout, stderr=io.StringIO(), environ={}
        )
        assert (0, False) == (code, "cli.help." in stdout.getvalue()), argv


def test_every_error_has_its_own_exit_code() -> None:
    """Each error class maps to an exit code of its own, none shared with the command's;
    the codes added in release 2 start at 37."""
    classes = [
        value
        for value in vars(exceptions).values()
        if isinstance(value, type) and issubclass(value, exceptions.PwRecoveryError)
    ]
    assert {cls.code for cls in classes} - {"error"} == set(cli.EXIT_CODES)
    values = list(cli.EXIT_CODES.values())
    assert len(values) == len(set(values))
    assert not set(values) & {cli.EXIT_OK, cli.EXIT_PROBLEMS, cli.EXIT_USAGE, cli.EXIT_SETUP}
    assert {
        "account_disabled": 37,
        "import_rejected": 38,
        "sender_in_use": 39,
        "secret_key_missing": 40,
        "basic_auth_disabled": 41,
        "sender_address_refused": 42,
        "delivery_rejected": 43,
    } == {code: n for code, n in cli.EXIT_CODES.items() if n >= 37}


# -- demo --------------------------------------------------------------------


def test_module_and_demo_run_as_programs(tmp_path: Path) -> None:
    """`python -m pwrecovery demo` runs the whole story and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "pwrecovery", "demo"],
        capture_output=True,
        text=True,
        env={**os.environ, "LANG": "en_US.UTF-8"},
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert 0 == result.returncode, result.stderr
    assert result.stdout.endswith("Every step behaved as it should.\n")


def test_demo_in_spanish_names_no_raw_event_kind() -> None:
    """The Spanish demo describes its audit trail in Spanish: no event kind appears."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.main(["demo", "--locale", "es_MX"], stdout=stdout, stderr=stderr, environ={})
    assert 0 == code, stderr.getvalue()
    trail = stdout.getvalue().partition("Bitácora de juan:\n")[2]
    assert "Clave temporal emitida" in trail
    assert [] == [kind for kind in AUDIT_KINDS if kind in stdout.getvalue()]


@pytest.mark.parametrize("option", [["--db", "otra.db"], ["--key-file", "clave.key"]])
def test_demo_refuses_options_it_would_ignore(option: list[str]) -> None:
    """demo has its own store and key: --db and --key-file are refused (exit 2), not
    silently ignored."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.main(
        ["demo", *option, "--locale", "es_MX"], stdout=stdout, stderr=stderr, environ={}
    )
    sentence = "La demostración usa su propia base de datos, llave y certificados"
    assert (cli.EXIT_USAGE, "", True) == (code, stdout.getvalue(), sentence in stderr.getvalue())
    assert option[0] in stderr.getvalue()


def test_broken_pipe_ends_quietly(tmp_path: Path) -> None:
    """`pwrecovery demo | head -1`: when the reader goes away the command ends with 141
    and no traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pwrecovery", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LANG": "C"},
        cwd=tmp_path,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    errors = process.stderr.read().decode()
    process.stderr.close()
    assert (cli.EXIT_BROKEN_PIPE, b"pwrecovery demo") == (process.wait(timeout=120), first[:15])
    assert "Traceback" not in errors
