"""Deprecated: the core's rules are private since release 2 (``pwrecovery._domain``)."""
