"""The loader: pwrecovery's compiled catalogs, the host's ``Translations``, the lookup chains.

The shipped ``.mo`` files are read once by the standard library's ``gettext``
(``_shipped``); ``Translations`` holds the host's texts (given in code, or
compiled catalogs from a folder), each checked to be a valid template; ``_State``
orders, for every available locale, the layers a message is looked for in.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Final, TypeAlias

from pwrecovery._i18n._locales import (
    DEFAULT_LOCALE,
    DOMAIN,
    SHIPPED_LOCALES,
    _language,
    _locale_key,
)
from pwrecovery._i18n._templates import Message, PluralRule, _compile

# The package whose locale/ folder holds the shipped catalogs.
_PACKAGE: Final = __name__.rpartition(".")[0]


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
    folder = resources.files(_PACKAGE).joinpath("locale")
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
