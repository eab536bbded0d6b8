"""Errors of what the installation provides: the key, the store and the settings.

``SecretError``: the encryption key is wrong, missing, or does not open a
stored secret. ``StoreError``: the database cannot be used as it should.
``InvalidConfiguration`` (also a ``ValueError``): a setting out of range.
"""

from __future__ import annotations

from typing import Any

from pwrecovery import _i18n
from pwrecovery._exceptions.base import PwRecoveryError


class SecretError(PwRecoveryError):
    """The encryption key is wrong, missing, or does not open a stored secret."""


class SecretKeyInvalid(SecretError):
    code = "secret_key_invalid"


class SecretKeyMissing(SecretError):
    """This service has no key (``secret_key=None``) and the action needs it."""

    code = "secret_key_missing"


class SecretUndecryptable(SecretError):
    code = "secret_undecryptable"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


# -- store -------------------------------------------------------------------


class StoreError(PwRecoveryError):
    """The store could not be read or written as it should."""


class StoreUnavailable(StoreError):
    """The store could not be read or written (locked too long, disk error, not a database)."""

    code = "store_unavailable"


class StoreSchemaTooNew(StoreError):
    """The store was written by a newer pwrecovery; this one refuses to touch it."""

    code = "store_schema_too_new"

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(found=found, supported=supported)
        self.found = found
        self.supported = supported


class StoreDamaged(StoreError):
    """A stored row cannot be read back (edited by hand, or damaged); ``table`` says where."""

    code = "store_damaged"

    def __init__(self, table: str) -> None:
        super().__init__(table=table)
        self.table = table


class ConcurrentModification(StoreError):
    code = "concurrent_modification"


# -- configuration -----------------------------------------------------------


class InvalidConfiguration(PwRecoveryError, ValueError):
    """A setting given to pwrecovery is out of range.

    ``rule`` is a code (``port_range``, ``positive_duration``, ``one_of``…) whose
    sentence, with ``rule_params``, says what the setting must be.
    """

    code = "invalid_configuration"

    def __init__(self, setting: str, rule: str, **rule_params: object) -> None:
        super().__init__(setting=setting, rule=rule, **rule_params)
        self.setting = setting
        self.rule = rule
        self.rule_params = rule_params

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        rule = texts.text(locale, f"config_rule.{self.rule}", **self.rule_params)
        return {"setting": self.setting, "rule": rule}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_configuration, (self.setting, self.rule, self.rule_params, self.locale))


def _rebuild_configuration(
    setting: str, rule: str, rule_params: dict[str, object], locale: str
) -> InvalidConfiguration:
    error = InvalidConfiguration(setting, rule, **rule_params)
    error.locale = locale
    return error
