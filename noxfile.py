"""Sessions for nox: the tests on every supported Python, the docs, and mutation testing.

    nox                      the tests on 3.11, 3.12 and 3.13 (each must be on PATH)
    nox -s tests-3.12        the tests on one Python; arguments after -- go to pytest
    nox -s docs              the documentation site, built with --strict
    nox -s mutants           mutation testing of _domain and _service (hours; not in CI)

Each session installs the project with its ``dev`` extra into its own virtual environment
under ``.nox/``, as the README does into ``.venv``.
"""

from __future__ import annotations

import tempfile

import nox

PYTHONS = ["3.11", "3.12", "3.13"]  # as the classifiers in pyproject.toml say
# mutmut's configuration keys (in pyproject.toml) change between its releases.
MUTMUT = "mutmut==3.8.1"

nox.options.sessions = ["tests"]
# A Python that is not on PATH fails the run instead of being skipped without a word.
nox.options.error_on_missing_interpreters = True


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The README's test command, ``python -m pytest``, on one Python."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def docs(session: nox.Session) -> None:
    """The documentation site and its API reference, with every warning an error."""
    session.install("-e", ".[docs]")
    with tempfile.TemporaryDirectory() as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site)


@nox.session(python=PYTHONS[0])
def mutants(session: nox.Session) -> None:
    """mutmut over ``_domain`` and ``_service``; each mutant is judged by the unit tests
    that reach its function (mutmut finds them in a first run of tests/unit).

    The settings are ``[tool.mutmut]`` in pyproject.toml; mutmut works in ``mutants/`` and
    keeps its verdicts there for functions that did not change, even when the tests did:
    delete ``mutants/`` for a fresh run, or name the mutants to judge again. Arguments
    after ``--`` go to ``mutmut run`` (names or patterns such as
    ``"pwrecovery._domain.throttle*"``, ``--max-children N``). Then
    ``scripts/mutants.py`` prints, module by module, the mutants killed and survived
    and the score (equivalent mutants, listed in scripts/equivalent_mutants.toml, set
    aside); ``python scripts/mutants.py diffs`` shows what each survivor changes.
    """
    session.install("-e", ".[dev]", MUTMUT)
    session.run("mutmut", "run", *session.posargs)
    session.run("python", "scripts/mutants.py")
