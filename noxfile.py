"""Sessions for nox: the tests on every supported Python, the docs, and mutation testing.

    nox                      the tests on 3.11, 3.12 and 3.13 (each must be on PATH)
    nox -s tests-3.12        the tests on one Python; arguments after -- go to pytest
    nox -s docs              the documentation site, built with --strict
    nox -s mutants           mutation testing of the core (about 6 hours on 2 cores; not in CI)

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
    """mutmut over ``_domain`` and ``_service``, judged by the unit tests.

    The settings are ``[tool.mutmut]`` in pyproject.toml; mutmut works in ``mutants/``.
    Arguments after ``--`` go to ``mutmut run`` (mutant names, ``--max-children N``).
    Afterwards ``mutmut results`` and ``mutmut browse`` (in this session's virtual
    environment) show the survivors.
    """
    session.install("-e", ".[dev]", MUTMUT)
    session.run("mutmut", "run", *session.posargs)
    session.run("mutmut", "export-cicd-stats")
