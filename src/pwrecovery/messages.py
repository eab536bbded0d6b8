"""Every text a person reads, in each supported locale.

One catalog for error messages, password-rule reasons, durations and mail
texts, so that a test can prove each entry exists in every locale. Only data
and pure formatting live here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

LOCALES: Final = ("es_MX", "en")
DEFAULT_LOCALE: Final = "es_MX"

ERRORS: Final[dict[str, dict[str, str]]] = {
    "es_MX": {
        "error": "Ocurrió un error en la recuperación de claves.",
        "unknown_user": "No existe el usuario «{login}».",
        "user_exists": "Ya existe el usuario «{login}».",
        "recovery_email_missing.user": (
            "El usuario «{login}» no tiene un correo de recuperación autenticado; "
            "configúralo desde el catálogo de usuarios."
        ),
        "recovery_email_missing.supervisor": (
            "El SUPERVISOR no tiene un correo de recuperación autenticado; "
            "configúralo desde el catálogo de usuarios."
        ),
        "recovery_email_missing.both": (
            "Ni el usuario «{login}» ni el SUPERVISOR tienen un correo de recuperación "
            "autenticado; configúralos desde el catálogo de usuarios."
        ),
        "no_sender_configured": (
            "No hay ninguna cuenta de correo remitente configurada; "
            "configura una en la configuración de correo."
        ),
        "sender_credentials_empty": "No puedes tener tu clave y/o usuario vacío.",
        "sender_auth_failed": (
            "El servidor de correo {host} rechazó el usuario o la clave de la cuenta remitente."
        ),
        "sender_unreachable": "No fue posible usar el servidor de correo {host}:{port}: {reason}.",
        "delivery_failed": (
            "No se pudo enviar el correo con ninguna de las cuentas remitentes configuradas "
            "({attempts}); inténtalo más tarde."
        ),
        "rate_limited": (
            "Ya se solicitaron demasiadas recuperaciones de clave para este usuario; "
            "espera {retry_after} antes de volver a intentarlo."
        ),
        "invalid_email": "La dirección de correo no es válida.",
        "invalid_credentials": "El usuario o la clave de acceso no son correctos.",
        "temporary_password_expired": (
            "La clave temporal ya venció; solicita otra con el botón «Recuperar clave»."
        ),
        "too_many_attempts": (
            "Hubo demasiados intentos fallidos; espera {retry_after} antes de volver a intentarlo."
        ),
        "password_mismatch": "La nueva clave y su confirmación no coinciden.",
        "password_policy": "La nueva clave no es válida: {reasons}.",
        "verification_failed": (
            "El código de verificación no es correcto, ya venció o ya se usó; "
            "solicita uno nuevo desde el catálogo de usuarios."
        ),
        "invalid_login": (
            "El nombre de usuario no es válido: debe tener de 1 a {max_length} caracteres "
            "y ningún carácter de control."
        ),
        "invalid_header_value": (
            "El dato «{field}» contiene caracteres no permitidos "
            "(saltos de línea o caracteres de control) o es demasiado largo."
        ),
        "unknown_sender": "No existe la cuenta remitente «{sender_id}».",
        "secret_key_invalid": (
            "La llave de cifrado no es válida: debe ser una llave de 256 bits "
            "como la que produce pwrecovery.generate_key()."
        ),
        "secret_undecryptable": (
            "No se pudo descifrar la clave de la cuenta remitente «{sender_id}»: "
            "la llave de cifrado no corresponde o el dato guardado está dañado."
        ),
        "concurrent_modification": (
            "Otro equipo modificó este usuario al mismo tiempo; inténtalo de nuevo."
        ),
        "invalid_configuration": "El valor de «{setting}» no es válido: {rule}.",
        "store_unavailable": (
            "No fue posible leer o escribir la base de datos de claves; "
            "inténtalo de nuevo y, si persiste, avisa al SUPERVISOR."
        ),
        "store_schema_too_new": (
            "La base de datos de claves es de una versión más reciente de pwrecovery "
            "(esquema {found}; esta versión conoce hasta el {supported}); actualiza el programa."
        ),
    },
    "en": {
        "error": "A password recovery error occurred.",
        "unknown_user": "There is no user “{login}”.",
        "user_exists": "A user “{login}” already exists.",
        "recovery_email_missing.user": (
            "The user “{login}” has no verified recovery e-mail address; "
            "set one up in the users catalog."
        ),
        "recovery_email_missing.supervisor": (
            "The SUPERVISOR has no verified recovery e-mail address; "
            "set one up in the users catalog."
        ),
        "recovery_email_missing.both": (
            "Neither the user “{login}” nor the SUPERVISOR has a verified recovery "
            "e-mail address; set them up in the users catalog."
        ),
        "no_sender_configured": (
            "No sender e-mail account is configured; set one up in the mail configuration."
        ),
        "sender_credentials_empty": "The sender account's username and password cannot be empty.",
        "sender_auth_failed": (
            "The mail server {host} rejected the sender account's username or password."
        ),
        "sender_unreachable": "The mail server {host}:{port} could not be used: {reason}.",
        "delivery_failed": (
            "The e-mail could not be sent through any of the configured sender accounts "
            "({attempts}); try again later."
        ),
        "rate_limited": (
            "Too many password recoveries were requested for this user; "
            "wait {retry_after} before trying again."
        ),
        "invalid_email": "The e-mail address is not valid.",
        "invalid_credentials": "The user name or password is incorrect.",
        "temporary_password_expired": (
            "The temporary password has expired; request a new one with the "
            "“Recover password” button."
        ),
        "too_many_attempts": "Too many failed attempts; wait {retry_after} before trying again.",
        "password_mismatch": "The new password and its confirmation do not match.",
        "password_policy": "The new password is not acceptable: {reasons}.",
        "verification_failed": (
            "The verification code is wrong, has expired or was already used; "
            "request a new one from the users catalog."
        ),
        "invalid_login": (
            "The user name is not valid: it must have 1 to {max_length} characters "
            "and no control characters."
        ),
        "invalid_header_value": (
            "The value of “{field}” holds characters that are not allowed "
            "(line breaks or control characters) or is too long."
        ),
        "unknown_sender": "There is no sender account “{sender_id}”.",
        "secret_key_invalid": (
            "The encryption key is not valid: it must be a 256-bit key such as "
            "pwrecovery.generate_key() makes."
        ),
        "secret_undecryptable": (
            "The password of the sender account “{sender_id}” could not be decrypted: "
            "the encryption key does not match or the stored value is damaged."
        ),
        "concurrent_modification": (
            "Another workstation changed this user at the same time; try again."
        ),
        "invalid_configuration": "The value of “{setting}” is not valid: {rule}.",
        "store_unavailable": (
            "The password database could not be read or written; try again and, "
            "if it persists, tell the SUPERVISOR."
        ),
        "store_schema_too_new": (
            "The password database was written by a newer pwrecovery (schema {found}; "
            "this version knows up to {supported}); update the program."
        ),
    },
}

# Why a mail server could not be used (SenderUnreachable.reason).
UNREACHABLE_REASONS: Final[dict[str, dict[str, str]]] = {
    "es_MX": {
        "connection": "no se pudo establecer la conexión",
        "timeout": "el servidor no respondió a tiempo",
        "certificate": "su certificado no es de confianza",
        "tls": "falló la negociación TLS",
        "starttls_unsupported": "el servidor no ofrece STARTTLS",
        "auth_unsupported": "el servidor no ofrece autenticación",
        "plaintext_refused": ("no se envían credenciales sin cifrar a un servidor que no es local"),
        "protocol": "el servidor respondió de forma inesperada",
        "undecryptable": "no se pudo descifrar la clave guardada",
    },
    "en": {
        "connection": "the connection could not be established",
        "timeout": "the server did not answer in time",
        "certificate": "its certificate is not trusted",
        "tls": "the TLS handshake failed",
        "starttls_unsupported": "the server does not offer STARTTLS",
        "auth_unsupported": "the server does not offer authentication",
        "plaintext_refused": (
            "credentials are never sent unencrypted to a server that is not local"
        ),
        "protocol": "the server answered unexpectedly",
        "undecryptable": "the stored password could not be decrypted",
    },
}

PASSWORD_REASONS: Final[dict[str, dict[str, str]]] = {
    "es_MX": {
        "too_short": "debe tener al menos {min_length} caracteres",
        "too_long": "debe tener como máximo {max_length} caracteres",
        "common": "es una clave demasiado común",
        "same_as_login": "no puede ser igual al nombre de usuario",
        "same_as_current": "no puede ser igual a la clave actual",
        "same_as_temporary": "no puede ser igual a la clave temporal",
        "invalid_characters": "contiene caracteres que no se pueden guardar",
    },
    "en": {
        "too_short": "it must have at least {min_length} characters",
        "too_long": "it must have at most {max_length} characters",
        "common": "it is too common a password",
        "same_as_login": "it cannot be the same as the user name",
        "same_as_current": "it cannot be the same as the current password",
        "same_as_temporary": "it cannot be the same as the temporary password",
        "invalid_characters": "it holds characters that cannot be stored",
    },
}

_UNITS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "es_MX": {
        "second": ("segundo", "segundos"),
        "minute": ("minuto", "minutos"),
        "hour": ("hora", "horas"),
    },
    "en": {
        "second": ("second", "seconds"),
        "minute": ("minute", "minutes"),
        "hour": ("hour", "hours"),
    },
}

_AND: Final = {"es_MX": "y", "en": "and"}
_MINUTE: Final = 60
_HOUR: Final = 3600


def _unit(locale: str, unit: str, count: int) -> str:
    singular, plural = _UNITS[locale][unit]
    return f"{count} {singular if count == 1 else plural}"


def format_duration(duration: timedelta, locale: str) -> str:
    """Say how long to wait, rounded up so that waiting that long is enough."""
    seconds = max(1, math.ceil(duration.total_seconds()))
    if seconds < _MINUTE:
        return _unit(locale, "second", seconds)
    minutes = math.ceil(seconds / _MINUTE)
    if minutes < _MINUTE:
        return _unit(locale, "minute", minutes)
    hours, rest = divmod(minutes, _MINUTE)
    if rest == 0:
        return _unit(locale, "hour", hours)
    return f"{_unit(locale, 'hour', hours)} {_AND[locale]} {_unit(locale, 'minute', rest)}"


def format_utc(moment: datetime) -> str:
    """A date and time as mails show it; the same in every locale, always UTC."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# The mails of DESIGN §4. Placeholders: {name}, {login}, {secret}, {expires}, {when}.
# A paragraph that is exactly "{secret}" puts the secret alone on its own line.
MAILS: Final[dict[str, dict[str, dict[str, str | tuple[str, ...]]]]] = {
    "es_MX": {
        "temporary-password": {
            "subject": "Tu clave temporal de acceso",
            "paragraphs": (
                "Hola, {name}:",
                "Solicitaste recuperar la clave del usuario «{login}». Tu clave temporal es:",
                "{secret}",
                "Es válida hasta el {expires}. Al ingresar con ella se te pedirá capturar "
                "una nueva clave y confirmarla.",
                "Si no solicitaste recuperar tu clave, ignora este mensaje: tu clave actual "
                "sigue funcionando. Si recibes estos correos sin pedirlos, avisa al SUPERVISOR.",
            ),
        },
        "email-verification": {
            "subject": "Código para autenticar tu correo de recuperación",
            "paragraphs": (
                "Hola, {name}:",
                "Para autenticar esta dirección como correo de recuperación del usuario "
                "«{login}», captura este código en el catálogo de usuarios:",
                "{secret}",
                "Es válido hasta el {expires} y solo puede usarse una vez.",
                "Si no solicitaste este cambio, ignora este mensaje; esta dirección no se usará.",
            ),
        },
        "password-changed": {
            "subject": "Tu clave de acceso cambió",
            "paragraphs": (
                "Hola, {name}:",
                "La clave de acceso del usuario «{login}» se cambió el {when}.",
                "Si fuiste tú, no necesitas hacer nada. Si no fuiste tú, usa el botón "
                "«Recuperar clave» en la ventana de ingreso y avisa al SUPERVISOR.",
            ),
        },
    },
    "en": {
        "temporary-password": {
            "subject": "Your temporary password",
            "paragraphs": (
                "Hello {name},",
                "You asked to recover the password of the user “{login}”. "
                "Your temporary password is:",
                "{secret}",
                "It is valid until {expires}. When you sign in with it you will be asked "
                "to enter a new password and confirm it.",
                "If you did not ask to recover your password, ignore this message: your "
                "current password still works. If these mails keep coming, tell the SUPERVISOR.",
            ),
        },
        "email-verification": {
            "subject": "Code to verify your recovery e-mail address",
            "paragraphs": (
                "Hello {name},",
                "To verify this address as the recovery e-mail of the user “{login}”, "
                "enter this code in the users catalog:",
                "{secret}",
                "It is valid until {expires} and can be used only once.",
                "If you did not ask for this, ignore this message; this address will not be used.",
            ),
        },
        "password-changed": {
            "subject": "Your password was changed",
            "paragraphs": (
                "Hello {name},",
                "The password of the user “{login}” was changed on {when}.",
                "If it was you, there is nothing to do. If it was not you, use the "
                "“Recover password” button at the sign-in window and tell the SUPERVISOR.",
            ),
        },
    },
}
