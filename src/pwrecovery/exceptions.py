"""The errors pwrecovery raises.

Every error has a stable ``.code`` for programs and structured attributes;
``str(error)`` is a complete sentence in the locale the service set, and
``error.message(locale)`` renders it in any other. No message ever holds a
secret. Hosts may catch a whole group (``CredentialError``, ``SenderError``…)
or one error.

::

    PwRecoveryError                    error (never raised directly)
    ├── InputError                     a person typed something that cannot be used
    │   ├── InvalidLogin               invalid_login
    │   ├── InvalidEmailAddress        invalid_email
    │   ├── InvalidHeaderValue         invalid_header_value       .field
    │   ├── PasswordConfirmationMismatch password_mismatch
    │   ├── PasswordPolicyViolation    password_policy            .reasons
    │   └── ImportRejected             import_rejected            .rows
    ├── CatalogError                   the users catalog or the senders list refused
    │   ├── UnknownUser                unknown_user               .login
    │   ├── UserExists                 user_exists                .login
    │   ├── UnknownSender              unknown_sender             .sender_id
    │   └── SenderInUse                sender_in_use              .login .sender_ids
    ├── CredentialError                a sign-in or a code was refused
    │   ├── InvalidCredentials         invalid_credentials
    │   ├── TemporaryPasswordExpired   temporary_password_expired
    │   ├── TooManyAttempts            too_many_attempts          .retry_after
    │   ├── AccountDisabled            account_disabled
    │   └── VerificationFailed         verification_failed
    ├── RecoveryRefused                "Recuperar clave" cannot go ahead
    │   ├── RecoveryEmailMissing       recovery_email_missing     .missing
    │   └── RateLimited                rate_limited               .retry_after
    ├── SenderError                    the mail configuration or a delivery failed
    │   ├── NoSenderConfigured         no_sender_configured
    │   ├── SenderCredentialsEmpty     sender_credentials_empty
    │   ├── SenderAuthenticationFailed sender_auth_failed         .host
    │   │   └── BasicAuthDisabled      basic_auth_disabled        .host
    │   ├── SenderUnreachable          sender_unreachable         .host .port .reason
    │   ├── SenderAddressRefused       sender_address_refused     .host .address .reply_code
    │   ├── TokenUnavailable           token_unavailable          .sender_id
    │   └── DeliveryFailed             delivery_failed            .attempts .reply_code .reason
    │       └── DeliveryRejected       delivery_rejected          (permanent)
    ├── SecretError                    the encryption key
    │   ├── SecretKeyInvalid           secret_key_invalid
    │   ├── SecretKeyMissing           secret_key_missing
    │   └── SecretUndecryptable        secret_undecryptable       .sender_id
    ├── StoreError                     the database
    │   ├── StoreUnavailable           store_unavailable
    │   ├── StoreSchemaTooNew          store_schema_too_new       .found .supported
    │   ├── StoreDamaged               store_damaged              .table
    │   └── ConcurrentModification     concurrent_modification
    └── InvalidConfiguration           invalid_configuration      .setting .rule (also a ValueError)
"""

from __future__ import annotations

# The classes are written in pwrecovery._exceptions, one module per family (base:
# the root and its rendering; input, access, mail, environment: the groups and their
# errors); this module is their public home.
from pwrecovery._exceptions.access import (
    MISSING_SUPERVISOR,
    MISSING_USER,
    AccountDisabled,
    CredentialError,
    InvalidCredentials,
    RateLimited,
    RecoveryEmailMissing,
    RecoveryRefused,
    TemporaryPasswordExpired,
    TooManyAttempts,
    VerificationFailed,
)
from pwrecovery._exceptions.base import PwRecoveryError, _rebuild, _Waiting
from pwrecovery._exceptions.environment import (
    ConcurrentModification,
    InvalidConfiguration,
    SecretError,
    SecretKeyInvalid,
    SecretKeyMissing,
    SecretUndecryptable,
    StoreDamaged,
    StoreError,
    StoreSchemaTooNew,
    StoreUnavailable,
    _rebuild_configuration,
)
from pwrecovery._exceptions.input import (
    CatalogError,
    ImportRejected,
    InputError,
    InvalidEmailAddress,
    InvalidHeaderValue,
    InvalidLogin,
    PasswordConfirmationMismatch,
    PasswordPolicyViolation,
    SenderInUse,
    UnknownSender,
    UnknownUser,
    UserExists,
)
from pwrecovery._exceptions.mail import (
    BasicAuthDisabled,
    DeliveryFailed,
    DeliveryRejected,
    NoSenderConfigured,
    SenderAddressRefused,
    SenderAuthenticationFailed,
    SenderCredentialsEmpty,
    SenderError,
    SenderUnreachable,
    TokenUnavailable,
)

__all__ = [
    "MISSING_SUPERVISOR",
    "MISSING_USER",
    "AccountDisabled",
    "BasicAuthDisabled",
    "CatalogError",
    "ConcurrentModification",
    "CredentialError",
    "DeliveryFailed",
    "DeliveryRejected",
    "ImportRejected",
    "InputError",
    "InvalidConfiguration",
    "InvalidCredentials",
    "InvalidEmailAddress",
    "InvalidHeaderValue",
    "InvalidLogin",
    "NoSenderConfigured",
    "PasswordConfirmationMismatch",
    "PasswordPolicyViolation",
    "PwRecoveryError",
    "RateLimited",
    "RecoveryEmailMissing",
    "RecoveryRefused",
    "SecretError",
    "SecretKeyInvalid",
    "SecretKeyMissing",
    "SecretUndecryptable",
    "SenderAddressRefused",
    "SenderAuthenticationFailed",
    "SenderCredentialsEmpty",
    "SenderError",
    "SenderInUse",
    "SenderUnreachable",
    "StoreDamaged",
    "StoreError",
    "StoreSchemaTooNew",
    "StoreUnavailable",
    "TemporaryPasswordExpired",
    "TokenUnavailable",
    "TooManyAttempts",
    "UnknownSender",
    "UnknownUser",
    "UserExists",
    "VerificationFailed",
]

# Every class (and the functions a pickle calls to rebuild an error) keeps this module
# as its own: tracebacks and error trackers name pwrecovery.exceptions.<Name>, and a
# pickle refers to the same names whether it was made before or after the classes moved.
# The price: inspect.getsource() on a class looks in this file and does not find it; the
# code is in pwrecovery/_exceptions/.
for _defined in (
    _rebuild,
    _rebuild_configuration,
    _Waiting,
    *(globals()[_name] for _name in __all__ if not _name.startswith("MISSING_")),
):
    _defined.__module__ = __name__
del _defined
