"""Every sentence a person reads, by locale and message id.

The one door to the message catalogs: errors, mails, the command line and
readiness all ask ``Texts`` for a message id (``error.unknown_user``,
``mail.temporary-password.subject``…) in a locale.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from pwrecovery import messages

DEFAULT_LOCALE: Final = messages.DEFAULT_LOCALE
SHIPPED_LOCALES: Final = messages.LOCALES
_MINUTE: Final = 60


def _flat(locale: str) -> dict[str, str]:
    catalog: dict[str, str] = {}
    for key, text in messages.ERRORS[locale].items():
        catalog[f"error.{key}"] = text
    for key, text in messages.UNREACHABLE_REASONS[locale].items():
        catalog[f"unreachable.{key}"] = text
    for key, text in messages.PASSWORD_REASONS[locale].items():
        catalog[f"password_rule.{key}"] = text
    for purpose, mail in messages.MAILS[locale].items():
        catalog[f"mail.{purpose}.subject"] = str(mail["subject"])
        catalog[f"mail.{purpose}.body"] = "\n\n".join(mail["paragraphs"])
    for key, text in messages.CLI[locale].items():
        prefix = "" if key.startswith("demo.") else "cli."
        catalog[prefix + key] = text
    catalog.update(messages.EXTRA[locale])
    return catalog


class Texts:
    """The shipped catalogs, with a host's own sentences (``overrides``) taking precedence."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._overrides = {loc: dict(msgs) for loc, msgs in (overrides or {}).items()}
        self._lock = threading.Lock()
        self._catalogs: dict[str, dict[str, str]] = {}

    def locales(self) -> tuple[str, ...]:
        extra = tuple(loc for loc in self._overrides if loc not in SHIPPED_LOCALES)
        return (*SHIPPED_LOCALES, *extra)

    def resolve(self, locale: object) -> str:
        """The locale to speak for ``locale``: itself, its language's, or the default."""
        if isinstance(locale, str):
            if locale in self.locales():
                return locale
            language = locale.split("_", 1)[0]
            for known in self.locales():
                if known.split("_", 1)[0] == language:
                    return known
        return DEFAULT_LOCALE

    def _catalog(self, locale: str) -> dict[str, str]:
        with self._lock:
            found = self._catalogs.get(locale)
            if found is None:
                base = locale if locale in SHIPPED_LOCALES else self.resolve_shipped(locale)
                found = {**_flat(base), **self._overrides.get(locale, {})}
                self._catalogs[locale] = found
            return found

    @staticmethod
    def resolve_shipped(locale: str) -> str:
        language = locale.split("_", 1)[0]
        for known in SHIPPED_LOCALES:
            if known.split("_", 1)[0] == language:
                return known
        return DEFAULT_LOCALE

    def has(self, locale: str, msgid: str) -> bool:
        return msgid in self._catalog(self.resolve(locale))

    def text(self, locale: str, msgid: str, **params: object) -> str:
        template = self._catalog(self.resolve(locale))[msgid]
        return template.format_map(_Params(params))

    def plural(self, locale: str, msgid: str, count: int, **params: object) -> str:
        catalog = self._catalog(self.resolve(locale))
        form = f"{msgid}#one" if count == 1 else f"{msgid}#other"
        return catalog[form].format_map(_Params({**params, "count": count}))

    def duration(self, locale: str, duration: timedelta) -> str:
        """How long to wait, rounded up so that waiting that long is enough."""
        seconds = max(1, math.ceil(duration.total_seconds()))
        if seconds < _MINUTE:
            return self.plural(locale, "duration.second", seconds)
        minutes = math.ceil(seconds / _MINUTE)
        if minutes < _MINUTE:
            return self.plural(locale, "duration.minute", minutes)
        hours, rest = divmod(minutes, _MINUTE)
        if rest == 0:
            return self.plural(locale, "duration.hour", hours)
        return self.text(
            locale,
            "duration.hours_and_minutes",
            hours=self.plural(locale, "duration.hour", hours),
            minutes=self.plural(locale, "duration.minute", rest),
        )

    def moment(self, locale: str, moment: datetime, zone: object = None) -> str:
        """A date and time as a person reads it."""
        del locale, zone
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


class _Params(dict[str, object]):
    """Format parameters where a missing name renders empty instead of raising."""

    def __missing__(self, key: str) -> str:
        return ""


@functools.cache
def default() -> Texts:
    """The shipped catalogs with no host overrides."""
    return Texts()
