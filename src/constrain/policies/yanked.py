"""PEP 592 yanked files: skipped unless an exact pin names a version whose files are all yanked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..models import DistFile


def pins_exactly(specifiers: Iterable[SpecifierSet], version: Version) -> bool:
    """Does one of ``specifiers`` pin ``version`` with ``==`` (no wildcard) or ``===``?

    PEP 592 lets an installer use a yanked file only for such a pin.
    """
    for spec_set in specifiers:
        for spec in spec_set:
            if (spec.operator == "===" or (
                spec.operator == "==" and not spec.version.endswith(".*")
            )) and spec.contains(version, prereleases=True):
                return True
    return False


def usable_files(
    files: Sequence[DistFile], exact_pin: bool
) -> tuple[tuple[DistFile, ...], bool]:
    """The files of one version that may be used, and whether they are yanked ones.

    Files that are not yanked always win. When every file is yanked they are usable only under
    an exact pin (``exact_pin``); otherwise the version has no usable file.
    """
    kept = tuple(f for f in files if not f.is_yanked)
    if kept:
        return kept, False
    if exact_pin:
        return tuple(files), True
    return (), False


def yank_reason(file: DistFile) -> str:
    """The yank reason for messages; ``"no reason given"`` when the index gave none."""
    return file.yanked or "no reason given"
