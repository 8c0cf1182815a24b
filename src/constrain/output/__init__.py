"""Writers of install sets: constraints, requirements with hashes, pylock.toml, JSON report."""
