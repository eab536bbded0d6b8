"""Every text pwrecovery shows, from gettext catalogs, with the host's overrides.

Message ids are symbolic keys (``error.unknown_user``, ``mail.temporary-password.body``),
never sentences; the texts live in ``locale/<locale>/LC_MESSAGES/pwrecovery.po``, compiled
to ``.mo`` beside them by ``scripts/compile_catalogs.py``. At run time only the standard
library's ``gettext`` reads them.

How a message is found: the locale asked for is resolved among the available ones
(exact, then the same language, then ``es_MX``); the message is then looked for along
that locale's chain (the locale itself, the shipped locale of the same language, then
``es_MX``), and at each step in the host's ``Translations`` before pwrecovery's own.

Parameters are ``str.format`` braces with plain names. Rendering never raises:

- a name the call does not give renders as the empty string, and a name given but
  not used is ignored (the tests prove that no shipped message uses a name its call
  sites do not give);
- a template that cannot be rendered (a host's stray brace) is skipped for the next
  one along the chain; ``Translations`` refuses such templates up front anyway;
- an id no catalog knows renders as itself, as gettext does.

This module holds ``Texts`` (the lookup along a chain) and durations and moments in
words (``format_duration``, ``format_moment``); beside it, ``_locales`` spells and
resolves locale names, ``_templates`` parses and renders one template, and
``_catalogs`` is the loader: the shipped ``.mo`` files, the host's ``Translations``
and each locale's chain.

>>> texts = Texts()
>>> texts.text("es-MX", "error.unknown_user", login="juan")
'No existe el usuario «juan».'
>>> texts.plural("en_US.UTF-8", "duration.minute", 1)
'1 minute'
>>> format_duration(timedelta(minutes=65), "es_MX")
'1 hora y 5 minutos'
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

# The loader and the templates live beside this module (see its docstring); _MoCatalog
# and _compile stay importable from here ("as" re-exports) for the catalog tests.
from pwrecovery._i18n._catalogs import Translations, _shipped, _State
from pwrecovery._i18n._catalogs import _MoCatalog as _MoCatalog
from pwrecovery._i18n._locales import (
    DEFAULT_LOCALE,
    DOMAIN,
    SHIPPED_LOCALES,
    normalize_locale,
    resolve,
)
from pwrecovery._i18n._templates import _compile as _compile
from pwrecovery._i18n._templates import _pick, _render, placeholders

__all__ = [
    "DEFAULT_LOCALE",
    "DEFAULT_TEXTS",
    "DOMAIN",
    "SHIPPED_LOCALES",
    "Texts",
    "Translations",
    "format_duration",
    "format_moment",
    "normalize_locale",
    "placeholders",
    "resolve",
]

_MINUTE: Final = 60
_DAY_HOURS: Final = 24


class Texts:
    """pwrecovery's catalogs with the host's overrides: loaded once, then read-only.

    Safe to share between threads; catalogs are read on first use.
    """

    def __init__(self, translations: Translations | None = None) -> None:
        self._translations = translations if translations is not None else Translations()
        self._lock = threading.Lock()
        self._state: _State | None = None

    def _loaded(self) -> _State:
        state = self._state
        if state is None:
            with self._lock:
                if self._state is None:
                    host = self._translations._layers  # noqa: SLF001 (one unit with Translations)
                    self._state = _State(_shipped(), host)
                state = self._state
        return state

    def locales(self) -> tuple[str, ...]:
        """The shipped locales, then those the host added, sorted."""
        return self._loaded().locales

    def has(self, locale: object) -> bool:
        """Whether ``locale`` (in any spelling) is available as such, without falling back."""
        return normalize_locale(locale) in self._loaded().locales

    def resolve(self, locale: object) -> str:
        """The available locale that speaks for ``locale`` (see ``resolve``)."""
        return resolve(locale, self._loaded().locales)

    def msgids(self) -> frozenset[str]:
        """Every message id pwrecovery ships."""
        return self._loaded().known

    def text(self, locale: str | None, msgid: str, /, **params: object) -> str:
        """The message ``msgid`` in ``locale``, its ``{names}`` filled from ``params``."""
        return self._find(locale, msgid, None, params)

    def plural(self, locale: str | None, msgid: str, count: int, /, **params: object) -> str:
        """The form of ``msgid`` for ``count`` (the catalog's Plural-Forms decide which);
        ``{count}`` is available to it besides ``params``."""
        return self._find(locale, msgid, count, {**params, "count": count})

    def duration(self, locale: str | None, duration: timedelta) -> str:
        """How long to wait, in ``locale`` (``format_duration``)."""
        return format_duration(duration, locale, self)

    def moment(self, locale: str | None, moment: datetime, zone: ZoneInfo | None = None) -> str:
        """A moment in the company's zone (UTC when none), in ``locale`` (``format_moment``)."""
        return format_moment(moment, locale, zone if zone is not None else _UTC, self)

    def _find(
        self, locale: str | None, msgid: str, count: int | None, params: Mapping[str, object]
    ) -> str:
        state = self._loaded()
        for layer, rule in state.chains[resolve(locale, state.locales)]:
            message = layer.messages.get(msgid)
            if message is None:
                continue
            rendered = _render(_pick(message, count, rule), params)
            if rendered is not None:
                return rendered
        return msgid


DEFAULT_TEXTS: Final = Texts()
_UTC: Final = ZoneInfo("UTC")


# -- durations and moments -----------------------------------------------------------


def format_duration(duration: timedelta, locale: str | None, texts: Texts = DEFAULT_TEXTS) -> str:
    """How long to wait, rounded up so that waiting that long is enough.

    >>> [format_duration(timedelta(seconds=s), "en") for s in (0.2, 59.5, 61, 3600, 3660)]
    ['1 second', '1 minute', '2 minutes', '1 hour', '1 hour and 1 minute']
    >>> [format_duration(timedelta(hours=h), "en") for h in (24, 25, 720)]
    ['1 day', '25 hours', '30 days']
    """
    seconds = max(1, math.ceil(duration.total_seconds()))
    if seconds < _MINUTE:
        return texts.plural(locale, "duration.second", seconds)
    minutes = math.ceil(seconds / _MINUTE)
    if minutes < _MINUTE:
        return texts.plural(locale, "duration.minute", minutes)
    hours, rest = divmod(minutes, _MINUTE)
    if rest == 0 and hours % _DAY_HOURS == 0:
        return texts.plural(locale, "duration.day", hours // _DAY_HOURS)
    hours_text = texts.plural(locale, "duration.hour", hours)
    if rest == 0:
        return hours_text
    minutes_text = texts.plural(locale, "duration.minute", rest)
    return texts.text(locale, "duration.hours_and_minutes", hours=hours_text, minutes=minutes_text)


def _zone_label(local: datetime, zone: ZoneInfo) -> str:
    abbreviation = local.tzname() or ""
    if abbreviation.isascii() and abbreviation.isalpha():
        return abbreviation
    return zone.key or abbreviation


def format_moment(
    moment: datetime, locale: str | None, zone: ZoneInfo, texts: Texts = DEFAULT_TEXTS
) -> str:
    """A moment as the company's local time, with its zone's name.

    The zone's abbreviation when it is letters (``CST``, ``EDT``), else its IANA key
    (``America/Sao_Paulo`` rather than ``-03``). A naive ``moment`` is taken as UTC,
    as the store keeps times.

    >>> when = datetime(2026, 12, 4, 0, 11, tzinfo=UTC)
    >>> format_moment(when, "es_MX", ZoneInfo("America/Mexico_City"))
    '3 de diciembre de 2026, 18:11 (CST)'
    """
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return texts.text(
        locale,
        "date.moment",
        day=local.day,
        month=texts.text(locale, f"date.month.{local.month}"),
        year=local.year,
        time=f"{local:%H:%M}",
        zone=_zone_label(local, zone),
    )
