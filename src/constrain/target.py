"""The target environment: Python version, implementation, ABIs, platform tags and marker values.

A resolve is always *for* a target, which need not be the running interpreter. Everything that
depends on the target -- wheel compatibility, environment markers, ``requires-python`` -- asks a
:class:`TargetEnvironment`; only :meth:`TargetEnvironment.current` looks at the host.

Over 400 lines: tags, markers and the check of platform names (the tag families and their
nearest spellings) belong to the one target type.
"""

from __future__ import annotations

import re
from dataclasses import field
from functools import cached_property
from typing import Protocol

from packaging import tags as ptags
from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.version import InvalidVersion, Version

from .errors import UsageError
from .records import record


class FileFacts(Protocol):
    """What the target reads of a file to judge it (:class:`constrain.models.DistFile` has
    these); a Protocol so that ``target`` needs nothing of ``models``."""

    @property
    def is_wheel(self) -> bool: ...
    @property
    def tags(self) -> frozenset[Tag]: ...
    @property
    def requires_python(self) -> str | None: ...


_PYTHON_RE = re.compile(r"^(?:cp|python|py)?(3)\.(\d+)(?:\.(\d+))?(t?)$")

# Oldest glibc each architecture had manylinux wheels for (PEP 600 / packaging's table).
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_MANYLINUX_FLOOR = {"x86_64": 5, "i686": 5}
# patterns of --platform tags, compiled when one is first read (re's cache): a target without
# --platform never reads one, and compiling four patterns costs every run about 3M instructions
_MANYLINUX_RE = r"^manylinux_(\d+)_(\d+)_(.+)$"
_LEGACY_RE = r"^(manylinux1|manylinux2010|manylinux2014)_(.+)$"
_MUSL_RE = r"^musllinux_(\d+)_(\d+)_(.+)$"
_MAC_RE = r"^macosx_(\d+)_(\d+)_(.+)$"
_LEGACY_GLIBC = {"manylinux1": 5, "manylinux2010": 12, "manylinux2014": 17}


def parse_python(text: str) -> tuple[tuple[int, int, int], bool]:
    """Parse ``3.11``, ``3.11.4``, ``cp312``-style or ``3.13t`` into (version, free-threaded).

    A missing patch is taken as 0 for markers (``python_full_version``), as uv does; see
    :attr:`TargetEnvironment.any_patch` for how ``requires-python`` treats it.
    """
    m = _PYTHON_RE.match(text.strip())
    if not m:
        compact = re.match(r"^(?:cp|py)?3(\d{1,2})(t?)$", text.strip())
        if compact:
            return (3, int(compact.group(1)), 0), bool(compact.group(2))
        other = re.match(r"^(?:cp|py|python)?([0-24-9])(?:\.\d+)*$", text.strip())
        raise UsageError(
            f"Python {other.group(1)} is not supported (--python {text})" if other
            else f"cannot read Python version {text!r}",
            hint="give a CPython 3 version such as 3.11, 3.12.4 or 3.13t",
        )
    return (3, int(m.group(2)), int(m.group(3) or 0)), bool(m.group(4))


# Architectures wheels are built for, per family (PEP 599/600/656 and the macOS binary formats).
_LINUX_ARCHES = ("x86_64", "i686", "aarch64", "armv7l", "armv6l", "ppc64le", "ppc64", "s390x",
                 "riscv64", "loongarch64")
_MAC_ARCHES = ("arm64", "x86_64", "universal2", "universal", "intel", "fat", "fat3", "fat64",
               "i386", "ppc", "ppc64")
_WINDOWS = ("win32", "win_amd64", "win_arm64")
#: other names of an architecture, tried before spelling suggestions (``win_x86_64``)
_ARCH_ALIASES = (("amd64", "x86_64"), ("x64", "x86_64"), ("arm64", "aarch64"),
                 ("aarch64", "arm64"), ("x86_64", "amd64"), ("x64", "amd64"), ("x86", "i686"))


def _platform_vocabulary(tag: str) -> list[str]:
    """Well-formed platform tags to suggest for a misspelt ``tag``: every family with common
    versions, plus the family ``tag`` starts like with each known architecture."""
    out: list[str] = list(_WINDOWS)
    for arch in _LINUX_ARCHES:
        out += [f"linux_{arch}", f"manylinux2014_{arch}", f"manylinux_2_17_{arch}",
                f"manylinux_2_28_{arch}", f"musllinux_1_2_{arch}"]
    for version in ("10_9", "10_13", "11_0", "12_0", "13_0", "14_0"):
        out += [f"macosx_{version}_{a}" for a in ("arm64", "x86_64", "universal2")]
    prefix = re.match(r"^((?:many|musl)linux_\d+_\d+_|manylinux(?:1|2010|2014)_|linux_|"
                      r"macosx_\d+_\d+_)", tag)
    if prefix:
        arches = _MAC_ARCHES if prefix.group(1).startswith("macosx") else _LINUX_ARCHES
        out += [prefix.group(1) + a for a in arches]
    return list(dict.fromkeys(out))


def _is_platform(norm: str) -> bool:
    if norm in _WINDOWS:
        return True
    linux = (re.match(r"^(?:many|musl)linux_\d+_\d+_(.+)$", norm)
             or re.match(r"^manylinux(?:1|2010|2014)_(.+)$", norm)
             or re.match(r"^linux_(.+)$", norm))
    if linux:
        return linux.group(1) in _LINUX_ARCHES
    mac = re.match(r"^macosx_\d+_\d+_(.+)$", norm)
    return mac is not None and mac.group(1) in _MAC_ARCHES


def check_platform(tag: str) -> str:
    """``tag`` in its normal spelling (``-`` and ``.`` read as ``_``) when it is a wheel
    platform tag of a known family: ``manylinux_X_Y_<arch>``, ``manylinux1``/``2010``/``2014_
    <arch>``, ``musllinux_X_Y_<arch>``, ``linux_<arch>`` (Linux architectures), ``macosx_X_Y_
    <arch>`` (``arm64``, ``x86_64``, ``universal2``, ...), ``win32``, ``win_amd64``,
    ``win_arm64``. Anything else -- ``any`` included, which names no platform -- is a
    :class:`UsageError` whose hint gives the nearest valid spellings."""
    norm = tag.strip().replace("-", "_").replace(".", "_")
    if _is_platform(norm):
        return norm
    if norm == "any":
        raise UsageError(
            "--platform any names no platform: pure-Python wheels ('any') suit every target "
            "already",
            hint="give the platform the environment runs on, e.g. manylinux_2_28_x86_64, or "
            "leave --platform out for this host's",
        )
    for alias, arch in _ARCH_ALIASES:
        if norm.endswith("_" + alias):
            renamed = norm[: -len(alias)] + arch
            if renamed != norm and _is_platform(renamed):
                raise UsageError(f"unknown platform tag {tag!r}",
                                 hint=f"did you mean {renamed}? (wheel tags call {alias} {arch} "
                                 "there)")
    import difflib

    # 0.75: a slip of a letter or two in a tag of ~15 characters, not another family's tag
    near = difflib.get_close_matches(norm, _platform_vocabulary(norm), n=3, cutoff=0.75)
    hint = (f"did you mean {' or '.join(near)}?" if near else
            "give a wheel platform tag: manylinux_X_Y_ARCH (glibc X.Y, e.g. "
            "manylinux_2_28_x86_64), manylinux2014_ARCH, musllinux_X_Y_ARCH, linux_ARCH, "
            "macosx_X_Y_ARCH (e.g. macosx_11_0_arm64), win32, win_amd64 or win_arm64")
    raise UsageError(f"unknown platform tag {tag!r}", hint=hint)


def expand_platform(tag: str) -> list[str]:
    """Expand one pip-style platform tag into every platform tag a target with it accepts,
    most specific first (``manylinux_2_28_x86_64`` also runs ``manylinux_2_17`` wheels)."""
    tag = tag.strip().replace("-", "_").replace(".", "_")
    if m := re.match(_LEGACY_RE, tag):
        tag = f"manylinux_2_{_LEGACY_GLIBC[m.group(1)]}_{m.group(2)}"
    if m := re.match(_MANYLINUX_RE, tag):
        major, minor, arch = int(m.group(1)), int(m.group(2)), m.group(3)
        floor = _MANYLINUX_FLOOR.get(arch, 17)
        out: list[str] = []
        for glibc_minor in range(minor, floor - 1, -1):
            out.append(f"manylinux_{major}_{glibc_minor}_{arch}")
            legacy = _LEGACY_MANYLINUX.get((major, glibc_minor))
            if legacy:
                out.append(f"{legacy}_{arch}")
        out.append(f"linux_{arch}")
        return out
    if m := re.match(_MUSL_RE, tag):
        major, minor, arch = int(m.group(1)), int(m.group(2)), m.group(3)
        out = [f"musllinux_{major}_{n}_{arch}" for n in range(minor, -1, -1)]
        out.append(f"linux_{arch}")
        return out
    if m := re.match(_MAC_RE, tag):
        version = (int(m.group(1)), int(m.group(2)))
        return list(ptags.mac_platforms(version, m.group(3)))
    return [tag]


def _fits_minor(spec: SpecifierSet, major: int, minor: int) -> bool:
    """Does ``spec`` admit a Python "X.Y" given without a patch?

    Two conditions. Some X.Y.z must satisfy it (``<3.9`` does not fit 3.9). And, as uv reads
    Requires-Python as a lower bound, the file must support the *oldest* such Python: some
    version at or below X.Y.0 must be admitted -- so ``>=3.8,!=3.9.0,!=3.9.1`` fits 3.9 but
    ``>=3.9,!=3.9.0,!=3.9.1`` (which starts after 3.9.1) does not. This gives uv's answers
    for ``--python X.Y`` while never choosing a file no 3.9 can install.
    """
    def admits(text: str) -> bool:
        try:
            return spec.contains(Version(text), prereleases=True)
        except InvalidVersion:
            return False

    base = f"{major}.{minor}.0"
    if not any(admits(f"{major}.{minor}.{p}") for p in range(0, 100)):
        return False
    if admits(base):
        return True
    probes = {"0"}
    for item in spec:
        try:
            v = Version(item.version)
        except InvalidVersion:
            continue
        if v <= Version(base):
            probes.add(str(v))
    return any(admits(p) for p in probes)


def _platform_markers(platform: str) -> dict[str, str]:
    """Marker values implied by a platform tag (PEP 508 ``sys_platform`` and friends)."""
    arch = platform.rsplit("_", 1)[-1] if "_" in platform else platform
    if platform.startswith(("manylinux", "musllinux", "linux")):
        arch = re.sub(r"^(?:many|musl)?linux(?:_\d+_\d+|1|2010|2014)?_", "", platform)
        return {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                "platform_machine": arch}
    if platform.startswith("macosx"):
        arch = platform.split("_", 3)[-1]
        machine = {"universal2": "arm64", "universal": "x86_64", "intel": "x86_64"}.get(arch, arch)
        return {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
                "platform_machine": machine}
    if platform.startswith("win"):
        machine = {"win32": "x86", "win_amd64": "AMD64", "win_arm64": "ARM64"}.get(platform, arch)
        return {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                "platform_machine": machine}
    raise UsageError(
        f"unknown platform tag {platform!r}",
        hint="use a wheel platform tag such as manylinux_2_28_x86_64, manylinux2014_aarch64, "
        "musllinux_1_2_x86_64, macosx_11_0_arm64 or win_amd64",
    )


@record
class TargetEnvironment:
    """What a resolve is for. ``platforms`` holds the platform tags as given (empty means the
    host's platform); ``host`` is true when this *is* the running interpreter."""

    python_version: tuple[int, int, int]
    platforms: tuple[str, ...] = ()
    free_threaded: bool = False
    host: bool = False
    #: ``--python 3.9`` names a minor, not a patch: see :func:`_fits_minor` for how a file's
    #: requires-python is read then (as uv does, within what some 3.9.x can install).
    any_patch: bool = False
    host_platforms: tuple[str, ...] = field(default=(), compare=False, repr=False)
    host_markers: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    # ----------------------------------------------------------------- construction
    @classmethod
    def current(cls) -> TargetEnvironment:
        """The running interpreter (the only place that reads the host)."""
        import sys

        from packaging.markers import default_environment

        v = sys.version_info
        return cls(
            python_version=(v.major, v.minor, v.micro),
            free_threaded=bool(getattr(sys, "_is_gil_enabled", lambda: True)() is False),
            host=sys.implementation.name == "cpython",
            host_platforms=tuple(ptags.platform_tags()),
            host_markers=tuple(sorted((k, str(v)) for k, v in default_environment().items())),
        )

    @classmethod
    def from_options(
        cls, python: str | None = None, platforms: tuple[str, ...] | list[str] = ()
    ) -> TargetEnvironment:
        """The target for ``--python`` / ``--platform``; anything not given comes from the host."""
        here = cls.current()
        plats = tuple(platforms)
        for p in plats:
            check_platform(p)  # early, with the nearest valid spelling as the hint
        systems = {p: _platform_markers(p) for p in plats}
        if len({(m["sys_platform"], m["platform_machine"]) for m in systems.values()}) > 1:
            # one resolve, one marker environment: its first platform's would be taken for all
            raise UsageError(
                "--platform " + " and ".join(plats) + " are different systems: one resolve "
                "has one set of environment markers (sys_platform, platform_machine)",
                hint="resolve once per system, or use constrain download with these --platform "
                "values (one target each)")
        if python is None and not plats:
            return here
        version, ft = (here.python_version, here.free_threaded)
        any_patch = False
        if python is not None:
            version, ft = parse_python(python)
            any_patch = not re.match(r"^(?:cp|python|py)?3\.\d+\.\d+", python.strip())
        is_host = not plats and version == here.python_version and ft == here.free_threaded
        return cls(
            python_version=version,
            platforms=plats,
            free_threaded=ft,
            host=is_host and here.host,
            any_patch=any_patch,
            host_platforms=here.host_platforms,
            host_markers=here.host_markers,
        )

    # ----------------------------------------------------------------- derived facts
    @property
    def python_full_version(self) -> str:
        return ".".join(map(str, self.python_version))

    @property
    def python_short(self) -> str:
        """``3.11`` (``3.13t`` when free-threaded): the form used in constraint file names."""
        return f"{self.python_version[0]}.{self.python_version[1]}" + (
            "t" if self.free_threaded else ""
        )

    @cached_property
    def platform_tags(self) -> tuple[str, ...]:
        if not self.platforms:
            return self.host_platforms
        out: list[str] = []
        for p in self.platforms:
            for t in expand_platform(p):
                if t not in out:
                    out.append(t)
        return tuple(out)

    @cached_property
    def tags(self) -> tuple[Tag, ...]:
        """Every wheel tag the target accepts, most preferred first."""
        major, minor = self.python_version[:2]
        interp = f"cp{major}{minor}"
        if self.free_threaded:
            abis = [f"{interp}t"]
        elif (major, minor) < (3, 8):
            abis = [f"{interp}m"]
        else:
            abis = [interp]
        plats = list(self.platform_tags)
        out = list(ptags.cpython_tags((major, minor), abis, plats))
        if self.free_threaded:
            out = [t for t in out if t.abi != "abi3"]
        out.extend(ptags.compatible_tags((major, minor), interp, plats))
        seen: dict[Tag, None] = {}
        for t in out:
            seen.setdefault(t, None)
        return tuple(seen)

    @cached_property
    def _tag_rank(self) -> dict[Tag, int]:
        return {t: i for i, t in enumerate(self.tags)}

    @cached_property
    def markers(self) -> dict[str, str]:
        """PEP 508 marker environment of the target (without ``extra``)."""
        if self.platforms:
            plat = _platform_markers(self.platform_tags[0])
            env = {"platform_release": "", "platform_version": ""}
            env.update(plat)
        else:
            env = dict(self.host_markers)
        env.update(
            implementation_name="cpython",
            platform_python_implementation="CPython",
            python_version=f"{self.python_version[0]}.{self.python_version[1]}",
            python_full_version=self.python_full_version,
            implementation_version=self.python_full_version,
        )
        return env

    def describe(self) -> str:
        """``CPython 3.11.0 on manylinux_2_28_x86_64`` -- for headers and messages."""
        where = ", ".join(self.platforms) if self.platforms else (
            "this host" if self.host else f"this host's platform ({self.markers['sys_platform']}"
            f" {self.markers.get('platform_machine', '')})"
        )
        shown = self.python_short if self.any_patch else self.python_full_version
        if self.any_patch and self.free_threaded:
            shown = shown[:-1]
        return f"CPython {shown}{'t' if self.free_threaded else ''} on {where}"

    # ----------------------------------------------------------------- questions
    def evaluate(self, marker: Marker | None, extras: frozenset[str] | set[str] = frozenset()) -> bool:
        """Does ``marker`` hold on this target, for any of ``extras`` (or none)?"""
        if marker is None:
            return True
        env = dict(self.markers)
        if not extras:
            env["extra"] = ""
            return marker.evaluate(env)
        for extra in extras:
            env["extra"] = extra
            if marker.evaluate(env):
                return True
        return False

    def python_matches(self, requires_python: str | SpecifierSet | None) -> bool:
        """Is this Python inside ``requires_python``? Unparsable values count as a match, as in
        pip: an index's typo must not hide every release."""
        if requires_python is None or requires_python == "":
            return True
        key = str(requires_python)
        known = self._python_ok.get(key)
        if known is not None:
            return known
        try:
            spec = (
                requires_python
                if isinstance(requires_python, SpecifierSet)
                else SpecifierSet(requires_python)
            )
        except InvalidSpecifier:
            self._python_ok[key] = True
            return True
        major, minor, patch = self.python_version
        if not self.any_patch:
            known = spec.contains(Version(f"{major}.{minor}.{patch}"), prereleases=True)
        else:
            known = _fits_minor(spec, major, minor)
        self._python_ok[key] = known
        return known

    @cached_property
    def _python_ok(self) -> dict[str, bool]:
        return {}

    def wheel_rank(self, file: FileFacts) -> int | None:
        """Preference rank of a wheel for this target (0 is best); ``None`` when it cannot be
        installed here. sdists have no rank."""
        if not file.is_wheel:
            return None
        rank = self._tag_rank
        best = None
        for t in file.tags:
            r = rank.get(t)
            if r is not None and (best is None or r < best):
                best = r
        return best

    @cached_property
    def _tag_strings(self) -> frozenset[str]:
        return frozenset(str(t) for t in self.tags)

    @cached_property
    def _triples(self) -> dict[str, bool]:
        return {}

    def may_accept_filename(self, filename: str) -> bool:
        """A cheap test on a file *name*: False only for a wheel whose tags the target cannot
        use (so the file need not even be parsed). sdists and odd names pass."""
        if not filename.endswith(".whl"):
            return True
        parts = filename[:-4].split("-")
        if len(parts) < 5:
            return True
        triple = "-".join(parts[-3:])
        known = self._triples.get(triple)
        if known is None:
            ok = self._tag_strings
            pys, abis, plats = parts[-3].split("."), parts[-2].split("."), parts[-1].split(".")
            known = self._triples[triple] = any(
                f"{py}-{abi}-{plat}" in ok for py in pys for abi in abis for plat in plats
            )
        return known

    def accepts(self, file: FileFacts) -> bool:
        """Can ``file`` serve this target: a compatible wheel, or an sdist, whose
        ``requires-python`` admits the target Python."""
        if file.is_wheel and self.wheel_rank(file) is None:
            return False
        return self.python_matches(file.requires_python)
