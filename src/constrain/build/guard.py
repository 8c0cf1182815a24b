"""A build environment a build changed is not used again.

Build environments are kept and shared (``envs.py``): one made for ``setuptools==56.0.0`` serves
every sdist that asks for it. A backend runs arbitrary code, and an old ``setup.py`` may
``pip install`` what it needs into ``sys.prefix`` -- the shared environment -- so every later
build would see it (pip, uv and ``build`` make an environment per build). So what an
environment holds at its top -- the names in its site-packages and scripts directories -- is
recorded when it is made (``.contents``), and after each hook run in it compared: an
environment whose names changed is retired (its ``.ready`` marker removed, so no later build
takes it; the next one is made afresh) and a warning names the build and what it added or
removed. Bytecode (``__pycache__``) is not a change. A file changed in place is not seen:
this guards against installs into the environment, not against a backend set on damage.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

CONTENTS = ".contents"


def contents(paths: dict[str, str]) -> list[str]:
    """What an environment (its install scheme's ``paths``) holds at its top: ``site/name``
    and ``scripts/name`` for each entry of its site-packages and scripts directories."""
    found: set[str] = set()
    for key, shown in (("purelib", "site"), ("platlib", "site"), ("scripts", "scripts")):
        with contextlib.suppress(OSError):
            found.update(f"{shown}/{name}" for name in os.listdir(paths[key])
                         if name != "__pycache__")
    return sorted(found)


def record(env: Path, paths: dict[str, str]) -> None:
    """Note what the new environment at ``env`` holds (before it is published as ready)."""
    (env / CONTENTS).write_text(json.dumps(contents(paths)) + "\n", encoding="utf-8")


def check(env: Path, paths: dict[str, str], ready: str, what: str, warn: Any) -> None:
    """After a hook of the build of ``what`` ran in the environment at ``env``: retire it
    (remove its ``ready`` marker) if its contents changed, and ``warn`` so. One made before
    contents were recorded is recorded now, as it is."""
    try:
        before = json.loads((env / CONTENTS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            record(env, paths)
        return
    except (OSError, ValueError):
        before = None
    now = contents(paths)
    if before == now:
        return
    with contextlib.suppress(OSError):
        os.unlink(env / ready)
    changed = sorted(set(now) ^ set(before or ()))
    shown = ", ".join(("+" if c in now else "-") + c.split("/", 1)[1] for c in changed[:5])
    warn(f"the build of {what} changed its build environment ({shown or 'unreadable record'}"
         f"{' ...' if len(changed) > 5 else ''}): later builds get a new one")
