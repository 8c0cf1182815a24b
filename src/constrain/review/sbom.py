"""A CycloneDX 1.6 JSON SBOM of a wheelhouse, written through ``cyclonedx-python-lib``.

One component per file (``bom-ref`` = the file name): its project and version, a
``pkg:pypi`` purl with the ``file_name`` qualifier (wheels of one release differ per
platform), its sha256, its licence (an SPDX expression, or the declared words as a named
licence when no expression is known) and where it came from. The dependency graph is the
resolve's: a file depends on the files its requirements were resolved to for the same target,
an sdist on its build tools. The wheelhouse itself is ``metadata.component`` and depends on the
files of the top-level requirements. Serial number and timestamp derive from the content and
the manifest's ``created``, so the same wheelhouse gives the same bytes.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

SBOM_NAME = "sbom.cdx.json"


@dataclass(frozen=True)
class SbomFile:
    """What the SBOM says of one file of the wheelhouse."""

    filename: str
    name: str
    version: str
    sha256: str
    license: str | None = None
    license_declared: str | None = None
    url: str = ""
    kind: str = "wheel"


def purl_of(f: SbomFile) -> PackageURL:
    """``pkg:pypi/<normalised name>@<version>?file_name=<file>``."""
    from packaging.utils import canonicalize_name

    return PackageURL(type="pypi", name=canonicalize_name(f.name), version=f.version,
                      qualifiers={"file_name": f.filename})


def _licences(f: SbomFile) -> list:
    if f.license:
        return [LicenseExpression(f.license)]
    if f.license_declared:  # words, not SPDX: kept as a named licence for the reader
        return [DisjunctiveLicense(name=f.license_declared)]
    return []


def sbom_text(files: Iterable[SbomFile], depends: Mapping[str, Iterable[str]],
              roots: Iterable[str], *, name: str, version: str,
              created: datetime | None) -> str:
    """The SBOM JSON of ``files``. ``depends`` maps a file name to the file names it depends
    on; ``roots`` are the files the top-level requirements resolved to; ``name`` names the
    wheelhouse component (its requirements) and ``version`` is constrain's."""
    files = sorted(files, key=lambda f: f.filename)
    components = {
        f.filename: Component(
            name=f.name, version=f.version, type=ComponentType.LIBRARY, bom_ref=f.filename,
            purl=purl_of(f),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=f.sha256)],
            licenses=_licences(f),
            external_references=[ExternalReference(type=ExternalReferenceType.DISTRIBUTION,
                                                   url=XsUri(f.url))] if f.url else [],
            properties=[Property(name="constrain:kind", value=f.kind)],
        )
        for f in files
    }
    digest = hashlib.sha256("\n".join(f"{f.filename} {f.sha256}" for f in files).encode())
    root = Component(name=name, type=ComponentType.APPLICATION, bom_ref="wheelhouse",
                     version=digest.hexdigest()[:12])
    bom = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "constrain-wheelhouse:" + digest.hexdigest()),
        metadata=BomMetaData(component=root, timestamp=created,
                             properties=[Property(name="constrain:version", value=version)]),
        components=components.values(),
    )
    bom.register_dependency(root, [components[r] for r in sorted(set(roots)) if r in components])
    for filename, comp in components.items():
        bom.register_dependency(comp, [components[d] for d in sorted(set(depends.get(filename, ())))
                                       if d in components and d != filename])
    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def validation_errors(text: str) -> str | None:
    """``None`` when ``text`` validates against the CycloneDX 1.6 JSON schema the library
    ships (offline), else the validator's message."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    return None if error is None else str(error)
