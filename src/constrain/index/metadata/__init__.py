"""Metadata: the core metadata of one distribution file (PEP 658, range reads, sdists)."""
