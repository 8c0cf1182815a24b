"""Building from sdists: PEP 517 build environments, builds, their logs and static metadata."""
