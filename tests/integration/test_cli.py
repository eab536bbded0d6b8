"""The pwrecovery command over a real SQLite file and the loopback SMTP server."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

import pwrecovery as pr
from pwrecovery import cli, errors
from pwrecovery.testing import temporary_password_in, verification_code_in
from pwrecovery.testing.smtp import Certificates, SmtpServer

SMTP_USER = "envios@empresa.mx"
SMTP_PASSWORD = "clave-de-aplicacion"
NEW = "Tortuga verde 2026"


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
    """Runs the command in-process with a store, a key and the test CA."""

    db: Path
    key: str
    ca_file: Path
    locale: str = "es_MX"

    def __call__(
        self, *argv: str, answers: list[str] | None = None, env: dict[str, str] | None = None
    ) -> Run:
        stdout, stderr = io.StringIO(), io.StringIO()
        common = ["--db", str(self.db), "--ca-file", str(self.ca_file), "--locale", self.locale]
        code = cli.main(
            [*common, *argv],
            stdin=io.StringIO("".join(f"{a}\n" for a in answers or [])),
            stdout=stdout,
            stderr=stderr,
            environ={"PWRECOVERY_KEY": self.key} if env is None else env,
        )
        return Run(code, stdout.getvalue(), stderr.getvalue())

    def ok(self, *argv: str, answers: list[str] | None = None) -> Run:
        result = self(*argv, answers=answers)
        assert 0 == result.code, result.err
        return result


@pytest.fixture
def run(tmp_path: Path, pwrecovery_certificates: Certificates) -> Cli:
    return Cli(tmp_path / "empresa.db", pr.generate_key(), pwrecovery_certificates.ca_file)


@pytest.fixture
def server(pwrecovery_smtp_server: SmtpServer) -> SmtpServer:
    pwrecovery_smtp_server.accounts[SMTP_USER] = SMTP_PASSWORD
    return pwrecovery_smtp_server


def sender_add(run: Cli, server: SmtpServer, password: str, *extra: str) -> Run:
    options = ["--host", "127.0.0.1", "--port", str(server.port), "--security", "starttls"]
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


def test_the_whole_story(run: Cli, server: SmtpServer) -> None:
    """Recover, sign in with the temporary password, change it twice-typed, sign in again."""
    set_up(run, server)
    assert "j***@empresa.mx" in run.ok("recover", "juan", "--origin", "CAJA-01").out
    temporary = temporary_password_in(server.outbox[-1].message)
    login = run.ok("login", "juan", answers=[temporary, NEW, NEW])
    prompts = "Clave de acceso: Nueva clave de acceso: Confirmar clave de acceso: "
    assert prompts == login.err
    assert login.out.endswith("Clave recuperada con éxito.\n")
    assert "Acceso correcto.\n" == run.ok("login", "juan", answers=[NEW]).out
    events = run.ok("audit", "juan", "--json").json["events"]
    issued = [e for e in events if e["kind"] == "temporary_password_issued"]
    assert ["CAJA-01"] == [e["origin"] for e in issued]
    assert "signed_in_with_temporary" in [e["kind"] for e in events]


def test_change_password(run: Cli, server: SmtpServer) -> None:
    """change-password asks for the current password and the new one twice."""
    set_up(run, server)
    run.ok("change-password", "juan", answers=["Caballo azul 77", NEW, NEW])
    assert "Acceso correcto.\n" == run.ok("login", "juan", answers=[NEW]).out


def test_secrets_are_never_arguments_or_output(run: Cli) -> None:
    """Secrets are read from the prompt, never printed back, never taken as arguments."""
    result = run.ok("user", "add", "ana", answers=["Una clave larga 1"] * 2)
    assert "Una clave larga 1" not in result.out + result.err
    with pytest.raises(SystemExit) as caught:
        run("user", "add", "pedro", "--password", "Una clave larga 1")
    assert 2 == caught.value.code


def test_input_that_ends_too_soon(run: Cli) -> None:
    """A prompt that gets no answer is a usage error, not a crash."""
    result = run("user", "add", "ana", answers=["Una clave larga 1"])
    assert (cli.EXIT_USAGE, True) == (result.code, "la entrada terminó" in result.err)


def test_mismatched_confirmation(run: Cli) -> None:
    """Typing the new password differently the second time fails with its exit code."""
    result = run("user", "add", "ana", answers=["Una clave larga 1", "Otra clave larga 2"])
    assert cli.EXIT_CODES["password_mismatch"] == result.code
    assert result.err.endswith("La nueva clave y su confirmación no coinciden.\n")


def test_wrong_sender_password_saves_nothing(run: Cli, server: SmtpServer) -> None:
    """sender add checks the login: a wrong password exits 16 and nothing is saved."""
    add_supervisor(run)
    assert cli.EXIT_CODES["sender_auth_failed"] == sender_add(run, server, "mala").code
    assert [] == run.ok("sender", "list", "--json").json["senders"]
    blank = sender_add(run, server, "  ")
    assert cli.EXIT_CODES["sender_credentials_empty"] == blank.code
    assert blank.err.endswith("No puedes tener tu clave y/o usuario vacío.\n")


def test_sender_list_and_remove(run: Cli, server: SmtpServer) -> None:
    """Senders are listed and can be removed; an unknown id exits with its own code."""
    add_supervisor(run)
    saved = sender_add(run, server, SMTP_PASSWORD, "--name", "Contabilidad")
    (sender,) = run.ok("sender", "list", "--json").json["senders"]
    assert (sender["id"] in saved.out, "Contabilidad") == (True, sender["display_name"])
    run.ok("sender", "remove", sender["id"])
    assert cli.EXIT_CODES["unknown_sender"] == run("sender", "remove", sender["id"]).code


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
    } == run.ok("user", "show", "JUAN", "--json").json["user"]


def test_check_reports_what_would_stop_a_recovery(run: Cli, server: SmtpServer) -> None:
    """check lists every obstacle (exit 1) and says all is set once none is left (exit 0)."""
    add_supervisor(run)
    blocked = run("check", "--json")
    assert 1 == blocked.code
    codes = [p["code"] for p in blocked.json["problems"]]
    assert ["no_sender", "no_supervisor", "user_without_address"] == codes
    assert 0 == sender_add(run, server, SMTP_PASSWORD).code
    verify(run, server, "SUPERVISOR")
    ready = run.ok("check")
    assert ready.out.startswith("Todo listo")
    server.accounts[SMTP_USER] = "changed on the server"
    failing = run("check", "--verify-senders")
    assert (1, True) == (failing.code, "no pudo iniciar sesión" in failing.out)


def test_check_finds_senders_under_another_key(run: Cli, server: SmtpServer) -> None:
    """A sender saved under another key is reported as undecryptable."""
    add_supervisor(run)
    sender_add(run, server, SMTP_PASSWORD)
    problems = attrs.evolve(run, key=pr.generate_key())("check", "--json").json["problems"]
    assert "undecryptable" in [p["code"] for p in problems]


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


def test_english(run: Cli) -> None:
    """--locale en (or an English LANG) speaks English."""
    result = attrs.evolve(run, locale="en")("user", "show", "nadie")
    assert (cli.EXIT_CODES["unknown_user"], "There is no user “nadie”.\n") == (
        result.code,
        result.err,
    )
    assert "en" == cli.locale_from({"LANG": "en_US.UTF-8"})
    assert "es_MX" == cli.locale_from({"LANG": "C.UTF-8"})
    assert "es_MX" == cli.locale_from({})


def test_every_error_has_its_own_exit_code() -> None:
    """Each error class maps to an exit code of its own, none shared with the command's."""
    classes = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.PwRecoveryError)
    ]
    assert {cls.code for cls in classes} - {"error"} == set(cli.EXIT_CODES)
    values = list(cli.EXIT_CODES.values())
    assert len(values) == len(set(values))
    assert not set(values) & {cli.EXIT_OK, cli.EXIT_PROBLEMS, cli.EXIT_USAGE, cli.EXIT_SETUP}


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
