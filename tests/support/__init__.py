"""Hermetic test infrastructure: generated distributions and a local package index server."""
