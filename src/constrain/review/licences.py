"""A distribution's licence as one SPDX expression, or ``None`` with what it declared instead.

The sources are read in the order PEP 639 gives them weight: ``License-Expression`` (already
SPDX; validated and normalised by ``packaging.licenses``), then the ``License ::`` trove
classifiers that name one licence exactly (several are joined with ``OR``: a project listing
two licences offers either), then the free-text ``License`` field: an SPDX expression, a short
name in common use ("MIT License", "Apache 2.0", "3-Clause BSD License"), or a whole licence
text recognised by its opening lines. A classifier that names a family but not a version
("Apache Software License", "BSD License") only counts when the ``License`` field narrows it
down, or the wheel's one licence file does (``Apache Software License`` alone is read as
Apache-2.0: the earlier Apache licences predate 2004). Anything else is ``None`` -- never a guess, never a whole text -- and the first line of
what was declared is kept for the reviewer.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.metadata import parse_email

#: classifiers (after "License :: ") that name exactly one SPDX licence
_CLASSIFIERS = {
    "OSI Approved :: MIT License": "MIT",
    "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "OSI Approved :: Apache Software License 2.0 (Apache-2.0)": "Apache-2.0",
    "OSI Approved :: BSD 2-Clause License": "BSD-2-Clause",
    "OSI Approved :: BSD 3-Clause License": "BSD-3-Clause",
    "OSI Approved :: ISC License (ISCL)": "ISC",
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "OSI Approved :: Zope Public License": "ZPL-2.1",
    "OSI Approved :: zlib/libpng License": "Zlib",
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)":
        "LGPL-2.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)":
        "LGPL-3.0-or-later",
    "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)":
        "AGPL-3.0-or-later",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}

#: short names people write in the License field, keyed by :func:`_key`
_NAMES = {
    "mit": "MIT", "expat": "MIT", "mit/expat": "MIT",
    "apache 2": "Apache-2.0", "apache 2.0": "Apache-2.0", "apache2": "Apache-2.0",
    "apache-2": "Apache-2.0", "apache v2": "Apache-2.0", "asl 2.0": "Apache-2.0",
    "apache software 2.0": "Apache-2.0",
    "bsd 3-clause": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause", "bsd-3": "BSD-3-Clause",
    "new bsd": "BSD-3-Clause", "modified bsd": "BSD-3-Clause", "bsd 3 clause": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause",
    "bsd 2-clause": "BSD-2-Clause", "2-clause bsd": "BSD-2-Clause", "simplified bsd":
        "BSD-2-Clause", "freebsd": "BSD-2-Clause", "bsd-2": "BSD-2-Clause",
    "psf": "PSF-2.0", "python software foundation": "PSF-2.0",
    "mpl 2.0": "MPL-2.0", "mozilla public 2.0": "MPL-2.0", "mpl2": "MPL-2.0",
    "isc": "ISC", "unlicense": "Unlicense", "zpl 2.1": "ZPL-2.1", "zope public": "ZPL-2.1",
    "lgplv3+": "LGPL-3.0-or-later", "lgplv3": "LGPL-3.0-only", "gplv3": "GPL-3.0-only",
    "gplv3+": "GPL-3.0-or-later", "gplv2": "GPL-2.0-only", "gplv2+": "GPL-2.0-or-later",
}

_APACHE = "OSI Approved :: Apache Software License"
#: classifiers naming a family of licences, not one: a licence file must be of that family
_FAMILIES = {_APACHE: "Apache-", "OSI Approved :: BSD License": "BSD-"}


@dataclass(frozen=True)
class Licence:
    """What is known of one file's licence. ``spdx``: the SPDX expression, ``None`` when
    unknown; ``source``: where it was read (``License-Expression``, ``classifier``,
    ``License``, ``License text``, or ``None``); ``declared``: the first line of what the
    metadata declared (at most 100 characters), ``None`` when nothing was."""

    spdx: str | None
    source: str | None = None
    declared: str | None = None


def _key(text: str) -> str:
    text = text.strip().lower().replace("licence", "license").replace(",", " ")
    text = re.sub(r"\b(the|license|version|v(?=\d))\b", " ", text)
    return re.sub(r"\s+", " ", text).strip(" .,")


def _spdx(text: str) -> str | None:
    try:
        return str(canonicalize_license_expression(text))
    except InvalidLicenseExpression:
        return None


def _from_text(text: str) -> str | None:
    """An SPDX id for a licence text recognised by its opening (the first ~40 lines)."""
    head = " ".join(text.split("\n")[:40]).lower()
    head = re.sub(r"\s+", " ", head)
    if "permission is hereby granted, free of charge" in head:
        return "MIT"
    if "apache license" in head[:400] and "version 2.0" in head[:400]:
        return "Apache-2.0"
    if "mozilla public license version 2.0" in head[:400] \
            or "mozilla public license, v. 2.0" in head:
        return "MPL-2.0"
    if "redistribution and use in source and binary forms" in head:
        if "neither the name" in head or "to endorse or promote" in head:
            return "BSD-3-Clause"
        return "BSD-2-Clause"
    if "permission to use, copy, modify, and/or distribute this software" in head:
        return "ISC"
    for line in (ln.strip() for ln in text.split("\n")[:3] if ln.strip()):
        found = _NAMES.get(_key(line)) or _spdx(line)
        if found:
            return found
    return None


def _first_line(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    line = next(ln.strip() for ln in text.strip().split("\n") if ln.strip())
    return line if len(line) <= 100 else line[:99] + "…"


@dataclass(frozen=True)
class Declared:
    """What a distribution's core metadata and archive say about its licence:
    ``License-Expression``, ``Classifier`` values, the ``License`` field, and the opening of
    each top-level licence file of the wheel's ``.dist-info`` (``LICENSE*``, ``LICENCE*``,
    ``COPYING*``; PEP 639's ``licenses/`` directory included, its subdirectories not)."""

    expression: str | None = None
    classifiers: tuple[str, ...] = ()
    license: str | None = None
    files: tuple[str, ...] = ()


def normalise(declared: Declared) -> Licence:
    """The :class:`Licence` of a distribution from what it ``declared`` (see the module
    docstring for the order; a single licence file recognised by its opening counts after the
    ``License`` field, several are left to the reviewer)."""
    expression, license_field = declared.expression, declared.license
    first = _first_line(expression) or _first_line(license_field)
    if expression and (spdx := _spdx(expression)):
        return Licence(spdx, "License-Expression", first)
    named = [c.removeprefix("License :: ").strip() for c in declared.classifiers
             if c.startswith("License :: ")]
    exact = [_CLASSIFIERS.get(c) for c in named]
    if named and all(exact):
        joined = " OR ".join(dict.fromkeys(e for e in exact if e))
        return Licence(_spdx(joined) or joined, "classifier", first or "; ".join(named)[:100])
    field = (license_field or "").strip()
    if field and field.upper() != "UNKNOWN":
        one_line = "\n" not in field
        found = (_spdx(field) or _NAMES.get(_key(field))) if one_line else None
        if found:
            return Licence(found, "License", first)
        found = _from_text(field)
        if found:
            return Licence(found, "License text", first)
    if not first and named:
        first = "; ".join(named)[:100]
    if len(declared.files) == 1 and (found := _from_text(declared.files[0])) \
            and all(_fits(c, found) for c in named):
        return Licence(found, "licence file", first)
    if named == [_APACHE] and not declared.files:  # the ASF's licences before 2.0 date from 2004 and earlier
        return Licence("Apache-2.0", "classifier (no version: read as 2.0)", first)
    return Licence(None, None, first)


def _fits(classifier: str, spdx: str) -> bool:
    """Whether ``classifier`` agrees with a licence file read as ``spdx``."""
    family = _FAMILIES.get(classifier)
    return spdx.startswith(family) if family else _CLASSIFIERS.get(classifier) == spdx


def read_declared(path: str | Path) -> Declared | None:
    """The :class:`Declared` licence data of the wheel or sdist at ``path`` (its
    ``*.dist-info/METADATA`` or ``PKG-INFO``); ``None`` when that cannot be read (not an
    archive, no metadata in it)."""
    got = _metadata_and_files(Path(path))
    if got is None:
        return None
    data, files = got
    raw, _ = parse_email(data)
    return Declared(raw.get("license_expression"), tuple(raw.get("classifiers", ())),
                    raw.get("license"), tuple(files))


_LICENCE_FILE = re.compile(r"(licen[cs]e|copying)[^/]*$", re.IGNORECASE)
_HEAD = 4096  # bytes of a licence file read: its opening is what identifies it


def _metadata_and_files(path: Path) -> tuple[bytes, list[str]] | None:
    name = path.name
    try:
        if name.endswith(".whl"):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                meta = [n for n in names if n.count("/") == 1
                        and n.endswith(".dist-info/METADATA")]
                if len(meta) != 1:
                    return None
                info = meta[0].rsplit("/", 1)[0]
                files = [n for n in names if "/" in n and _LICENCE_FILE.match(n.rsplit("/", 1)[1])
                         and n.rsplit("/", 1)[0] in (info, info + "/licenses")]
                heads = []
                for n in files:
                    with zf.open(n) as fh:
                        heads.append(fh.read(_HEAD).decode("utf-8", "replace"))
                return zf.read(meta[0]), heads
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                member = _pkg_info(zf.namelist())
                return (zf.read(member), []) if member else None
        if name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
            with tarfile.open(path) as tf:
                for entry in tf:
                    if _pkg_info([entry.name]) and entry.isfile():
                        got = tf.extractfile(entry)
                        return (got.read(), []) if got else None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, tarfile.TarError,
            UnicodeDecodeError):
        return None
    return None


def _pkg_info(names: Sequence[str]) -> str | None:
    """The top-level ``<dir>/PKG-INFO`` among archive member ``names``."""
    for n in names:
        parts = n.strip("/").split("/")
        if len(parts) == 2 and parts[1] == "PKG-INFO":
            return n
    return None
