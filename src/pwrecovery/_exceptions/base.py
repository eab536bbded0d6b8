"""The root of the error tree and how an error becomes a sentence.

``PwRecoveryError`` keeps the parameters it was raised with, renders
``error.message(locale)`` through the gettext catalogs (``str(error)`` in
``.locale``) and pickles as its class and parameters. ``_Waiting`` is the part
every "wait ``retry_after``" error shares: the wait written in words.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from pwrecovery import _i18n


def _rebuild(cls: type[PwRecoveryError], params: dict[str, object], locale: str) -> PwRecoveryError:
    error = cls(**params)
    error.locale = locale
    return error


class PwRecoveryError(Exception):
    """Base of every pwrecovery error; never raised directly.

    ``locale`` picks the language of ``str(error)``; the service sets it to the
    locale of the person it answers before the error reaches the host.
    """

    code: ClassVar[str] = "error"

    def __init__(self, **params: object) -> None:
        super().__init__()
        self._params = params
        self.locale: str = _i18n.DEFAULT_LOCALE
        self._texts: _i18n.Texts | None = None

    def _message_id(self) -> str:
        return f"error.{self.code}"

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        del texts, locale
        return dict(self._params)

    def message(self, locale: str | None = None) -> str:
        """The sentence in ``locale`` (any shipped or host-added locale), else in ``.locale``."""
        texts = self._texts if self._texts is not None else _i18n.DEFAULT_TEXTS
        chosen = locale if locale is not None else self.locale
        return texts.text(chosen, self._message_id(), **self._message_params(texts, chosen))

    def __str__(self) -> str:
        return self.message()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._params, self.locale))


class _Waiting(PwRecoveryError):
    """An error that says how long to wait (``retry_after``)."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(retry_after=retry_after)
        self.retry_after = retry_after

    def _message_params(self, texts: _i18n.Texts, locale: str) -> dict[str, object]:
        return {"retry_after": texts.duration(locale, self.retry_after)}
