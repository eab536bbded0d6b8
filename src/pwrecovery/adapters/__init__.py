"""Adapters: the ports implemented on real (and in-memory) technology."""
