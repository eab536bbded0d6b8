"""Every kind of audit event the service records (``AuditEvent.kind``).

Each kind has a sentence ``audit.<kind>`` in every shipped catalog, which the
command line shows in place of the kind itself; ``--json`` keeps the kind.
"""

from __future__ import annotations

from typing import Final

AUDIT_KINDS: Final = (
    # the users catalog
    "user_added",
    "user_imported",
    "recovery_email_vouched",
    "user_disabled",
    "user_enabled",
    "user_removed",
    "supervisor_set",
    "user_unlocked",
    "display_name_set",
    "locale_set",
    # recovery addresses
    "recovery_email_set",
    "recovery_email_confirmed",
    "recovery_email_confirmation_failed",
    # "Recuperar clave" and the mails
    "recovery_refused",
    "mail_sent",
    "mail_queued",
    "delivery_attempt_failed",
    "delivery_failed",
    "notice_failed",
    "temporary_password_issued",
    "temporary_password_withdrawn",
    "temporary_password_revoked",
    # sign-in and passwords
    "signed_in",
    "signed_in_with_temporary",
    "sign_in_failed",
    "sign_in_refused",
    "password_upgraded",
    "password_changed",
    "password_change_failed",
    "password_change_refused",
    # sender accounts
    "sender_configured",
    "sender_refused",
    "sender_removed",
    "sender_tampered",
    "sender_cooling_down",
    "sender_secret_resealed",
    "sender_secret_rotated",
    # the worker
    "queued_mail_sent",
    "queued_mail_retry",
    "queued_mail_abandoned",
    "queued_mail_dropped",
)
