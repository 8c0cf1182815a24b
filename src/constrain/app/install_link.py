"""The step of ``constrain install`` that changes the environment, under its lock, and the
check after it: each changed distribution replaced under its journal, several at a time
(:func:`apply`); pip seeded into a venv constrain made (:func:`seed_pip`); the environment
checked as ``pip check`` checks it (:func:`check_linked`). ``install.py`` runs the pipeline
around them; the mechanics are in install/ (journal, link, verify).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..install.plan import Plan, read_installed
from ..install.venv import Interpreter
from ..models import InstallSet
from ..reporting import Reporter


def apply(interp: Interpreter, plan: Plan, ready: dict, reporter: Reporter,
           cache=None) -> None:
    """Replace each changed distribution under its journal, several at a time."""
    from ..install.fetch import _workers
    from ..install.journal import Slots, Touched, owners, replace, sharing_groups

    jobs = []
    for change in plan.to_remove:
        jobs.append((change.name, change.old.dist_info if change.old else None, None, False))
    for change in plan.to_install:
        r = ready[change.name]
        jobs.append((change.name, change.old.dist_info if change.old else None, r.unpacked,
                     change.pin.requested if change.pin else False))
    if not jobs:
        return
    # installs and removals counted apart: the interrupted line says how many of each were made
    if plan.to_remove:
        reporter.start("remove", total=len(plan.to_remove), unit="distributions")
    if len(jobs) > len(plan.to_remove):
        reporter.start("install", total=len(jobs) - len(plan.to_remove), unit="distributions")
    owned = owners(interp) if any(j[1] is not None for j in jobs) else None

    # Ctrl-C or SIGTERM (KeyboardInterrupt in this thread) sets ``stopped``: no replacement
    # starts after it, and the ones under way finish under their journals before this returns
    # (each distribution wholly old or wholly new), so the progress count is how many were
    # installed (cli's interrupted line). Counted here, not left to the pool's shutdown: an
    # interrupt can come while the pool is starting a thread it does not know yet.
    state = threading.Condition()
    running, stopped = [0], [False]

    touched = [Touched(interp, name, old, new, owned) for name, old, new, _ in jobs]

    def one(group: list[int]) -> None:
        for i in group:  # replacements sharing a path: one after another
            with state:
                if stopped[0]:
                    return
                running[0] += 1
            try:
                name, old, new, requested = jobs[i]
                replace(interp, name, old=old, new=new, requested=requested, owned=owned,
                        cache=cache, slots=slots, touched=touched[i])
                reporter.advance("install" if new is not None else "remove")
            finally:
                with state:
                    running[0] -= 1
                    state.notify_all()

    groups = sharing_groups(touched)
    slots = Slots(interp)  # the journals of distributions with nothing old
    ex = ThreadPoolExecutor(_workers(len(groups)), thread_name_prefix="constrain-link")
    try:
        for f in [ex.submit(one, g) for g in groups]:
            f.result()
    except KeyboardInterrupt:
        with state:
            stopped[0] = True
        ex.shutdown(wait=False, cancel_futures=True)
        with state:
            state.wait_for(lambda: running[0] == 0)
        raise
    finally:
        ex.shutdown(wait=True)
        slots.close()  # every replacement has ended: each slot is empty
        if plan.to_remove:
            reporter.finish("remove")
        if len(jobs) > len(plan.to_remove):
            reporter.finish("install")


def seed_pip(interp: Interpreter, cache, install_set: InstallSet) -> None:
    """A venv constrain creates gets pip (from the interpreter's ensurepip wheel), as
    ``python -m venv`` would give it, unless the install set brings its own."""
    if install_set.pin("pip") is not None:
        return
    from ..index.files import sha256_of
    from ..install.journal import replace
    from ..install.unpack import unpack

    if "pip" in read_installed(interp):
        return
    for wheel in interp.bundled_wheels:
        if Path(wheel).name.startswith("pip-"):
            unpacked = unpack(Path(wheel), sha256_of(Path(wheel)), cache)
            replace(interp, "pip", old=None, new=unpacked)
            return


def check_linked(interp: Interpreter, plan: Plan, ready: dict) -> list[str]:
    """``pip check`` of the environment. The wheels this install linked, whose METADATA was
    compared with the resolve's before linking (``trust.check_metadata``: not wheels built
    here), are taken as the resolve read them: their METADATA is not parsed again. A wheel
    built here is taken as its METADATA's Requires-Dist lines, kept in its tree's manifest
    when it was unpacked (the tree's check vouches for METADATA since), and the version its
    ``.dist-info`` directory names."""
    from packaging.version import InvalidVersion, Version

    from ..install.plan import Installed
    from ..install.verify import check, parsed

    linked = {}
    for c in plan.to_install:
        pin, r = c.pin, ready.get(c.name)
        if pin is None or r is None:
            continue
        raw = r.unpacked.dist_info[: -len(".dist-info")].rpartition("-")[2]
        if r.built or not pin.file.is_wheel or pin.metadata.source == "built":
            recorded = r.unpacked.manifest.get("metadata")
            if not isinstance(recorded, dict):
                continue  # a tree unpacked before the manifest kept them: read from disk
            try:
                version = Version(raw)
            except InvalidVersion:
                continue
            dist = Installed(pin.name, pin.display_name, version, raw,
                             Path(r.unpacked.dist_info), "constrain")
            linked[r.unpacked.dist_info] = (dist, tuple(parsed(recorded.get("requires_dist")
                                                              or ())))
            continue
        dist = Installed(pin.name, pin.display_name, pin.version, raw, Path(r.unpacked.dist_info),
                         "constrain")
        linked[r.unpacked.dist_info] = (dist, pin.metadata.requires_dist)
    return check(interp, linked)
