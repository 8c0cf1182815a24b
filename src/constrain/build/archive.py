"""An sdist's files: the few top-level files read without unpacking, or the whole unpacked safely.

Tar archives are extracted with the ``data`` filter and zip archives after a path check, so no
member lands outside the destination (absolute paths, ``..``, links pointing out, devices).
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import BuildError
from ..processes import Ending, ending


def read_pkg_info(sdist_path: Path) -> bytes | None:
    """The top-level ``<dir>/PKG-INFO`` of an sdist (tar or zip), or ``None`` when absent or
    the archive is unreadable (the build path then reports the real problem)."""
    return read_top_files(sdist_path, ("PKG-INFO",)).get("PKG-INFO")


def read_top_files(sdist_path: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    """The files named ``wanted`` (``PKG-INFO``, ``pyproject.toml``) at the top of the sdist's
    source tree (``<dir>/NAME``), read in one pass over the archive; files absent, and every
    file of an unreadable archive, are missing from the answer."""
    found: dict[str, bytes] = {}
    try:
        if zipfile.is_zipfile(sdist_path):
            with zipfile.ZipFile(sdist_path) as zf:
                for name in zf.namelist():
                    top = _top_file(name, wanted)
                    if top is not None and top not in found:
                        found[top] = zf.read(name)
            return found
        with tarfile.open(sdist_path) as tf:
            for member in tf:
                top = _top_file(member.name, wanted) if member.isfile() else None
                if top is not None and top not in found:
                    fh = tf.extractfile(member)
                    if fh is not None:
                        found[top] = fh.read()
                    if len(found) == len(wanted):
                        break
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return {}
    return found


def _top_file(name: str, wanted: tuple[str, ...]) -> str | None:
    parts = PurePosixPath(name).parts
    if len(parts) == 2 and parts[1] in wanted and parts[0] not in ("..", "/"):
        return parts[1]
    return None


def _go_on() -> None:
    """Stop unpacking when the command ends: its scratch directory is being removed
    (``processes.remove_scratch``), and files written now would be left behind."""
    if ending():
        raise Ending("the command is ending")


def _data_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    """tarfile's ``data`` filter, member by member, stopping when the command ends."""
    _go_on()
    return tarfile.data_filter(member, path)


def unpack(sdist_path: Path, dest: Path) -> Path:
    """Extract ``sdist_path`` into ``dest`` and return the source tree (the single top-level
    directory, or ``dest`` itself). Members that would land outside ``dest`` (absolute paths,
    ``..``, links pointing out, devices) raise :class:`BuildError`."""
    what = Path(sdist_path).name
    try:
        if zipfile.is_zipfile(sdist_path):
            with zipfile.ZipFile(sdist_path) as zf:
                names = zf.namelist()
                for name in names:
                    p = PurePosixPath(name.replace("\\", "/"))
                    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
                        raise BuildError(f"{what} contains an unsafe path {name!r}")
                for name in names:
                    _go_on()
                    zf.extract(name, dest)
        else:
            with tarfile.open(sdist_path) as tf:
                tf.extractall(dest, filter=_data_filter)
    except (BuildError, Ending):
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        if ending():  # the directory was removed under a member being written: not damage
            raise Ending("the command is ending") from None
        raise BuildError(
            f"cannot unpack {what}: {exc}",
            hint="the file is damaged or not an sdist; try --refresh, or use a wheel",
        ) from None
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
