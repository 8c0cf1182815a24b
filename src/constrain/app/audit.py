"""``constrain audit`` and ``download --audit``: an offline OSV dump against what a user pins.

The pipeline reads the database (:mod:`constrain.review.osv`; a malformed one is refused before
anything else happens), the releases of every path given (wheelhouses, PEP 751 locks,
constraints files: :mod:`constrain.review.audit`), and matches them. No network, no cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import UsageError
from ..review.audit import AuditResult, audit, load_targets, pins_from_manifest
from ..review.osv import OsvDatabase, load_database

#: Where the OSV database is taken from when no path is given.
DB_ENV = "CONSTRAIN_OSV_DB"


@dataclass(frozen=True)
class AuditRequest:
    """What ``constrain audit`` is asked: the database (``None``: ``$CONSTRAIN_OSV_DB``) and
    the wheelhouses, manifests, lock files and constraints files to check."""

    database: str | None
    paths: tuple[str, ...]


def open_database(given: str | None, environ: dict[str, str] | None = None) -> OsvDatabase:
    """The OSV database at ``given`` or ``$CONSTRAIN_OSV_DB`` (``~`` expanded); a usage error
    when neither names one."""
    env = os.environ if environ is None else environ
    path = given or env.get(DB_ENV)
    if not path:
        raise UsageError("no OSV database given",
                         hint=f"give --db PATH (a directory or zip of OSV records, e.g. the "
                         f"PyPI/all.zip OSV publishes) or set {DB_ENV}")
    return load_database(os.path.expanduser(path))


def audit_command(request: AuditRequest) -> AuditResult:
    """Every release the paths name, matched against the database."""
    db = open_database(request.database)
    pins, not_pinned = load_targets(request.paths)
    return audit(pins, db, not_pinned)


def audit_manifest(db: OsvDatabase, manifest) -> AuditResult:
    """Every file of a wheelhouse manifest just written (``download --audit``), matched."""
    return audit(pins_from_manifest(manifest), db)
