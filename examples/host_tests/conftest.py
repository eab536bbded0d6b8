"""A host's conftest.py: enable pwrecovery's fixtures."""

pytest_plugins = ["pwrecovery.testing.plugin"]
