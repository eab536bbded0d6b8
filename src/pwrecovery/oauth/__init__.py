"""Ready-made OAuth 2.0 token providers for XOAUTH2 senders: Microsoft 365 and Google.

The stored secret of a built-in OAuth sender is a *credential bundle*: a JSON text
made by one of the functions below, which the host passes to ``configure_sender``
as the "password" (the service encrypts it like an SMTP password):

- ``microsoft365_credentials(...)``: an Entra ID application with the
  ``SMTP.SendAsApp`` permission, app-only (client credentials grant, through
  ``msal``; ``pip install 'pwrecovery[m365]'``). The sender's username is the
  mailbox it sends as;
- ``google_refresh_token_credentials(...)``: an OAuth client and a user's refresh
  token with the ``https://mail.google.com/`` scope (through ``google-auth``;
  ``pip install 'pwrecovery[google]'``);
- ``google_service_account_credentials(key)``: a service account with
  domain-wide delegation; the sender's username is the user it acts as.

``BuiltinTokenProvider().access_token(account, secret)`` turns a bundle into an
``AccessToken``. Everything that goes wrong leaves as an ``OAuthError`` with a
stable ``.code``; no message, repr or attribute holds a secret.

>>> bundle = microsoft365_credentials(
...     tenant_id="contoso.onmicrosoft.com", client_id="app-id", client_secret="s3cr3t-value"
... )
>>> bundle_kind(bundle)
'microsoft365-client-credentials'
>>> bundle_kind("1//a-refresh-token-the-host-keeps") is None
True
"""

from __future__ import annotations

from pwrecovery.oauth._bundles import (
    bundle_kind,
    google_refresh_token_credentials,
    google_service_account_credentials,
    microsoft365_credentials,
    with_refresh_token,
)
from pwrecovery.oauth._common import (
    GOOGLE_REFRESH_TOKEN,
    GOOGLE_SCOPE,
    GOOGLE_SERVICE_ACCOUNT,
    GOOGLE_TOKEN_URI,
    MICROSOFT365,
    MICROSOFT365_SCOPE,
    MICROSOFT_AUTHORITY_HOST,
    AccessToken,
    OAuthError,
    OAuthErrorCode,
)
from pwrecovery.oauth._provider import (
    BuiltinTokenProvider,
)

__all__ = [
    "GOOGLE_REFRESH_TOKEN",
    "GOOGLE_SCOPE",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_TOKEN_URI",
    "MICROSOFT365",
    "MICROSOFT365_SCOPE",
    "MICROSOFT_AUTHORITY_HOST",
    "AccessToken",
    "BuiltinTokenProvider",
    "OAuthError",
    "OAuthErrorCode",
    "bundle_kind",
    "google_refresh_token_credentials",
    "google_service_account_credentials",
    "microsoft365_credentials",
    "with_refresh_token",
]
