"""The install plan: what is installed now, what the install set wants, and each change between.

Reading an environment means reading its ``*.dist-info`` directories (name and version from
``METADATA``); no interpreter is started. The plan is pure data, rendered for ``--dry-run`` and
for the summary after an install.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import field, replace
from pathlib import Path
from typing import Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..models import InstallSet, Pin
from ..records import record
from .headers import metadata_headers
from .venv import Interpreter

Action = Literal["install", "upgrade", "downgrade", "reinstall", "unchanged", "remove"]
#: Never removed by ``--exact``: the environment's own installer.
PROTECTED = frozenset({"pip"})


@record
class Installed:
    """One distribution found in the environment."""

    name: NormalizedName
    display_name: str
    version: Version | None
    raw_version: str
    dist_info: Path
    installer: str = ""
    #: its METADATA's Requires-Dist lines as written (read with the rest: the check after an
    #: install needs them and should not parse METADATA a second time)
    requires_dist: tuple[str, ...] = field(default=(), compare=False, repr=False)


def egg_infos(interp: Interpreter) -> dict[NormalizedName, str]:
    """The distributions of the environment installed as ``.egg-info`` (by ``setup.py
    install`` or an old pip), by canonical name -> the entry's name. constrain neither reads
    nor replaces them: their files are listed, if at all, in ``installed-files.txt``."""
    out: dict[NormalizedName, str] = {}
    for site in interp.site_dirs:
        with contextlib.suppress(OSError):
            for entry in os.scandir(site):
                if entry.name.endswith(".egg-info"):
                    out[canonicalize_name(entry.name.split("-", 1)[0])] = entry.name
    return out


def read_installed(interp: Interpreter, known: Mapping[str, Installed] | None = None
                   ) -> dict[NormalizedName, Installed]:
    """Every distribution in the environment's site directories, by canonical name.

    ``known`` maps ``.dist-info`` directory names whose METADATA need not be read (this
    install linked them and checked their METADATA first) to what they hold; their
    ``dist_info`` is set to where they were found."""
    out: dict[NormalizedName, Installed] = {}
    parser = None  # made for the first METADATA read
    for site in interp.site_dirs:
        try:
            entries = list(os.scandir(site))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info") or not entry.is_dir():
                continue
            path = Path(entry.path)
            mine = known.get(entry.name) if known else None
            if mine is not None:
                out[mine.name] = replace(mine, dist_info=path)
                continue
            try:
                if parser is None:
                    import email.parser

                    parser = email.parser.BytesHeaderParser()
                headers = metadata_headers(path, parser)
            except OSError:
                continue
            display = headers.get("Name") or entry.name.split("-", 1)[0]
            raw = headers.get("Version") or ""
            try:
                version: Version | None = Version(raw)
            except InvalidVersion:
                version = None
            try:
                installer = (path / "INSTALLER").read_text(encoding="utf-8").strip()
            except OSError:
                installer = ""
            key = canonicalize_name(display)
            out[key] = Installed(key, display, version, raw, path, installer,
                                 tuple(headers.get_all("Requires-Dist") or ()))
    return out


@record
class Change:
    action: Action
    name: NormalizedName
    display_name: str
    old: Installed | None = None
    pin: Pin | None = None

    @property
    def new_version(self) -> Version | None:
        return self.pin.version if self.pin is not None else None

    def describe(self) -> str:
        old = self.old.raw_version if self.old is not None else ""
        new = str(self.new_version) if self.pin is not None else ""
        if self.action == "install":
            return f" + {self.display_name}=={new}"
        if self.action == "remove":
            return f" - {self.display_name}=={old}"
        if self.action in ("upgrade", "downgrade"):
            return f" ~ {self.display_name} {old} -> {new} ({self.action})"
        if self.action == "reinstall":
            return f" ~ {self.display_name}=={new} (reinstall)"
        return f"   {self.display_name}=={new}"


@record(frozen=False)
class Plan:
    changes: list[Change] = field(default_factory=list)

    def of(self, *actions: Action) -> list[Change]:
        return [c for c in self.changes if c.action in actions]

    @property
    def to_install(self) -> list[Change]:
        return self.of("install", "upgrade", "downgrade", "reinstall")

    @property
    def to_remove(self) -> list[Change]:
        return self.of("remove")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    def summary(self) -> str:
        """``2 install, 1 upgrade, 40 unchanged`` (only the actions present)."""
        c = self.counts()
        order = ("install", "upgrade", "downgrade", "reinstall", "remove")
        parts = [f"{c[k]} {k}" for k in order if c.get(k)]
        parts.append(f"{c.get('unchanged', 0)} unchanged")
        return ", ".join(parts)

    def render(self, *, show_unchanged: bool = False) -> str:
        lines = [c.describe() for c in self.changes
                 if show_unchanged or c.action != "unchanged"]
        return "\n".join(lines) + ("\n" if lines else "")


def own_distributions(prefix: str, installed: Mapping[NormalizedName, Installed]
                      ) -> frozenset[NormalizedName]:
    """When ``prefix`` is the environment this constrain runs from: constrain and every
    distribution of ``installed`` it requires (followed through their Requires-Dist, markers
    as this interpreter sees them); else none. ``--exact`` keeps them, as it keeps pip:
    removing them would pull the running command's modules from under it, and leave no
    constrain to run again."""
    import sys

    if os.path.realpath(prefix) != os.path.realpath(sys.prefix):
        return frozenset()
    from packaging.requirements import InvalidRequirement, Requirement

    seen: set[NormalizedName] = set()
    todo = [canonicalize_name("constrain")]
    while todo:
        name = todo.pop()
        dist = installed.get(name)
        if name in seen or dist is None:
            continue
        seen.add(name)
        for line in dist.requires_dist:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return frozenset(seen)


def make_plan(
    install_set: InstallSet,
    installed: dict[NormalizedName, Installed],
    *,
    exact: bool = False,
    reinstall: frozenset[NormalizedName] = frozenset(),
    keep: frozenset[NormalizedName] = frozenset(),
) -> Plan:
    """Compare ``install_set`` with ``installed``. ``exact`` removes what the set does not
    name (except :data:`PROTECTED` and ``keep``: :func:`own_distributions`); ``reinstall``
    names distributions to install again even at the same version."""
    plan = Plan()
    for pin in install_set.pins:
        have = installed.get(pin.name)
        if have is None:
            plan.changes.append(Change("install", pin.name, pin.display_name, None, pin))
        elif pin.name in reinstall:
            plan.changes.append(Change("reinstall", pin.name, pin.display_name, have, pin))
        elif have.version is None or have.version < pin.version:
            plan.changes.append(Change("upgrade", pin.name, pin.display_name, have, pin))
        elif have.version > pin.version:
            plan.changes.append(Change("downgrade", pin.name, pin.display_name, have, pin))
        elif have.raw_version != str(pin.version) and have.version != pin.version:
            plan.changes.append(Change("reinstall", pin.name, pin.display_name, have, pin))
        else:
            plan.changes.append(Change("unchanged", pin.name, pin.display_name, have, pin))
    if exact:
        wanted = {p.name for p in install_set.pins}
        for name in sorted(installed):
            if name not in wanted and name not in PROTECTED and name not in keep:
                have = installed[name]
                plan.changes.append(Change("remove", name, have.display_name, have, None))
    plan.changes.sort(key=lambda c: c.name)
    return plan


def installed_elsewhere(interp: Interpreter, name: str, journaled: list[str]) -> bool:
    """Is there a ``.dist-info`` of ``name`` in the environment that none of the ``journaled``
    paths lies in (put there by another installer since the journal was written)?"""
    known = {os.path.dirname(os.path.abspath(p)) for p in journaled if ".dist-info" in p}
    wanted = canonicalize_name(name)
    for site in interp.site_dirs:
        with contextlib.suppress(OSError), os.scandir(site) as entries:
            for e in entries:
                if (e.name.endswith(".dist-info") and os.path.abspath(e.path) not in known
                        and canonicalize_name(e.name.split("-", 1)[0]) == wanted):
                    return True
    return False
