"""Errors for what a person typed and for what the catalogs refused.

``InputError``: a login, an address, a header value, a password or an import
that cannot be used, each saying what to fix. ``CatalogError``: the users
catalog or the list of sender accounts refused a change (unknown, already
there, still in use).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pwrecovery import _i18n
from pwrecovery._exceptions.base import PwRecoveryError

_ROWS_IN_MESSAGE: Final = 5


class InputError(PwRecoveryError):
    """A person typed something that cannot be used; the sentence says what to fix."""


class InvalidLogin(InputError):
    """A login that is empty, too long, or holds control characters."""

    code = "invalid_login"

    def __init__(self, max_length: int, *, empty: bool = False) -> None:
        super().__init__(max_length=max_length, empty=empty)
        self.empty = empty

    def _message_id(self) -> str:
        return "error.invalid_login.empty" if self.empty else "error.invalid_login"


class InvalidEmailAddress(InputError):
    code = "invalid_email"


class InvalidHeaderValue(InputError):
    code = "invalid_header_value"

    def __init__(self, field: str) -> None:
        super().__init__(field=field)
        self.field = field


class PasswordConfirmationMismatch(InputError):
    code = "password_mismatch"


class PasswordPolicyViolation(InputError):
    """``reasons`` holds the codes of the rules the password broke."""

    code = "password_policy"

    def __init__(self, reasons: Iterable[str], *, min_length: int, max_length: int) -> None:
        super().__init__(reasons=tuple(reasons), min_length=min_length, max_length=max_length)
        self.reasons: tuple[str, ...] = tuple(reasons)

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        limits = {
            "min_length": self._params["min_length"],
            "max_length": self._params["max_length"],
        }
        rules = [texts.text(locale, f"password_rule.{reason}", **limits) for reason in self.reasons]
        return {"reasons": "; ".join(rules)}


class ImportRejected(InputError):
    """Nothing was imported; ``rows`` holds ``(row number, login, reason code)`` for each bad row.

    Row numbers count from 1, in the order the rows were given.
    """

    code = "import_rejected"

    def __init__(self, rows: Iterable[tuple[int, str, str]]) -> None:
        bad = tuple((int(number), str(login), str(reason)) for number, login, reason in rows)
        super().__init__(rows=bad)
        self.rows = bad

    def message(self, locale: str | None = None) -> str:
        """The sentence, naming the first few bad rows (``row_messages`` gives them all)."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        shown = self.row_messages(chosen)[:_ROWS_IN_MESSAGE]
        details = "; ".join(shown) + ("; …" if len(self.rows) > _ROWS_IN_MESSAGE else "")
        return texts.plural(chosen, self._message_id(), len(self.rows), details=details)

    def row_messages(self, locale: str | None = None) -> list[str]:
        """One line per bad row: its number, its login and why it was refused."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        return [
            texts.text(
                chosen,
                "import_row",
                row=number,
                login=login,
                reason=texts.text(chosen, f"import_reason.{reason}"),
            )
            for number, login, reason in self.rows
        ]


# -- catalog -----------------------------------------------------------------


class CatalogError(PwRecoveryError):
    """The users catalog or the list of sender accounts refused a change."""


class UnknownUser(CatalogError):
    code = "unknown_user"

    def __init__(self, login: str) -> None:
        super().__init__(login=login)
        self.login = login


class UserExists(CatalogError):
    code = "user_exists"

    def __init__(self, login: str) -> None:
        super().__init__(login=login)
        self.login = login


class UnknownSender(CatalogError):
    code = "unknown_sender"

    def __init__(self, sender_id: str) -> None:
        super().__init__(sender_id=sender_id)
        self.sender_id = sender_id


class SenderInUse(CatalogError):
    """The user owns sender accounts (``sender_ids``); remove them first."""

    code = "sender_in_use"

    def __init__(self, login: str, sender_ids: Iterable[str]) -> None:
        ids = tuple(sender_ids)
        super().__init__(login=login, sender_ids=ids)
        self.login = login
        self.sender_ids = ids

    def message(self, locale: str | None = None) -> str:
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        return texts.plural(chosen, self._message_id(), len(self.sender_ids), login=self.login)
