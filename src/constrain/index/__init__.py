"""Index access: pages (PEP 691/503), find-links, metadata (PEP 658, range reads, sdists)."""
