"""PEP 658 metadata that disagrees with the wheel's own METADATA is named before linking."""

from __future__ import annotations

import dataclasses

import pytest

from tests.faults.installing import install, installed, plain_venv
from tests.support.builders import PackageSpec, metadata_text

GAMMA = PackageSpec("gamma", "1.0")


@pytest.mark.parametrize("served, real, expected", [
    (["gamma>=1"], [], "the resolve used Requires-Dist: gamma>=1, which the wheel does not "
     "declare"),
    ([], ["gamma>=1"], "the wheel declares Requires-Dist: gamma>=1, which the resolve did not "
     "see"),
    # version clauses in another order are the same requirement; other clauses are not
    (["gamma>=1,<2"], ["gamma>=1"], "the resolve used Requires-Dist: gamma<2,>=1, which the "
     "wheel does not declare"),
    (["gamma>=1,<2"], ["gamma <3, >=1"], "the wheel declares Requires-Dist: gamma<3,>=1, which "
     "the resolve did not see"),
    # a marker's parentheses group its terms, and its strings are compared as written
    (['gamma; python_version >= "3" and (os_name == "nt" or os_name == "posix")'],
     ['gamma; (python_version >= "3" and os_name == "nt") or os_name == "posix"'],
     'the resolve used Requires-Dist: gamma; python_version >= "3" and (os_name == "nt" or '
     'os_name == "posix"), which the wheel does not declare'),
    (['gamma; platform_system == "Windows"'], ['gamma; platform_system == "windows"'],
     'the wheel declares Requires-Dist: gamma; platform_system == "windows", which the '
     "resolve did not see"),
])
def test_lying_pep658_metadata_is_refused(make_index, tmp_path, capsys, served, real, expected):
    server = make_index([GAMMA, PackageSpec("beta", "1.0", requires_dist=real)], pep658=True)
    (record,) = server.records("beta")
    lie = metadata_text("beta", "1.0", requires_dist=served).encode()
    server.repository["beta"] = [dataclasses.replace(record, metadata=lie)]
    venv = tmp_path / "V"
    plain_venv(venv)
    code, _, err = install(capsys, "beta", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 1, err
    assert ("beta-1.0-py3-none-any.whl: its own METADATA disagrees with the index's metadata "
            "file (PEP 658)") in err
    assert expected in err
    assert "beta" not in installed(venv) and "gamma" not in installed(venv)
    assert any(r.path.endswith("beta-1.0-py3-none-any.whl.metadata") for r in server.requests)



def test_metadata_spelled_differently_but_agreeing_installs(make_index, tmp_path, capsys):
    # the same requirements as PEP 508 allows them to be written (spacing, parentheses,
    # quotes, an extra's spelling, a duplicate): no mismatch
    text = ("Metadata-Version: 2.1\nName: beta\nVersion: 1.0\nProvides-Extra: fast-io\n"
            "Requires-Dist: gamma (>=1.0)\n"
            "Requires-Dist: gamma >=1.0 ; extra == 'fast_io'\n"
            "Requires-Dist: gamma>=1.0; extra == \"fast-io\"\n"
            "Requires-Dist: gamma<3,>=1.0 ; python_version >= '3'\n"
            "Requires-Dist: gamma >=1.0, !=1.5, <4 ; python_version >= '3.1'\n\n")
    server = make_index([GAMMA, PackageSpec("beta", "1.0", wheel_options={
        "metadata_override": text})], pep658=True)
    venv = plain_venv(tmp_path / "V")
    code, _, err = install(capsys, "beta", "--index-url", server.index_url, "--venv", str(venv))
    assert code == 0, err
    assert installed(venv) == {"beta": "1.0", "gamma": "1.0"}


@pytest.mark.parametrize("served, real, refused", [
    (">=3.8", ">=3.9", True),
    (">=3.8", ">= 3.8", False),  # spelt otherwise, the same
    ("<4,>=3.8", ">=3.8, <4", False),
    (None, ">=3.8", True),
])
def test_requires_python_the_wheel_does_not_share_is_refused(make_index, tmp_path, capsys,
                                                             served, real, refused):
    server = make_index([PackageSpec("beta", "1.0", requires_python=real)], pep658=True)
    (record,) = server.records("beta")
    lie = metadata_text("beta", "1.0", requires_python=served).encode()
    server.repository["beta"] = [dataclasses.replace(record, metadata=lie)]
    venv = plain_venv(tmp_path / "V")
    code, _, err = install(capsys, "beta", "--index-url", server.index_url, "--venv", str(venv))
    if refused:
        assert code == 1, err
        assert (f"the resolve used Requires-Python: {served or '(none)'}, the wheel says "
                f"{real.replace(' ', '')}") in err
        assert "beta" not in installed(venv)
    else:
        assert code == 0, err
        assert installed(venv) == {"beta": "1.0"}
