"""After an install: does every installed distribution have what it requires (``pip check``)?

Each distribution's ``Requires-Dist`` lines are evaluated with the environment's marker values
(no extras, as pip does) and checked against the installed versions.
"""

from __future__ import annotations

import email.parser

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .plan import metadata_headers, read_installed
from .venv import Interpreter


def check(interp: Interpreter) -> list[str]:
    """Problems in the environment, one line each in pip's wording; empty when it is sound."""
    installed = read_installed(interp)
    env = dict(interp.markers)
    env["extra"] = ""
    parser = email.parser.BytesHeaderParser()
    problems: list[str] = []
    for name in sorted(installed):
        dist = installed[name]
        try:
            headers = metadata_headers(dist.dist_info, parser)
        except OSError:
            continue
        for line in headers.get_all("Requires-Dist") or ():
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            dep = installed.get(canonicalize_name(req.name))
            who = f"{dist.display_name} {dist.raw_version}"
            if dep is None:
                problems.append(f"{who} requires {req.name}, which is not installed.")
            elif req.specifier and (
                dep.version is None or not req.specifier.contains(dep.version, prereleases=True)
            ):
                problems.append(f"{who} has requirement {req}, but you have "
                                f"{dep.display_name} {dep.raw_version}.")
    return problems
