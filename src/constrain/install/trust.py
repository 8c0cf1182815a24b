"""Before linking, what the install took on trust is checked: the metadata the resolve used.

The resolve reads a wheel's dependencies from wherever is cheapest -- a PEP 658 metadata file,
a range of the wheel, a cache entry. The wheel that is then installed carries its own METADATA,
and if the two disagree the environment ends up with dependencies nobody resolved (or without
ones the resolve thought were there). :func:`check_metadata` compares them for every wheel about
to be linked and names each difference; nothing is linked when one is found.
"""

from __future__ import annotations

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
    """A requirement's text without the differences PEP 508 allows in spacing, quoting, case
    and the order of its extras and of its version clauses (``foo (>=1,<2) ; extra == 'x'``
    and ``foo<2,>=1; extra == "x"`` agree: packaging writes a requirement's clauses sorted,
    most METADATA files do not); lines whose keys differ are parsed and compared by meaning."""
    key = "".join(line.split()).replace("'", '"').replace("(", "").replace(")", "").lower()
    head, sep, marker = key.partition(";")
    if "," in head and "@" not in head:  # several extras or clauses (a URL is left as it is)
        found = _HEAD.fullmatch(head)
        if found is not None:
            name, extras, clauses = found.groups()
            head = name + ("[" + ",".join(sorted(extras.split(","))) + "]"
                           if extras is not None else "") + ",".join(sorted(clauses.split(",")))
    return head + sep + marker


#: a requirement's name, its extras (between brackets) and the rest: its version clauses
_HEAD = re.compile(r"([a-z0-9._-]+)(?:\[([^\]]*)\])?([^\[\]]*)")


_WHERE = {"pep658": "the index's metadata file (PEP 658)", "range": "the metadata read from the "
          "index", "wheel": "the metadata read from the wheel", "installed": "the installed "
          "metadata"}


def check_metadata(ready) -> None:
    """Raise :class:`MetadataMismatch` naming, for the first wheel in ``ready`` (``fetch.Ready``
    items) whose METADATA disagrees with its pin's metadata, each Requires-Dist only one side
    has and a differing Requires-Python. Wheels built here from sdists are not compared."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from .headers import metadata_headers

    for r in ready:
        pin = r.pin
        if pin is None or r.built or not pin.file.is_wheel or pin.metadata.source == "built":
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
        # the same lines written alike (83 of workload 1's 140 wheels) need no keys
        used_by_text = {} if texts == raw else {_text_key(text): i for i, text in enumerate(texts)}
        raw_by_text = {} if texts == raw else {_text_key(line): line for line in raw}
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
        if lines:
            where = _WHERE.get(pin.metadata.source, "the metadata the resolve used")
            raise MetadataMismatch(
                f"{manifest['wheel']}: its own METADATA disagrees with {where}",
                details=lines,
                hint="the index serves metadata that does not match the wheel (report it to "
                "the index's maintainers); nothing was installed. Pin another version, or "
                "clear the cached metadata with --refresh if the index has fixed it",
            )
