"""``sender ...`` and ``key new``: the sender accounts and the key that seals their secrets.

A sender logs in with a password, or with OAuth 2.0 (``--oauth``): the CLI then
asks for the application's secret (and, for Google, the refresh token) or reads
a service account's key file, makes a credential bundle with
``pwrecovery.oauth`` and saves it sealed like a password. Secrets come only from
the prompt (or standard input), never from the arguments.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from pwrecovery import oauth
from pwrecovery.adapters.secretbox import generate_key
from pwrecovery.cli._console import (
    EXIT_OK,
    EXIT_SETUP,
    EXIT_USAGE,
    CliError,
    Command,
    sender_json,
)
from pwrecovery.exceptions import SenderCredentialsEmpty
from pwrecovery.models import Authentication, Security, SenderSettings

M365: Final = "m365"
GOOGLE: Final = "google"
SERVICE_ACCOUNT: Final = "google-service-account"
OAUTH_KINDS: Final = (M365, GOOGLE, SERVICE_ACCOUNT)

# Per kind: the options it needs, and those it also takes (attribute, flag).
_NEEDS: Final = {
    M365: ("tenant_id", "client_id"),
    GOOGLE: ("client_id",),
    SERVICE_ACCOUNT: ("service_account_file",),
}
_TAKES: Final = {
    M365: ("tenant_id", "client_id", "authority_host"),
    GOOGLE: ("client_id", "token_uri"),
    SERVICE_ACCOUNT: ("service_account_file",),
}
_OAUTH_OPTIONS: Final = (
    "tenant_id",
    "client_id",
    "authority_host",
    "token_uri",
    "service_account_file",
)


def _flag(attribute: str) -> str:
    return "--" + attribute.replace("_", "-")


def cmd_key_new(command: Command) -> int:
    key = generate_key()
    output: str | None = command.args.output
    if output is None:
        command.emit({"key": key}, key)
        return EXIT_OK
    try:
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise CliError("cli.key.exists", EXIT_SETUP, path=output) from error
    except OSError as error:
        raise CliError("cli.key.unwritable", EXIT_SETUP, path=output) from error
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return command.done({"path": output}, "cli.key.written", path=output)


def _check_oauth_options(command: Command) -> str | None:
    """The --oauth kind; every option it needs is given and none it does not take."""
    args = command.args
    kind: str | None = args.oauth
    takes = _TAKES.get(kind or "", ())
    for attribute in _OAUTH_OPTIONS:
        if getattr(args, attribute) is not None and attribute not in takes:
            if kind is None:
                raise CliError("cli.oauth.needs_oauth", EXIT_USAGE, option=_flag(attribute))
            raise CliError(
                "cli.oauth.option_not_for", EXIT_USAGE, option=_flag(attribute), kind=kind
            )
    for attribute in _NEEDS.get(kind or "", ()):
        if not getattr(args, attribute):
            raise CliError(
                "cli.oauth.option_needed", EXIT_USAGE, option=_flag(attribute), kind=kind
            )
    return kind


def _asked(command: Command, msgid: str) -> str:
    answer = command.console.ask_secret(msgid)
    if not answer.strip():
        raise SenderCredentialsEmpty
    return answer


def _bundle(command: Command, kind: str) -> str:
    """The credential bundle for ``kind``, its secrets asked for at the prompt."""
    args = command.args
    try:
        if kind == M365:
            return oauth.microsoft365_credentials(
                tenant_id=args.tenant_id,
                client_id=args.client_id,
                client_secret=_asked(command, "cli.prompt.client_secret"),
                authority_host=args.authority_host or oauth.MICROSOFT_AUTHORITY_HOST,
            )
        if kind == GOOGLE:
            return oauth.google_refresh_token_credentials(
                client_id=args.client_id,
                client_secret=_asked(command, "cli.prompt.client_secret"),
                refresh_token=_asked(command, "cli.prompt.refresh_token"),
                token_uri=args.token_uri or oauth.GOOGLE_TOKEN_URI,
            )
        path: str = args.service_account_file
        try:
            key = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CliError("cli.oauth.key_file_unreadable", EXIT_SETUP, path=path) from error
        return oauth.google_service_account_credentials(key)
    except oauth.OAuthError as error:
        # The message names what is wrong and never holds a secret (pwrecovery.oauth).
        raise CliError("cli.oauth.invalid", EXIT_USAGE, detail=str(error)) from None


def _secret(command: Command, kind: str | None) -> str:
    """The SMTP password, or the OAuth 2.0 credential bundle for ``kind``."""
    if kind is None:
        return command.console.ask_secret("cli.prompt.sender_password")
    return _bundle(command, kind)


def cmd_sender_add(command: Command) -> int:
    args = command.args
    kind = _check_oauth_options(command)
    settings = SenderSettings(
        host=args.host,
        port=args.port,
        security=Security(args.security),
        username=args.username,
        from_address=args.from_address or args.username,
        display_name=args.name,
        authentication=Authentication.XOAUTH2 if kind else Authentication.PASSWORD,
    )
    # The secret goes straight to the service: no local of this frame holds it.
    account = command.service.configure_sender(
        args.owner, settings, _secret(command, kind), origin=command.origin
    )
    return command.done(
        {"sender": sender_json(account)},
        "cli.sender.saved",
        id=account.id,
        username=settings.username,
        host=settings.host,
        port=settings.port,
    )


def cmd_sender_list(command: Command) -> int:
    accounts = command.service.senders()
    if command.json:
        command.emit({"senders": [sender_json(a) for a in accounts]})
        return EXIT_OK
    console = command.console
    for account in accounts:
        settings = account.settings
        console.say(
            "cli.sender.line",
            id=account.id,
            owner=account.owner,
            username=settings.username,
            host=settings.host,
            port=settings.port,
            security=settings.security.value,
            authentication=settings.authentication.value,
            verified_at=console.texts.moment(console.locale, account.verified_at, command.zone),
        )
    return EXIT_OK


def cmd_sender_remove(command: Command) -> int:
    sender_id = command.args.id
    command.service.remove_sender(sender_id, origin=command.origin)
    return command.done({"id": sender_id}, "cli.sender.removed", id=sender_id)
