"""The API reference (docs/api/, rendered by mkdocstrings) covers the whole public API."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import pwrecovery as pr

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api"
# "::: pwrecovery.Name" renders one object; a module's "members:" list names more.
DIRECTIVE = re.compile(r"^::: (?P<path>[\w.]+)$", re.MULTILINE)
MEMBER = re.compile(r"^ {8}- (?P<name>\w+)$", re.MULTILINE)


def exported(module: str) -> list[str]:
    """A module's ``__all__``, read from its source (mkdocstrings reads the source too)."""
    source = ROOT / "src" / Path(*module.split(".")).with_suffix(".py")
    if not source.exists():  # a package
        source = ROOT / "src" / Path(*module.split(".")) / "__init__.py"
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []


def rendered() -> set[str]:
    """Every dotted path an API page renders, with the members it lists by name."""
    paths: set[str] = set()
    for page in API.glob("*.md"):
        text = page.read_text()
        for directive in DIRECTIVE.finditer(text):
            paths.add(directive["path"])
        for block in re.split(r"^(?=::: )", text, flags=re.MULTILINE):
            head = DIRECTIVE.match(block)
            if head:
                paths |= {f"{head['path']}.{m['name']}" for m in MEMBER.finditer(block)}
    return paths


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("pwrecovery", pr.__all__),
        ("pwrecovery.oauth", exported("pwrecovery.oauth")),
    ],
)
def test_every_public_name_has_a_reference_entry(module: str, names: list[str]) -> None:
    """Each name a public module exports is rendered on an API page, so none goes undocumented."""
    paths = rendered()
    assert [] == [name for name in names if f"{module}.{name}" not in paths]


def test_whole_modules_are_rendered() -> None:
    """The test kit (plugin, SMTP server, Store contract) and the store records are rendered."""
    assert {
        "pwrecovery.testing",
        "pwrecovery.testing.plugin",
        "pwrecovery.testing.smtp",
        "pwrecovery.testing.contract",
        "pwrecovery.records",
        "pwrecovery.oauth",
    } <= rendered()


def test_api_pages_have_no_python_blocks() -> None:
    """The API pages hold no ```python block: tests/test_docs.py runs none of them."""
    assert [] == [page.name for page in API.glob("*.md") if "```python" in page.read_text()]


def test_every_api_page_is_in_the_nav() -> None:
    """mkdocs.yml's nav lists every page of docs/api/ (and every page of docs/)."""
    config = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert [] == [page for page in pages if f" {page}\n" not in config]
