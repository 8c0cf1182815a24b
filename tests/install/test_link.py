"""install/link: what a distribution may write, checked path by path before anything changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from constrain.install.link import environment_file, planned_files, refuse_environment_files
from constrain.install.unpack import Unpacked, UnsafeWheel
from constrain.install.venv import Interpreter

PREFIX = "/env"
SITE = f"{PREFIX}/lib/python3.11/site-packages"


def _interp() -> Interpreter:
    paths = {"purelib": SITE, "platlib": SITE, "scripts": f"{PREFIX}/bin",
             "data": PREFIX, "include": f"{PREFIX}/include/python3.11"}
    return Interpreter(f"{PREFIX}/bin/python", (3, 11, 7), "cpython", False, PREFIX, "/usr",
                       paths, {}, ())


def _unpacked(dist_info: str = "own-1.0.dist-info", entry_points=()) -> Unpacked:
    return Unpacked(Path("/cache/tree"), {"wheel": "own-1.0-py3-none-any.whl",
                                          "dist_info": dist_info, "root": "purelib",
                                          "files": [], "entry_points": list(entry_points)})


@pytest.mark.parametrize("path", [
    f"{SITE}/own-1.0.dist-info/METADATA",  # its own metadata: fine
    f"{SITE}/own-1.0.dist-info/licenses/LICENSE",
    f"{SITE}/own-1.0.dist-info/other-2.0.dist-info/RECORD",  # a nested .dist-info
    f"{SITE}/other-2.0.dist-info/METADATA",  # another distribution's metadata
    f"{SITE}/own-1.0.dist-info",  # the directory itself
    f"{PREFIX}/pyvenv.cfg",
    f"{PREFIX}/.constrain/txn/new.0.json",
    f"{PREFIX}/bin/python3",
    f"{PREFIX}/bin/own-cli",
    SITE,
])
def test_refused_exactly_where_environment_file_names_a_reason(path):
    interp, unpacked = _interp(), _unpacked()
    why = environment_file(interp, path, unpacked.dist_info, normalized=True)
    if why is None:
        refuse_environment_files(interp, unpacked, [path])
    else:
        with pytest.raises(UnsafeWheel, match="would overwrite"):
            refuse_environment_files(interp, unpacked, [path])


def test_planned_metadata_and_scripts_are_checked_unless_plain_names():
    interp = _interp()
    planned = planned_files(interp, _unpacked(entry_points=[["own-cli", "own", "main", "console"]]),
                            "own", destinations=[])
    assert planned == [f"{PREFIX}/bin/own-cli", f"{SITE}/own-1.0.dist-info/INSTALLER",
                       f"{SITE}/own-1.0.dist-info/REQUESTED", f"{SITE}/own-1.0.dist-info/RECORD"]
    with pytest.raises(UnsafeWheel, match="outside"):
        planned_files(interp, _unpacked(dist_info="../../../../x.dist-info"), "own",
                      destinations=[])
    with pytest.raises(UnsafeWheel, match="outside"):
        planned_files(interp, _unpacked(entry_points=[["../../evil", "own", "main", "console"]]),
                      "own", destinations=[])
