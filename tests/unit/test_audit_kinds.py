"""Every kind of audit event has a sentence in every shipped locale (the CLI shows it)."""

from __future__ import annotations

import pytest

from pwrecovery import _i18n
from pwrecovery._domain.audit_kinds import AUDIT_KINDS


def test_kinds_are_unique_identifiers() -> None:
    """AUDIT_KINDS names each kind once, as a lowercase identifier."""
    assert len(AUDIT_KINDS) == len(set(AUDIT_KINDS))
    assert [] == [kind for kind in AUDIT_KINDS if not (kind.isidentifier() and kind.islower())]


@pytest.mark.parametrize("locale", _i18n.SHIPPED_LOCALES)
def test_each_kind_has_a_sentence(locale: str) -> None:
    """audit.<kind> exists for every kind, is not the kind itself, and takes no parameter."""
    texts = _i18n.DEFAULT_TEXTS
    missing = [kind for kind in AUDIT_KINDS if f"audit.{kind}" not in texts.msgids()]
    assert [] == missing
    sentences = {kind: texts.text(locale, f"audit.{kind}") for kind in AUDIT_KINDS}
    assert [] == [kind for kind, sentence in sentences.items() if kind in sentence or not sentence]
    assert [] == [kind for kind, sentence in sentences.items() if "{" in sentence]


def test_the_two_locales_say_different_things() -> None:
    """The Spanish descriptions are Spanish: none is the English one."""
    texts = _i18n.DEFAULT_TEXTS
    same = [
        k
        for k in AUDIT_KINDS
        if texts.text("es_MX", f"audit.{k}") == texts.text("en", f"audit.{k}")
    ]
    assert [] == same
