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
        "token_unavailable": (
            "No se pudo obtener el token de acceso OAuth 2.0 de la cuenta remitente "
            "«{sender_id}»; revisa la autorización de la cuenta con el proveedor de correo."
        ),
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
        "store_damaged": (
            "Un registro de la base de datos de claves está dañado (tabla «{table}»); "
            "restáurala desde un respaldo y avisa al SUPERVISOR."
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
        "token_unavailable": (
            "No OAuth 2.0 access token could be obtained for the sender account "
            "“{sender_id}”; check the account's authorisation with the mail provider."
        ),
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
        "store_damaged": (
            "A record of the password database is damaged (table “{table}”); restore it "
            "from a backup and tell the SUPERVISOR."
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
        "recovery-address-changed": {
            "subject": "Cambio de tu correo de recuperación",
            "paragraphs": (
                "Hola, {name}:",
                "El {when} se pidió cambiar el correo de recuperación del usuario «{login}» "
                "a {address}. Desde que se autentique, las claves temporales ya no llegarán "
                "a esta dirección.",
                "Si fuiste tú, no necesitas hacer nada. Si no fuiste tú, avisa al SUPERVISOR "
                "de inmediato.",
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
        "recovery-address-changed": {
            "subject": "Your recovery e-mail address is being changed",
            "paragraphs": (
                "Hello {name},",
                "On {when} someone asked to change the recovery e-mail address of the user "
                "“{login}” to {address}. Once it is verified, temporary passwords will no "
                "longer come to this address.",
                "If it was you, there is nothing to do. If it was not you, tell the "
                "SUPERVISOR at once.",
            ),
        },
    },
}


# The command line (pwrecovery.cli) and the demo (pwrecovery.demo).
CLI: Final[dict[str, dict[str, str]]] = {
    "es_MX": {
        "prompt.password": "Clave de acceso: ",
        "prompt.new_password": "Nueva clave de acceso: ",
        "prompt.confirm_password": "Confirmar clave de acceso: ",
        "prompt.current_password": "Clave actual: ",
        "prompt.code": "Código de verificación: ",
        "prompt.sender_password": "Clave de la cuenta remitente: ",
        "input.missing": "Se esperaba una respuesta y la entrada terminó.",
        "key.missing": (
            "Falta la llave de cifrado: define PWRECOVERY_KEY o usa --key-file "
            "(crea una con «pwrecovery key new»)."
        ),
        "key.unreadable": "No se pudo leer el archivo de llave {path}.",
        "key.exists": "El archivo {path} ya existe; no se sobrescribe.",
        "key.written": "Llave nueva guardada en {path}; guarda una copia fuera de este equipo.",
        "ca.unreadable": "No se pudo leer el certificado de la autoridad {path}.",
        "user.added": "Usuario «{login}» agregado.",
        "user.line": "{login}\t{role}\t{address}",
        "user.role.supervisor": "SUPERVISOR",
        "user.role.user": "usuario",
        "user.address.none": "sin correo de recuperación",
        "user.address.pending": "{address} (sin autenticar)",
        "user.address.verified": "{address}",
        "address.sent": "Se envió un código de verificación a {address}.",
        "address.confirmed": "Correo de recuperación autenticado para «{login}».",
        "sender.saved": "Cuenta remitente {id} guardada: {username} en {host}:{port}.",
        "sender.line": "{id}\t{owner}\t{username}\t{host}:{port} ({security})\t{verified_at}",
        "sender.removed": "Cuenta remitente {id} eliminada.",
        "recover.sent": "Se envió una clave temporal a {address}; es válida hasta el {expires}.",
        "deliver.report": (
            "Correos enviados: {sent}; por reintentar: {retried}; abandonados: {abandoned}; "
            "descartados: {dropped}."
        ),
        "login.ok": "Acceso correcto.",
        "login.must_change": (
            "Ingresaste con una clave temporal (válida hasta el {expires}); "
            "captura tu nueva clave y confírmala."
        ),
        "password.recovered": "Clave recuperada con éxito.",
        "password.changed": "Clave cambiada.",
        "check.ready": (
            "Todo listo: cualquier usuario con correo autenticado puede recuperar su clave."
        ),
        "check.no_sender": "No hay ninguna cuenta remitente configurada.",
        "check.undecryptable": (
            "La clave de la cuenta remitente {id} no se puede descifrar con esta llave."
        ),
        "check.failing": "La cuenta remitente {id} no pudo iniciar sesión: {message}",
        "check.no_supervisor": "Ningún SUPERVISOR tiene un correo de recuperación autenticado.",
        "check.user_without_address": (
            "El usuario «{login}» no tiene un correo de recuperación autenticado."
        ),
        "demo.title": (
            "Demostración de pwrecovery: recuperación de clave por correo, de principio a fin."
        ),
        "demo.server": (
            "Servidor SMTP de prueba en {host}:{port} (STARTTLS, AUTH, certificado propio)."
        ),
        "demo.store": "Base de datos temporal: {path}",
        "demo.users": "Usuarios creados: SUPERVISOR y juan.",
        "demo.sender_refused": (
            "Cuenta remitente rechazada al guardarla con una clave incorrecta: {message}"
        ),
        "demo.sender_saved": (
            "Cuenta remitente guardada tras iniciar sesión en el servidor: {username}."
        ),
        "demo.address": "Correo de recuperación de {login} autenticado con el código {code}.",
        "demo.recover": "«Recuperar clave» para juan: correo enviado a {address}.",
        "demo.mail": (
            "Correo recibido por el servidor; la clave temporal va sola en su línea: {secret}"
        ),
        "demo.temporary": (
            "Ingreso con la clave temporal: se pide cambiarla (válida hasta el {expires})."
        ),
        "demo.changed": "Nueva clave capturada y confirmada: «clave recuperada con éxito».",
        "demo.old_refused": "La clave temporal ya no sirve: {message}",
        "demo.signed_in": "Ingreso con la nueva clave: correcto.",
        "demo.notice": "Aviso de cambio de clave enviado a {address}.",
        "demo.audit": "Bitácora de juan:",
        "demo.ok": "Todos los pasos se comportaron como debían.",
        "demo.failed": "Un paso no se comportó como debía: {step}",
        "demo.missing_aiosmtpd": (
            "La demostración necesita aiosmtpd: pip install 'pwrecovery[testing]'."
        ),
    },
    "en": {
        "prompt.password": "Password: ",
        "prompt.new_password": "New password: ",
        "prompt.confirm_password": "Confirm password: ",
        "prompt.current_password": "Current password: ",
        "prompt.code": "Verification code: ",
        "prompt.sender_password": "Sender account password: ",
        "input.missing": "An answer was expected and the input ended.",
        "key.missing": (
            "The encryption key is missing: set PWRECOVERY_KEY or use --key-file "
            "(make one with “pwrecovery key new”)."
        ),
        "key.unreadable": "The key file {path} could not be read.",
        "key.exists": "The file {path} already exists; it is not overwritten.",
        "key.written": "New key saved in {path}; keep a copy off this machine.",
        "ca.unreadable": "The certificate authority file {path} could not be read.",
        "user.added": "User “{login}” added.",
        "user.line": "{login}\t{role}\t{address}",
        "user.role.supervisor": "SUPERVISOR",
        "user.role.user": "user",
        "user.address.none": "no recovery address",
        "user.address.pending": "{address} (not verified)",
        "user.address.verified": "{address}",
        "address.sent": "A verification code was sent to {address}.",
        "address.confirmed": "Recovery address verified for “{login}”.",
        "sender.saved": "Sender account {id} saved: {username} at {host}:{port}.",
        "sender.line": "{id}\t{owner}\t{username}\t{host}:{port} ({security})\t{verified_at}",
        "sender.removed": "Sender account {id} removed.",
        "recover.sent": "A temporary password was sent to {address}; it is valid until {expires}.",
        "deliver.report": (
            "Mails sent: {sent}; to retry: {retried}; abandoned: {abandoned}; dropped: {dropped}."
        ),
        "login.ok": "Signed in.",
        "login.must_change": (
            "You signed in with a temporary password (valid until {expires}); "
            "enter your new password and confirm it."
        ),
        "password.recovered": "Password recovered successfully.",
        "password.changed": "Password changed.",
        "check.ready": "All set: any user with a verified address can recover their password.",
        "check.no_sender": "No sender account is configured.",
        "check.undecryptable": (
            "The password of sender account {id} cannot be decrypted with this key."
        ),
        "check.failing": "Sender account {id} could not sign in: {message}",
        "check.no_supervisor": "No SUPERVISOR has a verified recovery address.",
        "check.user_without_address": "The user “{login}” has no verified recovery address.",
        "demo.title": "pwrecovery demo: password recovery by e-mail, end to end.",
        "demo.server": "Test SMTP server at {host}:{port} (STARTTLS, AUTH, its own certificate).",
        "demo.store": "Temporary database: {path}",
        "demo.users": "Users created: SUPERVISOR and juan.",
        "demo.sender_refused": "Sender account refused on save with a wrong password: {message}",
        "demo.sender_saved": "Sender account saved after signing in to the server: {username}.",
        "demo.address": "Recovery address of {login} verified with the code {code}.",
        "demo.recover": "“Recover password” for juan: mail sent to {address}.",
        "demo.mail": "Mail received by the server; the temporary password stands alone: {secret}",
        "demo.temporary": "Signed in with the temporary password: a change is required "
        "(valid until {expires}).",
        "demo.changed": "New password entered and confirmed: “password recovered successfully”.",
        "demo.old_refused": "The temporary password no longer works: {message}",
        "demo.signed_in": "Signed in with the new password.",
        "demo.notice": "Password-changed notice sent to {address}.",
        "demo.audit": "Audit trail of juan:",
        "demo.ok": "Every step behaved as it should.",
        "demo.failed": "A step did not behave as it should: {step}",
        "demo.missing_aiosmtpd": "The demo needs aiosmtpd: pip install 'pwrecovery[testing]'.",
    },
}


# Texts added in the second release; the interim catalog until the gettext catalogs land.
# A key ending in "#one" / "#other" is a plural form.
EXTRA: Final[dict[str, dict[str, str]]] = {
    "es_MX": {
        "duration.second#one": "{count} segundo",
        "duration.second#other": "{count} segundos",
        "duration.minute#one": "{count} minuto",
        "duration.minute#other": "{count} minutos",
        "duration.hour#one": "{count} hora",
        "duration.hour#other": "{count} horas",
        "duration.hours_and_minutes": "{hours} y {minutes}",
        "error.invalid_login.empty": "Escribe tu nombre de usuario.",
        "error.account_disabled": (
            "Este usuario está desactivado; pide a quien administra el sistema que lo active."
        ),
        "error.import_rejected#one": "No se importó ningún usuario: {count} fila tiene problemas.",
        "error.import_rejected#other": (
            "No se importó ningún usuario: {count} filas tienen problemas."
        ),
        "import.row": "Fila {number} («{login}»): {reason}.",
        "import_reason.duplicate_in_batch": "el usuario aparece más de una vez",
        "import_reason.duplicate_in_store": "el usuario ya existe",
        "import_reason.unknown_hash": "ningún método configurado reconoce la clave cifrada",
        "import_reason.invalid_login": "el nombre de usuario no es válido",
        "import_reason.invalid_email": "el correo de recuperación no es válido",
        "import_reason.invalid_locale": "el idioma no está disponible",
        "import_reason.invalid_display_name": "el nombre no es válido",
        "import_reason.invalid_password_hash": "la clave cifrada no es válida",
        "error.sender_in_use#one": (
            "El usuario «{login}» es dueño de {count} cuenta remitente; "
            "elimínala antes de eliminar al usuario."
        ),
        "error.sender_in_use#other": (
            "El usuario «{login}» es dueño de {count} cuentas remitentes; "
            "elimínalas antes de eliminar al usuario."
        ),
        "error.secret_key_missing": (
            "Esta acción necesita la llave de cifrado y este equipo no la tiene; "
            "hazla desde el equipo que envía los correos."
        ),
        "error.basic_auth_disabled": (
            "El servidor de correo {host} ya no acepta usuario y clave (autenticación básica "
            "desactivada); cambia la cuenta remitente a OAuth 2.0."
        ),
        "error.sender_address_refused": (
            "El servidor de correo {host} no permite enviar como {address} ({reply}); "
            "usa la dirección de la propia cuenta remitente."
        ),
        "error.delivery_rejected": (
            "El servidor de correo rechazó el mensaje de forma definitiva ({reply}); "
            "volver a intentarlo no servirá: revisa la cuenta remitente y la dirección."
        ),
        "unreachable.expects_ssl": (
            "el puerto {port} espera una conexión SSL (TLS implícito) desde el inicio"
        ),
        "unreachable.expects_starttls": (
            "el puerto {port} espera STARTTLS, no una conexión SSL desde el inicio"
        ),
        "unreachable.smtputf8_unsupported": (
            "el servidor no acepta direcciones con caracteres internacionales (SMTPUTF8)"
        ),
        "config_rule.range": "debe ser un número entero de {min} a {max}",
        "config_rule.positive_duration": "debe ser un timedelta positivo",
        "config_rule.non_negative_duration": "debe ser un timedelta de cero o más",
        "config_rule.positive_count": "debe ser un número entero positivo",
        "config_rule.min_bits": "debe dar al menos {bits} bits",
        "config_rule.one_of": "debe ser uno de: {choices}",
        "config_rule.aware_datetime": "debe dar una fecha y hora con zona horaria",
        "config_rule.hostname": "debe ser un nombre de servidor o una dirección IP",
        "config_rule.not_below": "no puede ser menor que {other}",
        "config_rule.locale": "debe ser uno de los idiomas disponibles: {locales}",
        "config_rule.timezone": "debe ser una zona horaria de la base IANA, como America/Mexico_City",
        "config_rule.sender_settings": "debe ser un SenderSettings",
        "config_rule.positive_seconds": "debe ser un número positivo de segundos",
        "config_rule.text": "debe ser un texto",
        "config_rule.type": "debe ser un {kind}",
    },
    "en": {
        "duration.second#one": "{count} second",
        "duration.second#other": "{count} seconds",
        "duration.minute#one": "{count} minute",
        "duration.minute#other": "{count} minutes",
        "duration.hour#one": "{count} hour",
        "duration.hour#other": "{count} hours",
        "duration.hours_and_minutes": "{hours} and {minutes}",
        "error.invalid_login.empty": "Type your user name.",
        "error.account_disabled": "This user is disabled; ask your administrator to enable it.",
        "error.import_rejected#one": "No user was imported: {count} row has problems.",
        "error.import_rejected#other": "No user was imported: {count} rows have problems.",
        "import.row": "Row {number} (“{login}”): {reason}.",
        "import_reason.duplicate_in_batch": "the user appears more than once",
        "import_reason.duplicate_in_store": "the user already exists",
        "import_reason.unknown_hash": "no configured hasher recognises the password hash",
        "import_reason.invalid_login": "the user name is not valid",
        "import_reason.invalid_email": "the recovery address is not valid",
        "import_reason.invalid_locale": "the language is not available",
        "import_reason.invalid_display_name": "the name is not valid",
        "import_reason.invalid_password_hash": "the password hash is not valid",
        "error.sender_in_use#one": (
            "The user “{login}” owns {count} sender account; remove it before removing the user."
        ),
        "error.sender_in_use#other": (
            "The user “{login}” owns {count} sender accounts; remove them before removing the user."
        ),
        "error.secret_key_missing": (
            "This action needs the encryption key and this workstation does not have it; "
            "do it on the machine that sends the mail."
        ),
        "error.basic_auth_disabled": (
            "The mail server {host} no longer accepts a username and password (basic "
            "authentication is disabled); switch the sender account to OAuth 2.0."
        ),
        "error.sender_address_refused": (
            "The mail server {host} does not allow sending as {address} ({reply}); "
            "use the sender account's own address."
        ),
        "error.delivery_rejected": (
            "The mail server refused the message for good ({reply}); trying again will "
            "not help: check the sender account and the address."
        ),
        "unreachable.expects_ssl": "port {port} expects an SSL (implicit TLS) connection from the start",
        "unreachable.expects_starttls": "port {port} expects STARTTLS, not SSL from the start",
        "unreachable.smtputf8_unsupported": (
            "the server does not accept addresses with international characters (SMTPUTF8)"
        ),
        "config_rule.range": "it must be a whole number from {min} to {max}",
        "config_rule.positive_duration": "it must be a positive timedelta",
        "config_rule.non_negative_duration": "it must be a timedelta of zero or more",
        "config_rule.positive_count": "it must be a positive whole number",
        "config_rule.min_bits": "it must give at least {bits} bits",
        "config_rule.one_of": "it must be one of: {choices}",
        "config_rule.aware_datetime": "it must give an aware date and time",
        "config_rule.hostname": "it must be a host name or an IP address",
        "config_rule.not_below": "it must not be below {other}",
        "config_rule.locale": "it must be one of the available languages: {locales}",
        "config_rule.timezone": "it must be an IANA time zone such as America/Mexico_City",
        "config_rule.sender_settings": "it must be a SenderSettings",
        "config_rule.positive_seconds": "it must be a positive number of seconds",
        "config_rule.text": "it must be a text",
        "config_rule.type": "it must be a {kind}",
    },
}
EXTRA["es_MX"]["password_rule.temporary_form"] = (
    "no puede tener la forma de una clave temporal (grupos de cuatro separados por guiones)"
)
EXTRA["en"]["password_rule.temporary_form"] = (
    "it cannot look like a temporary password (groups of four joined by hyphens)"
)
EXTRA["es_MX"]["config_rule.extra"] = "instala el complemento con pip install 'pwrecovery[{extra}]'"
EXTRA["en"]["config_rule.extra"] = "install the extra with pip install 'pwrecovery[{extra}]'"
