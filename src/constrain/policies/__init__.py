"""Policies: pure filters on candidates (pre-releases, yanked, exclude-newer, binaries, bounds)."""
