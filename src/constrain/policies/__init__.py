"""Policies: pure filters on files and versions (pre-releases, yanked, exclude-newer, binaries).

Each module holds one policy as data plus pure functions; :mod:`constrain.policies.filters`
composes them. Nothing here does I/O or reads the host: the target is passed in.
"""
