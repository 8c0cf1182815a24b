"""Install sets built by hand for the output tests: real wheels on disk, or synthetic files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from constrain.models import (
    COMMAND_LINE,
    CoreMetadata,
    DistFile,
    InstallSet,
    Origin,
    Pin,
)
from constrain.target import TargetEnvironment
from tests.support.builders import make_wheel

PRIVATE_INDEX = "https://deploy:s3cr3t-token@pkgs.internal.test/simple/"
LINUX = TargetEnvironment(python_version=(3, 11, 0), platforms=("manylinux_2_28_x86_64",))


def wheel_file(path: Path, *, index: str = "", upload_time: datetime | None = None) -> DistFile:
    """A DistFile for a wheel on disk: file:// URL, real sha256 and size."""
    name, version, _build, tags = parse_wheel_filename(path.name)
    data = path.read_bytes()
    return DistFile(
        project=name,
        filename=path.name,
        url=path.as_uri(),
        version=version,
        kind="wheel",
        hashes=(("sha256", hashlib.sha256(data).hexdigest()),),
        size=len(data),
        tags=tags,
        upload_time=upload_time,
        index=index or str(path.parent),
    )


def fake_file(
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    sha256: str | None = None,
    index: str = PRIVATE_INDEX,
    sdist: bool = False,
    upload_time: datetime | None = datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
) -> DistFile:
    """A DistFile as an index would list it (nothing on disk), under ``index``."""
    dist = canonicalize_name(name).replace("-", "_")
    filename = f"{dist}-{version}.tar.gz" if sdist else f"{dist}-{version}-{tag}.whl"
    digest = sha256 if sha256 is not None else hashlib.sha256(filename.encode()).hexdigest()
    tags = frozenset() if sdist else parse_wheel_filename(filename)[3]
    base = index.replace("/simple/", "/files/")
    return DistFile(
        project=canonicalize_name(name),
        filename=filename,
        url=f"{base}{filename}#sha256={digest}",
        version=Version(version),
        kind="sdist" if sdist else "wheel",
        hashes=(("sha256", digest),) if digest else (),
        size=1234,
        tags=tags,
        upload_time=upload_time,
        index=index,
    )


def make_pin(
    display: str,
    version: str,
    files: Iterable[DistFile],
    *,
    requires_dist: Iterable[str] = (),
    requested: bool = False,
    required_by: Iterable[str] = (),
    constraint_origins: Iterable[Origin] = (),
    source: str = "pep658",
    extras: Iterable[str] = (),
    requires_python: str | None = None,
) -> Pin:
    from packaging.specifiers import SpecifierSet

    return Pin(
        name=canonicalize_name(display),
        display_name=display,
        version=Version(version),
        files=tuple(files),
        metadata=CoreMetadata(
            name=display,
            version=Version(version),
            requires_dist=tuple(Requirement(r) for r in requires_dist),
            requires_python=SpecifierSet(requires_python) if requires_python else None,
            source=source,  # type: ignore[arg-type]
        ),
        extras=frozenset(canonicalize_name(e) for e in extras),
        required_by=tuple(required_by),
        constraint_origins=tuple(constraint_origins),
        requested=requested,
    )


@pytest.fixture
def synthetic_set() -> InstallSet:
    """Three pins from a private index with credentials, listed out of order, one host-built."""
    cfile = Origin("constraints-3.11.txt", 12)
    pins = (
        make_pin(
            "SQLAlchemy",
            "1.4.52",
            [
                fake_file("SQLAlchemy", "1.4.52", tag="cp311-cp311-manylinux_2_17_x86_64"),
                fake_file("SQLAlchemy", "1.4.52", sdist=True),
            ],
            requires_dist=['greenlet!=0.4.17; platform_machine == "x86_64"'],
            required_by=("apache-airflow==2.10.5",),
            constraint_origins=(cfile,),
            source="built",
        ),
        make_pin(
            "apache-airflow",
            "2.10.5",
            [fake_file("apache-airflow", "2.10.5")],
            requires_dist=["SQLAlchemy<2", "greenlet"],
            requested=True,
            required_by=("command line",),
            extras=("postgres",),
            requires_python=">=3.9",
        ),
        make_pin(
            "greenlet",
            "3.0.3",
            [fake_file("greenlet", "3.0.3", tag="cp311-cp311-manylinux_2_24_x86_64")],
            required_by=("apache-airflow==2.10.5", "sqlalchemy==1.4.52"),
        ),
    )
    return InstallSet(
        target=LINUX,
        pins=pins,
        requirements=((Requirement("apache-airflow[postgres]==2.10.5"), COMMAND_LINE),),
        constraints=(
            (Requirement("SQLAlchemy==1.4.52"), cfile),
            (Requirement("greenlet==3.0.3"), Origin("constraints-3.11.txt", 30)),
        ),
        exclude_newer=datetime(2024, 5, 1, tzinfo=UTC),
        command="constrain resolve 'apache-airflow[postgres]==2.10.5' -c constraints-3.11.txt",
    )


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A find-links directory: Alpha 1.0/2.0 and beta 1.0/2.0, Alpha needs beta.

    Left to themselves pip and uv pick the 2.0s; our install set pins the 1.0s, so a tool that
    installs 1.0 is reading our output.
    """
    directory = tmp_path_factory.mktemp("wheelhouse")
    make_wheel(directory, "Alpha", "1.0", requires_dist=["beta>=1"])
    make_wheel(directory, "Alpha", "2.0", requires_dist=["beta>=2"])
    make_wheel(directory, "beta", "1.0")
    make_wheel(directory, "beta", "2.0")
    return directory


@pytest.fixture
def real_set(wheelhouse: Path) -> InstallSet:
    """The install set Alpha==1.0, beta==1.0 for this host, files in ``wheelhouse``."""
    uploaded = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)  # uv must parse upload-time
    alpha = wheel_file(wheelhouse / "alpha-1.0-py3-none-any.whl", upload_time=uploaded)
    beta = wheel_file(wheelhouse / "beta-1.0-py3-none-any.whl", upload_time=uploaded)
    return InstallSet(
        target=TargetEnvironment.current(),
        pins=(
            make_pin("Alpha", "1.0", [alpha], requires_dist=["beta>=1"], requested=True,
                     required_by=("command line",)),
            make_pin("beta", "1.0", [beta], required_by=("alpha==1.0",)),
        ),
        requirements=((Requirement("Alpha"), COMMAND_LINE),),
        command="constrain resolve Alpha",
    )
