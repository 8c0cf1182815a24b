"""The metadata check before linking (install/trust.py): lines spelt alike need no parsing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from constrain.install import trust
from constrain.install.trust import MetadataMismatch, check_metadata
from constrain.models import CoreMetadata, DistFile, Pin


def _ready(used: list[str], raw: list[str]) -> SimpleNamespace:
    """One wheel about to be linked: the resolve read ``used``, its METADATA says ``raw``."""
    f = DistFile(project="sqlalchemy", filename="sqlalchemy-2.0.0-py3-none-any.whl",
                 url="https://x.invalid/f", version=Version("2.0.0"), kind="wheel")
    md = CoreMetadata(name="SQLAlchemy", version=Version("2.0.0"),
                      requires_dist=tuple(map(Requirement, used)), source="pep658")
    pin = Pin(name="sqlalchemy", display_name="SQLAlchemy",  # type: ignore[arg-type]
              version=Version("2.0.0"), files=(f,), metadata=md)
    manifest = {"metadata": {"requires_dist": raw, "requires_python": None},
                "wheel": f.filename}
    return SimpleNamespace(pin=pin, built=False, unpacked=SimpleNamespace(manifest=manifest))


# SQLAlchemy's METADATA spells its extras as written in setup.cfg; the resolve's lines are
# packaging's, which writes an extra's name normalized (PEP 685)
WHEEL = [
    "typing-extensions>=4.2.0",
    'greenlet!=0.4.17; python_version < "3.14" and (platform_machine == "aarch64" or '
    '(platform_machine == "ppc64le" or platform_machine == "x86_64"))',
    'psycopg2-binary ; extra == "postgresql_psycopg2binary"',
    "asyncpg; extra == 'postgresql_asyncpg'",
    'greenlet!=0.4.17 ; extra == "postgresql_asyncpg"',
    'mysqlclient>=1.4.0,<2 ; extra == "mysql"',
    'oracledb>=1.0.1 ; "oracle_oracledb" == extra',
    "Typing_Extensions[Some_Extra] (>=4) ; extra == 'Mypy.Plugin'",
    # SQLAlchemy 1.4's: both quotes, one comparison in parentheses
    "aiomysql >=0.2.0 ; (python_version >= \"3\") and extra == 'aiomysql'",
    "mariadb !=1.1.2,>=1.0.1 ; (python_version >= \"3\") and extra == 'mariadb_connector'",
]


def test_lines_spelt_otherwise_but_equal_are_not_parsed(monkeypatch):
    """PEP 685 compares extras normalized: a wheel's ``extra == "postgresql_psycopg2binary"``
    and the resolve's ``extra == "postgresql-psycopg2binary"`` are the same line, found so
    by their texts, without parsing either (each parse is packaging's whole grammar)."""
    used = [str(Requirement(line)) for line in WHEEL]
    assert used != WHEEL  # written otherwise

    def parse(text: str) -> Requirement:
        raise AssertionError(f"parsed: {text}")

    monkeypatch.setattr(trust, "Requirement", parse)
    check_metadata([_ready(used, WHEEL)])


@pytest.mark.parametrize("used, raw", [
    (['x; extra == "a-b"'], ['x; extra == "a-c"']),
    (['x[a-b]'], ['x[a-c]']),
    (['x; python_version < "3" and (extra == "a" or extra == "b")'],
     ['x; (python_version < "3" and extra == "a") or extra == "b"']),
    (['x; platform_system == "Windows"'], ['x; platform_system == "windows"']),
    (['x; os_name == "a_b"'], ['x; os_name == "a-b"']),  # only an extra's name is normalized
    (['x@ https://h.invalid/A.whl'], ['x@ https://h.invalid/a.whl']),
    (['x; platform_release == "a b"'], ['x; platform_release == "ab"']),  # spaces in a string
    (["x; platform_release == 'a\"(b == \"c\")'"], ["x; platform_release == 'a\"b == \"c\"'"]),
])
def test_lines_that_differ_in_meaning_are_a_mismatch(used, raw):
    with pytest.raises(MetadataMismatch):
        check_metadata([_ready([str(Requirement(u)) for u in used], raw)])


@pytest.mark.parametrize("dynamic", [False, True], ids=["static PKG-INFO", "prepared"])
def test_a_built_wheel_that_breaks_its_sdists_metadata_is_not_linked(
        make_index, tmp_path, capsys, monkeypatch, dynamic):
    # Before: the wheel was linked, and the post-install check then found the environment
    # inconsistent (exit 1, the venv changed) and blamed "distributions the set does not cover".
    from constrain.cli import main
    from tests.support.builders import PackageSpec

    options = {"dynamic": ["Requires-Dist"]} if dynamic else {}
    server = make_index([PackageSpec("delta", "1.0", kinds=("sdist",), sdist_options=options),
                         PackageSpec("beta", "1.0")])
    monkeypatch.setenv("INLINE_BACKEND_WHEEL_ALSO_REQUIRES", "beta")
    venv = tmp_path / "V"
    assert main(["install", "--without-pip", "--venv", str(venv), "beta",
                 "--index-url", server.index_url]) == 0  # an existing environment
    capsys.readouterr()
    code = main(["install", "delta", "--venv", str(venv), "--index-url", server.index_url,
                 "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert ("delta-1.0-py3-none-any.whl, built from delta-1.0.tar.gz: its METADATA disagrees "
            f"with {'the metadata its backend prepared' if dynamic else 'its static PKG-INFO'}"
            in err), err
    assert "the wheel declares Requires-Dist: beta, which the resolve did not see" in err
    assert not list(venv.glob("lib/python*/site-packages/delta*"))  # nothing linked
