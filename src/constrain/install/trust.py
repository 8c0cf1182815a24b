"""Before linking, what the install took on trust is checked: the metadata the resolve used.

The resolve reads a wheel's dependencies from wherever is cheapest -- a PEP 658 metadata file,
a range of the wheel, a cache entry. The wheel that is then installed carries its own METADATA,
and if the two disagree the environment ends up with dependencies nobody resolved (or without
ones the resolve thought were there). :func:`check_metadata` compares them for every wheel about
to be linked and names each difference; nothing is linked when one is found.
"""

from __future__ import annotations

import operator
import re
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .unpack import InstallError


class MetadataMismatch(InstallError):
    """A wheel's own METADATA disagrees with the metadata the resolve used for it."""


def _key(req: Requirement) -> tuple:
    return (canonicalize_name(req.name), tuple(sorted(canonicalize_name(e) for e in req.extras)),
            str(req.specifier), req.url or "", str(req.marker) if req.marker else "")


def _text_key(line: str) -> str:
    """A requirement's text without the differences PEP 508 allows that do not change its
    meaning, so that lines with equal keys are equal requirements and need no parsing:
    spacing outside strings, quotes, the case of the name, the extras' spelling (PEP 685),
    the order of the extras and of the version clauses, parentheses around the clauses or
    around one comparison of the marker, and the spelling of a name the marker compares
    ``extra`` with (``foo (>=1,<2) ; (python_version >= '3') and extra == 'x_y'`` and
    ``foo<2,>=1; python_version >= "3" and extra == "x-y"`` agree: packaging writes the
    latter, most METADATA files the former). Nothing else: other parentheses group, strings
    are compared as written. Lines whose keys differ are parsed and compared by meaning."""
    quote = "'" if "'" in line else '"'
    inside = "".join(line.split(quote)[1::2])  # the strings, when all in one kind of quote
    if (quote == "'" and '"' in line) or len("".join(inside.split())) != len(inside):
        key = _spelled(line)  # both quotes, or spaces inside a string: string by string
    else:  # every space is outside the strings
        key = "".join(line.split())
        if quote == "'":
            key = key.replace("'", '"')
    head, sep, marker = key.partition(";")
    if "@" not in head:  # a URL is left as it is
        head = head.replace("(", "").replace(")", "").lower()
        if "," in head or "[" in head:  # several clauses, or extras
            found = _HEAD.fullmatch(head)
            if found is not None:
                name, extras, clauses = found.groups()
                head = name
                if extras:
                    head += "[" + ",".join(sorted({canonicalize_name(e)
                                                   for e in extras.split(",")})) + "]"
                head += ",".join(sorted(clauses.split(",")))
    if "'" in marker:  # a string holding a double quote: nothing in it may be taken for code
        return head + sep + marker
    if "(" in marker:  # packaging writes no parentheses around one comparison
        marker = _ONE_TERM.sub(_INSIDE, marker)
    if "extra" in marker and (_ODD_EXTRA.search(marker) or "=extra" in marker):
        marker = _EXTRA_NAME.sub(_extra_name, marker)
        marker = _NAME_EXTRA.sub(_name_extra, marker)
    return head + sep + marker


def _spelled(line: str) -> str:
    """``line`` without spaces outside its strings, each string in double quotes (single
    ones when it holds a double quote)."""
    parts = _QUOTED.split(line)  # text, string, text, string, ..., text
    for n in range(0, len(parts), 2):
        parts[n] = "".join(parts[n].split())
    for n in range(1, len(parts), 2):
        value = parts[n][1:-1]
        parts[n] = '"' + value + '"' if '"' not in value else "'" + value + "'"
    return "".join(parts)


def _extra_name(found: re.Match) -> str:
    return f'extra{found[1]}"{canonicalize_name(found[2])}"'


def _name_extra(found: re.Match) -> str:
    return f'"{canonicalize_name(found[1])}"{found[2]}extra'


#: a requirement's name, its extras (between brackets) and the rest: its version clauses
_HEAD = re.compile(r"([a-z0-9._-]+)(?:\[([^\]]*)\])?([^\[\]]*)")
#: a requirement's strings (PEP 508: either quote, no escapes), kept by split()
_QUOTED = re.compile(r"""("[^"]*"|'[^']*')""")
# in a marker without spaces, its strings double-quoted:
#: a name compared with ``extra``, either way round
_EXTRA_NAME = re.compile(r'extra([=!]=)"([^"]*)"')
_NAME_EXTRA = re.compile(r'"([^"]*)"([=!]=)extra')
#: such a name not normalized (PEP 685: lower case, runs of ``-_.`` as one ``-``)
_ODD_EXTRA = re.compile(r'extra[=!]="[^"]*(?:[A-Z._]|--)')
#: one comparison in parentheses
_ONE_TERM = re.compile(r'\((\w+(?:===|[=!<>]=|~=|[<>]|notin|in)"[^"]*"'
                       r'|"[^"]*"(?:===|[=!<>]=|~=|[<>]|notin|in)\w+)\)')
_INSIDE = operator.itemgetter(1)  # what the parentheses held (a C call: no frame per match)


_WHERE = {"pep658": "the index's metadata file (PEP 658)", "range": "the metadata read from the "
          "index", "wheel": "the metadata read from the wheel", "installed": "the installed "
          "metadata"}

_BUILT = {"built": "the metadata its backend prepared", "pkg-info": "its static PKG-INFO",
          "pyproject": "its pyproject.toml's [project] table"}


def check_metadata(ready) -> None:
    """Raise :class:`MetadataMismatch` naming, for the first wheel in ``ready`` (``fetch.Ready``
    items) whose METADATA disagrees with its pin's metadata, each Requires-Dist only one side
    has and a differing Requires-Python. A wheel built here from an sdist is compared with the
    sdist's metadata the resolve read (static, or prepared by its backend): PEP 517 and PEP 643
    require them to agree."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from .headers import metadata_headers

    for r in ready:
        pin = r.pin
        if pin is None or (not r.built and (not pin.file.is_wheel
                                           or pin.metadata.source == "built")):
            continue
        manifest = r.unpacked.manifest
        recorded = manifest.get("metadata")
        if isinstance(recorded, dict):  # read from METADATA at unpack (the tree is intact)
            raw = list(recorded.get("requires_dist") or ())
            rp_text = recorded.get("requires_python")
        else:  # a tree unpacked before the manifest kept them
            try:  # the header block only: a long description can be most of the file
                headers = metadata_headers(r.unpacked.root / manifest["root"]
                                           / manifest["dist_info"])
            except OSError:
                continue
            raw = headers.get_all("Requires-Dist") or []
            rp_text = headers.get("Requires-Python")
        requires = pin.metadata.requires_dist
        # a remembered resolve's requirements are read lazily: their texts need no parsing
        texts = requires.texts() if hasattr(requires, "texts") else [str(q) for q in requires]
        lines = []
        # the same lines written alike (83 of workload 1's 140 wheels) need no keys, nor does
        # a line both sides write alike
        same = set() if texts == raw else set(texts).intersection(raw)
        used_by_text = {} if texts == raw else {_text_key(text): i for i, text in
                                                enumerate(texts) if text not in same}
        raw_by_text = {} if texts == raw else {_text_key(line): line for line in raw
                                               if line not in same}
        if used_by_text.keys() != raw_by_text.keys():
            # Some lines differ as text: compare what those mean (PEP 508 allows many
            # spellings of one requirement). Only these are parsed and keyed by meaning
            # (keeps a large install fast); the lines both sides spell alike are keyed only
            # when some meaning is left unmatched (one of them may spell it too).
            used = {_key(requires[i]): requires[i] for k, i in used_by_text.items()
                    if k not in raw_by_text}
            has = {}
            for k, line in raw_by_text.items():
                if k in used_by_text:
                    continue
                try:
                    q = Requirement(line)
                except ValueError:
                    lines.append(f"the wheel declares an invalid Requires-Dist: {line}")
                    continue
                has[_key(q)] = q
            missing, extra = used.keys() - has.keys(), has.keys() - used.keys()
            if missing or extra:
                alike = {_key(requires[i]) for k, i in used_by_text.items() if k in raw_by_text}
                alike.update(_key(requires[i]) for i, text in enumerate(texts) if text in same)
                missing, extra = missing - alike, extra - alike
            lines += [f"the resolve used Requires-Dist: {used[k]}, which the wheel does not "
                      "declare" for k in sorted(missing)]
            lines += [f"the wheel declares Requires-Dist: {has[k]}, which the resolve did not "
                      "see" for k in sorted(extra)]
        used_rp_text = str(pin.metadata.requires_python or "")
        try:  # written as packaging writes the resolve's: equal (a specifier set's text is
            # the same once parsed again), else parsed
            own_rp = rp_text if (rp_text or "") == used_rp_text else (
                SpecifierSet(rp_text) if rp_text else None)
        except InvalidSpecifier:
            own_rp = pin.metadata.requires_python  # ignored with a warning by the resolve too
        if str(own_rp or "") != used_rp_text:
            used_rp = pin.metadata.requires_python or "(none)"
            lines.append(f"the resolve used Requires-Python: {used_rp}, the wheel says "
                         f"{own_rp or '(none)'}")
        if lines and r.built:
            raise MetadataMismatch(
                f"{manifest['wheel']}, built from {pin.file.filename}: its METADATA disagrees "
                f"with {_BUILT.get(pin.metadata.source, 'the sdist metadata the resolve used')}",
                details=lines,
                hint="the sdist's build backend does not keep to its own metadata (report it "
                "to the project); nothing was installed. Pin another version of "
                f"{pin.display_name}, ideally one with a wheel",
            )
        if lines:
            where = _WHERE.get(pin.metadata.source, "the metadata the resolve used")
            raise MetadataMismatch(
                f"{manifest['wheel']}: its own METADATA disagrees with {where}",
                details=lines,
                hint="the index serves metadata that does not match the wheel (report it to "
                "the index's maintainers); nothing was installed. Pin another version, or "
                "clear the cached metadata with --refresh if the index has fixed it",
            )
