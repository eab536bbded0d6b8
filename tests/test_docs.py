"""The documentation's examples run, and its tables match the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pwrecovery import cli
from pwrecovery import exceptions as errors

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)


def runnable_blocks(page: Path) -> list[str]:
    return [m["code"] for m in FENCE.finditer(page.read_text()) if "skip" not in m["info"]]


@pytest.mark.parametrize("page", [p for p in DOCS if runnable_blocks(p)], ids=lambda p: p.name)
def test_examples_run(page: Path) -> None:
    """Every ```python block of a page runs, in order, in one namespace (``skip`` ones aside)."""
    namespace: dict[str, object] = {"__name__": f"docs.{page.stem}"}
    for number, code in enumerate(runnable_blocks(page), start=1):
        exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)  # noqa: S102


def test_pages_with_examples_exist() -> None:
    """The quick start, the walk-through and the mail page carry runnable examples."""
    assert {"quickstart.md", "guide.md", "mail.md"} <= {p.name for p in DOCS if runnable_blocks(p)}


def test_walk_through_host_code_is_under_30_lines() -> None:
    """The login window of the walk-through takes fewer than 30 lines of host code."""
    window = next(
        code for code in runnable_blocks(ROOT / "docs" / "guide.md") if "class LoginWindow" in code
    )
    assert len([line for line in window.splitlines() if line.strip()]) < 30


def test_cli_exit_code_table_matches() -> None:
    """docs/cli.md lists exactly the exit codes the command uses."""
    rows = re.findall(
        r"^\| (\d+) \| `(\w+)` \| `(\w+)` \|$", (ROOT / "docs" / "cli.md").read_text(), re.MULTILINE
    )
    names = {
        cls.code: cls.__name__
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.PwRecoveryError)
    }
    assert sorted((n, names[c], c) for c, n in cli.EXIT_CODES.items()) == sorted(
        (int(n), name, c) for n, name, c in rows
    )


def test_example_host_test_is_quoted_verbatim() -> None:
    """docs/testing.md shows the example host test exactly as it runs."""
    example = (ROOT / "examples" / "host_tests" / "test_login_window.py").read_text()
    assert example in (ROOT / "docs" / "testing.md").read_text()


def test_security_claims_name_real_tests() -> None:
    """Every test that docs/security.md cites as proof exists."""
    text = (ROOT / "docs" / "security.md").read_text()
    cited = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", text)
    assert len(cited) > 20
    for path, name in cited:
        source = (ROOT / path).read_text()
        assert not name or f"def {name}(" in source, f"{path}::{name}"
