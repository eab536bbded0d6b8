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

>>> texts = Texts()
>>> texts.text("es-MX", "error.unknown_user", login="juan")
'No existe el usuario «juan».'
>>> texts.plural("en_US.UTF-8", "duration.minute", 1)
'1 minute'
>>> format_duration(timedelta(minutes=65), "es_MX")
'1 hora y 5 minutos'
"""

from __future__ import annotations

import functools
import gettext
import io
import math
import os
import re
import string
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

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

DEFAULT_LOCALE: Final = "es_MX"
SHIPPED_LOCALES: Final = ("es_MX", "en")
DOMAIN: Final = "pwrecovery"

# A message: one template, or its plural forms in the order of the catalog's Plural-Forms.
Message: TypeAlias = str | tuple[str, ...]
PluralRule: TypeAlias = Callable[[int], int]

_MINUTE: Final = 60
_DAY_HOURS: Final = 24
_LOCALE_PATTERN: Final = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:_(?P<script>[A-Za-z]{4}))?(?:_(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
)


# -- locales -------------------------------------------------------------------------


def normalize_locale(value: object) -> str | None:
    """The canonical spelling of a locale name, or None if it names no language.

    >>> [normalize_locale(v) for v in ("es-mx", "en_US.UTF-8", "EN", "de_DE@euro")]
    ['es_MX', 'en_US', 'en', 'de_DE']
    >>> [normalize_locale(v) for v in ("C", "POSIX", "C.UTF-8", "", None, 7)]
    [None, None, None, None, None, None]
    """
    if not isinstance(value, str):
        return None
    text = value.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    match = _LOCALE_PATTERN.fullmatch(text)
    if match is None:
        return None
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    return "_".join(parts)


def _language(locale: str) -> str:
    return locale.split("_", 1)[0]


def resolve(locale: object, available: Iterable[str] = SHIPPED_LOCALES) -> str:
    """The available locale to speak for ``locale``: itself, else the first available
    one of the same language, else ``DEFAULT_LOCALE``.

    >>> resolve("en_US"), resolve("es_AR"), resolve("fr_FR"), resolve(None)
    ('en', 'es_MX', 'es_MX', 'es_MX')
    """
    choices = tuple(available)
    wanted = normalize_locale(locale)
    if wanted is None:
        return DEFAULT_LOCALE
    if wanted in choices:
        return wanted
    language = _language(wanted)
    for choice in choices:
        if _language(choice) == language:
            return choice
    return DEFAULT_LOCALE


def _locale_key(value: object) -> str:
    locale = normalize_locale(value)
    if locale is None:
        msg = f"{value!r} is not a locale name such as 'es_MX' or 'en'"
        raise ValueError(msg)
    return locale


# -- templates -----------------------------------------------------------------------

_Piece: TypeAlias = tuple[str, str | None, str | None, str]  # literal, name, conversion, spec
_FORMATTER: Final = string.Formatter()
_CONVERSIONS: Final = (None, "s", "r", "a")


@functools.lru_cache(maxsize=4096)
def _compile(template: str) -> tuple[_Piece, ...] | None:
    """The template's pieces, or None unless every field is a plain name."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError:
        return None
    pieces: list[_Piece] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (
            not name.isidentifier() or "{" in (spec or "") or conversion not in _CONVERSIONS
        ):
            return None
        pieces.append((literal, name, conversion, spec or ""))
    return tuple(pieces)


def _render(template: str, params: Mapping[str, object]) -> str | None:
    pieces = _compile(template)
    if pieces is None:
        return None
    out: list[str] = []
    for literal, name, conversion, spec in pieces:
        out.append(literal)
        if name is None:
            continue
        value = params.get(name, "")
        if conversion == "r":
            value = repr(value)
        elif conversion == "a":
            value = ascii(value)
        elif conversion == "s":
            value = str(value)
        try:
            out.append(format(value, spec))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


def placeholders(template: str) -> frozenset[str]:
    """The names a template uses (empty for one that is not a valid template).

    >>> sorted(placeholders("{host}:{port}"))
    ['host', 'port']
    """
    return frozenset(name for _, name, _, _ in _compile(template) or () if name is not None)


def _pick(message: Message, count: int | None, rule: PluralRule) -> str:
    if isinstance(message, str):
        return message
    if count is None:
        return message[0]
    try:
        index = rule(count)
    except (ArithmeticError, TypeError, ValueError):
        index = 0 if count == 1 else len(message) - 1
    return message[min(max(index, 0), len(message) - 1)]


# -- catalogs ------------------------------------------------------------------------


class _MoCatalog(gettext.GNUTranslations):
    """The standard library's .mo reader, declaring the two attributes its parser fills."""

    _catalog: dict[str | tuple[str, int], str]
    plural: PluralRule

    def messages(self) -> dict[str, Message]:
        singles: dict[str, Message] = {}
        forms: dict[str, dict[int, str]] = {}
        for key, text in self._catalog.items():
            if isinstance(key, tuple):
                forms.setdefault(key[0], {})[key[1]] = text
            elif key:  # "" is the header
                singles[key] = text
        for msgid, by_index in forms.items():
            singles[msgid] = tuple(by_index[index] for index in sorted(by_index))
        return singles


class _Layer:
    """One source of messages for one locale; ``plural`` is None for messages given in code."""

    __slots__ = ("messages", "plural")

    def __init__(self, messages: Mapping[str, Message], plural: PluralRule | None) -> None:
        self.messages: Mapping[str, Message] = messages
        self.plural = plural


def _read_mo(data: bytes) -> _Layer:
    catalog = _MoCatalog(io.BytesIO(data))
    return _Layer(catalog.messages(), catalog.plural)


@functools.cache
def _shipped() -> dict[str, _Layer]:
    folder = resources.files(__name__).joinpath("locale")
    return {
        locale: _read_mo(folder.joinpath(locale, "LC_MESSAGES", f"{DOMAIN}.mo").read_bytes())
        for locale in SHIPPED_LOCALES
    }


def _checked(locale: str, messages: Mapping[str, str | Sequence[str]]) -> dict[str, Message]:
    checked: dict[str, Message] = {}
    for msgid, message in messages.items():
        forms: tuple[object, ...] = ()
        if isinstance(message, str):
            forms = (message,)
        elif isinstance(message, Sequence):
            forms = tuple(message)
        if not isinstance(msgid, str) or not forms or not all(isinstance(f, str) for f in forms):
            msg = f"{locale} {msgid!r}: a message is a text or a sequence of plural forms"
            raise TypeError(msg)
        texts = tuple(str(form) for form in forms)
        for form in texts:
            if _compile(form) is None:
                msg = (
                    f"{locale} {msgid!r}: {form!r} is not a valid template "
                    "(plain {name} fields only; write a literal brace as {{ or }})"
                )
                raise ValueError(msg)
        checked[msgid] = message if isinstance(message, str) else texts
    return checked


class Translations:
    """The host's own texts, which pwrecovery uses before its own.

    ``Translations(messages)`` takes a few texts in code: ``{locale: {msgid: text}}``,
    where a plural message's text is either one template for every count or the
    sequence of its forms (Spanish and English: singular, plural).
    ``Translations.from_directory(path)`` reads every
    ``<path>/<locale>/LC_MESSAGES/<domain>.mo`` the host compiled. A locale pwrecovery
    does not ship (``es_ES``) becomes available; any message it lacks comes from the
    shipped locale of the same language (``es_MX``), then from ``es_MX``.
    ``a | b`` combines two sets of overrides; ``b`` wins where both give a message.

    >>> Translations({"es-MX": {"success.password_changed": "Listo, {name}."}}).locales
    ('es_MX',)
    """

    def __init__(
        self, messages: Mapping[str, Mapping[str, str | Sequence[str]]] | None = None
    ) -> None:
        self._layers: dict[str, tuple[_Layer, ...]] = {}
        for locale, texts in (messages or {}).items():
            key = _locale_key(locale)
            self._add(key, _Layer(_checked(key, texts), None))

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str], domain: str = DOMAIN) -> Translations:
        """The host's compiled catalogs: ``<path>/<locale>/LC_MESSAGES/<domain>.mo``.

        OSError if there is none, or one cannot be read or is no .mo file; ValueError if
        a folder's name is no locale or a text is not a valid template.
        """
        root = Path(path)
        if not root.is_dir():
            raise NotADirectoryError(f"no catalog folder at {root}")
        found = sorted(root.glob(f"*/LC_MESSAGES/{domain}.mo"))
        if not found:
            raise FileNotFoundError(f"no <locale>/LC_MESSAGES/{domain}.mo under {root}")
        translations = cls()
        for mo_path in found:
            key = _locale_key(mo_path.parent.parent.name)
            layer = _read_mo(mo_path.read_bytes())
            translations._add(key, _Layer(_checked(key, layer.messages), layer.plural))
        return translations

    def _add(self, locale: str, layer: _Layer) -> None:
        self._layers[locale] = (layer, *self._layers.get(locale, ()))

    def __or__(self, other: Translations) -> Translations:
        combined = Translations()
        for source in (self, other):
            for locale, layers in source._layers.items():
                for layer in reversed(layers):
                    combined._add(locale, layer)
        return combined

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales these overrides give texts for."""
        return tuple(sorted(self._layers))

    def unknown_msgids(self) -> tuple[tuple[str, str], ...]:
        """(locale, msgid) of each override pwrecovery has no message for: a typo, or a
        message of another version. A host's test can assert this is empty."""
        known = _shipped()[DEFAULT_LOCALE].messages
        return tuple(
            sorted(
                (locale, msgid)
                for locale, layers in self._layers.items()
                for layer in layers
                for msgid in layer.messages
                if msgid not in known
            )
        )

    def __repr__(self) -> str:
        return f"Translations(locales={self.locales!r})"


_Step: TypeAlias = tuple[_Layer, PluralRule]


class _State:
    """Everything Texts needs, built once: the locales and each one's lookup chain."""

    def __init__(
        self, shipped: Mapping[str, _Layer], host: Mapping[str, tuple[_Layer, ...]]
    ) -> None:
        extra = tuple(sorted(locale for locale in host if locale not in shipped))
        self.locales: tuple[str, ...] = (*SHIPPED_LOCALES, *extra)
        own = {
            locale: (*host.get(locale, ()), *((shipped[locale],) if locale in shipped else ()))
            for locale in self.locales
        }
        self.known: frozenset[str] = frozenset(shipped[DEFAULT_LOCALE].messages)
        self.chains: dict[str, tuple[_Step, ...]] = {}
        for locale in self.locales:
            order = [locale, *(s for s in SHIPPED_LOCALES if _language(s) == _language(locale))]
            order.append(DEFAULT_LOCALE)
            names = list(dict.fromkeys(order))
            steps: list[_Step] = []
            for index, name in enumerate(names):
                rule = next(
                    layer.plural
                    for later in names[index:]
                    for layer in own[later]
                    if layer.plural is not None
                )
                steps += [(layer, rule) for layer in own[name]]
            self.chains[locale] = tuple(steps)


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
