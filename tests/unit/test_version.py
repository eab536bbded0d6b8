"""``pwrecovery.__version__`` is the installed distribution's version."""

from __future__ import annotations

from importlib import metadata

import pwrecovery as pr


def test_version_is_the_installed_distributions() -> None:
    """``pr.__version__`` equals the version pip installed, as package metadata says."""
    assert metadata.version("pwrecovery") == pr.__version__
