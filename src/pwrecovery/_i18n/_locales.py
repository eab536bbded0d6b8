"""Locale names: their canonical spelling and which available locale speaks for one.

``normalize_locale`` turns ``es-mx``, ``en_US.UTF-8`` or ``EN`` into ``es_MX``,
``en_US``, ``en`` (None for ``C``, ``POSIX`` or no text); ``resolve`` picks the
available locale for a wanted one (itself, the same language, else
``DEFAULT_LOCALE``). ``SHIPPED_LOCALES`` are those pwrecovery has catalogs for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

DEFAULT_LOCALE: Final = "es_MX"
SHIPPED_LOCALES: Final = ("es_MX", "en")
DOMAIN: Final = "pwrecovery"

_LOCALE_PATTERN: Final = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:_(?P<script>[A-Za-z]{4}))?(?:_(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
)


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
