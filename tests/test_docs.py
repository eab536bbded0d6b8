"""The documentation's examples run, and its tables match the code."""

from __future__ import annotations

import re
import subprocess
import sys
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


# A test cited as proof: ``tests/<path>.py``, alone or followed by ``::name`` (a test
# function, or a test class), ``::Class::name`` (a test method) or either with ``[id]``
# (one case of a parametrised test). A longer path that merely ends in tests/
# (examples/host_tests/…) is not a citation.
CITATION = re.compile(
    r"(?<![\w/.-])(?P<path>tests/[\w/]+\.py)(?P<node>(?:::\w+)+(?:\[[^\]`\n]+\])?)?"
)


def citations(text: str) -> list[tuple[str, str]]:
    """Every test cited in ``text``, as (path, node id after the path or "")."""
    return [(m["path"], m["node"] or "") for m in CITATION.finditer(text)]


def collected(paths: set[str]) -> set[str]:
    """The node ids pytest collects from ``paths``: what a citation must name."""
    run = subprocess.run(  # noqa: S603 (our own interpreter, our own test files)
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *sorted(paths),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == run.returncode, run.stdout + run.stderr
    return {line.strip() for line in run.stdout.splitlines() if "::" in line}


def test_citations_are_recognised() -> None:
    """The pattern finds functions, methods and parametrised cases, whole, and nothing in
    a path that only ends in tests/."""
    text = (
        "`tests/unit/a.py::test_x`, tests/b.py::TestY::test_z[4 GiB of memory] and "
        "(`tests/integration/c.py`); not examples/host_tests/test_login_window.py"
    )
    assert [
        ("tests/unit/a.py", "::test_x"),
        ("tests/b.py", "::TestY::test_z[4 GiB of memory]"),
        ("tests/integration/c.py", ""),
    ] == citations(text)


def test_security_claims_name_real_tests() -> None:
    """Every test the documentation cites as proof (docs/security.md above all) is one
    pytest collects: the file exists, and the function, the test class, the method of
    a test class or the parametrised case named is among the tests collected from it."""
    pages = sorted((ROOT / "docs").rglob("*.md"))
    cited = {
        (str(page.relative_to(ROOT)), *c) for page in pages for c in citations(page.read_text())
    }
    assert len([c for c in cited if c[0] == "docs/security.md" and c[2]]) > 60
    missing_files = sorted({path for _, path, _ in cited if not (ROOT / path).is_file()})
    assert [] == missing_files
    ids = collected({path for _, path, node in cited if node})
    unknown = sorted(
        f"{page}: {path}{node}"
        for page, path, node in cited
        if node
        and f"{path}{node}" not in ids
        and not any(i.startswith((f"{path}{node}[", f"{path}{node}::")) for i in ids)
    )
    assert [] == unknown
