"""The loader reads a realistic file tree the way pip's own requirements-file parser does."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from constrain.constraints.sources import load_inputs
from constrain.errors import ConstrainError

SHA = "ab" * 32

FILES = {
    "r.txt": (
        "# top\n"
        f"foo==1.0 \\\n    --hash=sha256:{SHA}\n"
        "\n"
        "bar[x]>=2 ; python_version < '3.9'  # trailing comment\n"
        "-c pins/c.txt\n"
        "-r sub/n.txt\n"
        "baz @ https://h.invalid/baz-1.0.tar.gz#egg=baz\n"
        "-i https://idx.invalid/simple\n"
        "--extra-index-url https://extra.invalid/simple\n"
    ),
    "pins/c.txt": "foo<3\nqux==4.0 ; sys_platform != 'win32'\n",
    "sub/n.txt": "qux${QUX_SPEC}\nZap_Zap\\\n>=1\n",
}


def _tree(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "r.txt"


def _fetch(location: str) -> tuple[str, str]:
    try:
        return location, Path(location).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConstrainError(f"cannot open {location}") from exc


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_same_requirements_constraints_lines_and_hashes_as_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    top = _tree(tmp_path)
    monkeypatch.setenv("QUX_SPEC", ">=3")  # pip reads the process environment
    theirs = [
        (Requirement(p.requirement), p.constraint, int(p.comes_from.rsplit("(line ", 1)[1][:-1]))
        for p in parse_requirements(str(top), session=PipSession())
    ]
    hashes = [p.options["hashes"] for p in parse_requirements(str(top), session=PipSession())
              if p.options.get("hashes")]
    inputs = load_inputs([], [str(top)], fetch=_fetch, environ={"QUX_SPEC": ">=3"})
    ours = [(req, False, o.line) for req, o in inputs.requirements]
    ours += [(req, True, o.line) for req, o in inputs.constraints]

    def key(item: tuple[Requirement, bool, int]) -> tuple[str, bool, int]:
        return (item[0].name, item[1], item[2])

    assert sorted(ours, key=key) == sorted(theirs, key=key)
    assert len(ours) == 7
    assert hashes == [{"sha256": [SHA]}]
    assert dict(inputs.hashes) == {"foo": (f"sha256:{SHA}",)}
    assert inputs.index_url == "https://idx.invalid/simple"
    assert inputs.extra_index_urls == ("https://extra.invalid/simple",)
