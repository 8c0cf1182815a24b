"""Loading inputs: nested files and URLs, cycles, options across files, all errors at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from constrain.constraints.model import ALL
from constrain.constraints.sources import load_inputs, resolve_location
from constrain.errors import ConstrainError, InputError, NetworkError
from constrain.models import COMMAND_LINE

SHA = "d" * 64


class FakeFetch:
    """A ``fetch`` over an in-memory mapping; records what was asked for."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.asked: list[str] = []

    def __call__(self, location: str) -> tuple[str, str]:
        self.asked.append(location)
        if location not in self.files:
            if location.startswith("https://"):
                raise NetworkError(f"HTTP 404 for {location}", url=location)
            raise ConstrainError(f"no such file: {location}")
        return location, self.files[location]


def names(pairs) -> list[str]:
    return [str(req) for req, _ in pairs]


def where(pairs) -> list[str]:
    return [str(origin) for _, origin in pairs]


def test_command_line_requirements_have_the_command_line_origin() -> None:
    inputs = load_inputs(["foo>=1", "bar[x]"], fetch=FakeFetch({}))
    assert names(inputs.requirements) == ["foo>=1", "bar[x]"]
    assert all(origin == COMMAND_LINE for _, origin in inputs.requirements)
    assert inputs.sources == ()


def test_nested_requirement_and_constraint_files_relative_to_the_includer() -> None:
    fetch = FakeFetch(
        {
            "proj/requirements.txt": "foo\n-r sub/more.txt\n-c constraints.txt\nbar\n",
            "proj/sub/more.txt": "baz>=2\n-c ../pins/extra.txt\n",
            "proj/constraints.txt": "foo==1.0\n",
            "proj/pins/extra.txt": "baz==2.1\n",
        }
    )
    inputs = load_inputs([], ["proj/requirements.txt"], fetch=fetch)
    assert names(inputs.requirements) == ["foo", "baz>=2", "bar"]
    assert where(inputs.requirements) == [
        "proj/requirements.txt:1",
        "proj/sub/more.txt:1",
        "proj/requirements.txt:4",
    ]
    assert names(inputs.constraints) == ["baz==2.1", "foo==1.0"]
    assert where(inputs.constraints) == ["proj/pins/extra.txt:1", "proj/constraints.txt:1"]
    assert inputs.sources == (
        "proj/requirements.txt",
        "proj/sub/more.txt",
        "proj/pins/extra.txt",
        "proj/constraints.txt",
    )


def test_r_inside_a_constraints_file_yields_constraints() -> None:
    fetch = FakeFetch({"c.txt": "a==1\n-r more.txt\n", "more.txt": "b==2\n"})
    inputs = load_inputs(["x"], [], ["c.txt"], fetch=fetch)
    assert names(inputs.requirements) == ["x"]
    assert names(inputs.constraints) == ["a==1", "b==2"]


def test_includes_inside_a_constraints_file_are_checked_as_constraints() -> None:
    fetch = FakeFetch({"c.txt": "-r more.txt\n", "more.txt": "b[extra]==2\n"})
    with pytest.raises(InputError) as info:
        load_inputs([], [], ["c.txt"], fetch=fetch)
    (loc,) = info.value.locations
    assert (loc.source, loc.line, loc.column) == ("more.txt", 1, 1)
    assert "extras" in (loc.message or "")


def test_url_includes_are_joined_against_the_including_url() -> None:
    base = "https://files.invalid/constraints/main"
    fetch = FakeFetch(
        {
            f"{base}/req.txt": "-r ../common/base.txt\n-c pins.txt\nfoo\n",
            "https://files.invalid/constraints/common/base.txt": "bar\n",
            f"{base}/pins.txt": "foo==3\n-c /abs-pins.txt\n",
            "https://files.invalid/abs-pins.txt": "bar==1\n",
        }
    )
    inputs = load_inputs([], [f"{base}/req.txt"], fetch=fetch)
    assert names(inputs.requirements) == ["bar", "foo"]
    assert where(inputs.requirements)[0] == "https://files.invalid/constraints/common/base.txt:1"
    assert names(inputs.constraints) == ["foo==3", "bar==1"]


def test_a_file_including_a_url_fetches_the_url() -> None:
    fetch = FakeFetch({"r.txt": "-c https://h.invalid/c.txt\n", "https://h.invalid/c.txt": "x==1\n"})
    inputs = load_inputs([], ["r.txt"], fetch=fetch)
    assert names(inputs.constraints) == ["x==1"]
    assert inputs.sources == ("r.txt", "https://h.invalid/c.txt")


def test_credentials_in_url_origins_are_redacted_when_shown() -> None:
    url = "https://user:secret@h.invalid/c.txt"
    inputs = load_inputs([], [], [url], fetch=FakeFetch({url: "x==1\n"}))
    assert where(inputs.constraints) == ["https://user:****@h.invalid/c.txt:1"]


def test_credentials_never_reach_error_messages() -> None:
    url = "https://user:secret@h.invalid/c.txt"
    fetch = FakeFetch({url: "-r gone.txt\n-c c.txt\n"})
    with pytest.raises(InputError) as info:
        load_inputs([], [], [url], fetch=fetch)
    rendered = "\n".join(info.value.render())
    assert "secret" not in rendered
    assert "include cycle: https://user:****@h.invalid/c.txt -> " in rendered


def test_include_cycle_is_an_error_naming_the_chain() -> None:
    fetch = FakeFetch({"a.txt": "x\n-r b.txt\n", "b.txt": "y\n-r c.txt\n", "c.txt": "-r a.txt\n"})
    with pytest.raises(InputError) as info:
        load_inputs([], ["a.txt"], fetch=fetch)
    (loc,) = info.value.locations
    assert (loc.source, loc.line, loc.column) == ("c.txt", 1, 3)
    assert loc.message == "include cycle: a.txt -> b.txt -> c.txt -> a.txt"


def test_self_include_is_a_cycle() -> None:
    with pytest.raises(InputError) as info:
        load_inputs([], ["a.txt"], fetch=FakeFetch({"a.txt": "-c a.txt\n"}))
    assert "a.txt -> a.txt" in (info.value.locations[0].message or "")


def test_a_file_included_twice_without_a_cycle_is_read_once() -> None:
    fetch = FakeFetch({"a.txt": "-r b.txt\n-r c.txt\n", "b.txt": "-r c.txt\n", "c.txt": "x\n"})
    inputs = load_inputs([], ["a.txt"], fetch=fetch)
    assert names(inputs.requirements) == ["x"]
    assert inputs.sources == ("a.txt", "b.txt", "c.txt")


def test_bad_lines_in_two_nested_files_and_the_command_line_raise_one_error() -> None:
    fetch = FakeFetch(
        {
            "top.txt": "ok==1\nfoo==\n-r nested.txt\n--nope\n",
            "nested.txt": "fine\nbar[\n-c cons.txt\n",
            "cons.txt": "baz[x]==1\n",
        }
    )
    with pytest.raises(InputError) as info:
        load_inputs(["good", "bad=="], ["top.txt"], fetch=fetch)
    err = info.value
    assert [str(loc) for loc in err.locations] == [
        "command line:2:4",
        "top.txt:2:4",
        "nested.txt:2:5",
        "cons.txt:1:4",
        "top.txt:4:1",
    ]
    assert err.message == "5 problems in command line, top.txt, nested.txt, cons.txt"
    rendered = "\n".join(err.render())
    assert "nested.txt:2:5" in rendered and "bar[" in rendered


def test_unreadable_files_are_reported_with_the_other_problems() -> None:
    fetch = FakeFetch({"top.txt": "x\n-r missing.txt\n-c https://h.invalid/gone.txt\nbad==\n"})
    with pytest.raises(InputError) as info:
        load_inputs([], ["top.txt", "absent.txt"], fetch=fetch)
    locs = info.value.locations
    assert [(loc.source, loc.line) for loc in locs] == [
        ("top.txt", 2),
        ("top.txt", 3),
        ("top.txt", 4),
        ("absent.txt", None),
    ]
    assert locs[0].message == ("no such file: missing.txt (check the -r line; its path is read "
                               "beside the file that has it)")
    assert locs[1].message == ("HTTP 404 for https://h.invalid/gone.txt (check the URL and the "
                               "network, or save the file and give -c its path; a URL read once "
                               "is cached, and that copy is used when it cannot be reached)")
    assert info.value.hint.startswith("fix every line listed")  # bad lines among them


def test_only_unreadable_files_get_a_hint_about_reading_them() -> None:
    with pytest.raises(InputError) as info:
        load_inputs([], [], ["absent.txt"], fetch=FakeFetch({}))
    assert info.value.message == "cannot read absent.txt"
    assert info.value.hint == "check the path given to -c"


def test_environment_variables_expand_in_includes() -> None:
    fetch = FakeFetch({"r.txt": "-c ${PINS}/c.txt\n", "pins/c.txt": "x==1\n"})
    inputs = load_inputs([], ["r.txt"], fetch=fetch, environ={"PINS": "pins"})
    assert names(inputs.constraints) == ["x==1"]


def test_index_options_accumulate_across_files_in_pip_order() -> None:
    fetch = FakeFetch(
        {
            "c.txt": "-i https://first.invalid/simple\n--extra-index-url https://e1.invalid\n",
            "dir/r.txt": (
                "--index-url https://second.invalid/simple\n"
                "--extra-index-url https://e2.invalid\n--extra-index-url https://e1.invalid\n"
                "-f wheels\n-f https://links.invalid/\n--trusted-host e2.invalid\n"
                "--pre\n--prefer-binary\n--no-index\n--require-hashes\n"
            ),
        }
    )
    inputs = load_inputs([], ["dir/r.txt"], ["c.txt"], fetch=fetch)
    assert inputs.index_url == "https://second.invalid/simple"
    assert inputs.extra_index_urls == ("https://e1.invalid", "https://e2.invalid")
    assert inputs.find_links == ("dir/wheels", "https://links.invalid/")
    assert inputs.trusted_hosts == ("e2.invalid",)
    assert inputs.pre and inputs.prefer_binary and inputs.no_index and inputs.require_hashes


def test_defaults_when_no_option_is_given() -> None:
    inputs = load_inputs(["x"], fetch=FakeFetch({}))
    assert inputs.index_url is None
    assert not (inputs.pre or inputs.no_index or inputs.prefer_binary)
    assert inputs.only_binary == inputs.no_binary == frozenset()


@pytest.mark.parametrize(
    "lines, only, no",
    [
        (["--only-binary :all:"], {ALL}, set()),
        (["--no-binary Foo_Bar,baz"], set(), {"foo-bar", "baz"}),
        (["--only-binary :all:", "--no-binary foo"], {ALL}, {"foo"}),
        (["--no-binary foo", "--only-binary :all:"], {ALL}, set()),
        (["--only-binary :all:", "--only-binary :none:"], set(), set()),
        (["--no-binary :all:,:none:,foo"], set(), {"foo"}),
        (["--only-binary foo", "--no-binary foo"], set(), {"foo"}),
    ],
)
def test_binary_format_control_follows_pip(lines, only, no) -> None:
    fetch = FakeFetch({"r.txt": "\n".join(lines) + "\n"})
    inputs = load_inputs([], ["r.txt"], fetch=fetch)
    assert inputs.only_binary == frozenset(only)
    assert inputs.no_binary == frozenset(no)


def test_hashes_gathered_by_canonical_name_from_requirements_and_constraints() -> None:
    other = "e" * 64
    fetch = FakeFetch(
        {
            "r.txt": f"Foo_Bar==1 --hash=sha256:{SHA}\n",
            "c.txt": f"foo-bar==1 --hash=sha256:{other} --hash=sha256:{SHA}\n",
        }
    )
    inputs = load_inputs([], ["r.txt"], ["c.txt"], fetch=fetch)
    assert inputs.hashes == {"foo-bar": (f"sha256:{other}", f"sha256:{SHA}")}


def test_direct_url_constraints_are_kept() -> None:
    url = "https://h.invalid/foo-1.0-py3-none-any.whl"
    inputs = load_inputs([], [], ["c.txt"], fetch=FakeFetch({"c.txt": f"foo @ {url}\n"}))
    assert inputs.constraints[0][0] == Requirement(f"foo @ {url}")


def test_real_files_through_a_path_fetch(tmp_path: Path) -> None:
    """The loader works with a fetch that reads real files and canonicalises paths."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "req.txt").write_text("a\n-r sub/b.txt\n", encoding="utf-8")
    (tmp_path / "sub" / "b.txt").write_text("b\n-c ../c.txt\n", encoding="utf-8")
    (tmp_path / "c.txt").write_text("a==1\n", encoding="utf-8")

    def fetch(location: str) -> tuple[str, str]:
        path = Path(location).resolve()
        try:
            return str(path), path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConstrainError(f"cannot open {path}: {exc.strerror}") from exc

    inputs = load_inputs([], [str(tmp_path / "req.txt")], fetch=fetch)
    assert names(inputs.requirements) == ["a", "b"]
    assert where(inputs.constraints) == [f"{tmp_path / 'c.txt'}:1"]


@pytest.mark.parametrize(
    "parent, child, expected",
    [
        ("a/r.txt", "b.txt", "a/b.txt"),
        ("a/r.txt", "../b.txt", "b.txt"),
        ("r.txt", "b.txt", "b.txt"),
        ("/x/y/r.txt", "/abs/b.txt", "/abs/b.txt"),
        ("/x/r.txt", "file:///b.txt", "file:///b.txt"),
        ("https://h.invalid/a/r.txt", "b.txt", "https://h.invalid/a/b.txt"),
        ("https://h.invalid/a/r.txt", "../b.txt", "https://h.invalid/b.txt"),
        ("https://h.invalid/a/r.txt", "https://o.invalid/c.txt", "https://o.invalid/c.txt"),
    ],
)
def test_resolve_location(parent: str, child: str, expected: str) -> None:
    assert resolve_location(parent, child) == expected
