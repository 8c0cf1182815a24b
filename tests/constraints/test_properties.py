"""Property tests: requirements survive a trip through a file; no input crashes the parser."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from constrain.constraints.parser import parse_lines
from constrain.constraints.sources import load_inputs
from constrain.errors import ConstrainError, InputError

NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,10}[A-Za-z0-9])?", fullmatch=True)
VERSIONS = st.builds(
    lambda epoch, release, pre, post, dev: f"{epoch}{release}{pre}{post}{dev}",
    st.sampled_from(["", "1!"]),
    st.lists(st.integers(0, 30), min_size=1, max_size=4).map(lambda r: ".".join(map(str, r))),
    st.sampled_from(["", "a1", "b2", "rc3"]),
    st.sampled_from(["", ".post1"]),
    st.sampled_from(["", ".dev0"]),
)
OPERATORS = st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~=", "==="])


@st.composite
def specifiers(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        op, version = draw(OPERATORS), draw(VERSIONS)
        if op in ("==", "!=") and draw(st.booleans()) and all(c in "0123456789." for c in version):
            version += ".*"
        parts.append(op + version)
    text = ",".join(parts)
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        assume(False)
    return text


MARKER_ATOMS = st.one_of(
    st.builds(
        lambda op, v: f'python_version {op} "{v}"',
        st.sampled_from(["<", ">=", "==", "!="]),
        st.sampled_from(["3.8", "3.9", "3.12"]),
    ),
    st.builds(
        lambda op, v: f"sys_platform {op} '{v}'",
        st.sampled_from(["==", "!="]),
        st.sampled_from(["linux", "win32", "darwin"]),
    ),
    st.builds(lambda v: f'platform_machine in "{v}"', st.sampled_from(["x86_64 aarch64", "arm64"])),
    st.builds(lambda v: f'extra == "{v}"', NAMES),
    st.just('implementation_name == "cpython"'),
    st.just('platform_release == "5.15 -x"'),
)


@st.composite
def markers(draw) -> str | None:
    atoms = draw(st.lists(MARKER_ATOMS, min_size=0, max_size=3))
    if not atoms:
        return None
    text = atoms[0]
    for atom in atoms[1:]:
        text = f"({text}) {draw(st.sampled_from(['and', 'or']))} {atom}"
    try:
        Marker(text)
    except InvalidMarker:
        assume(False)
    return text


URLS = st.builds(
    lambda path, frag: f"https://files.invalid/{path}/pkg-1.0.tar.gz{frag}",
    st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9_.~%-]{1,8}){0,2}", fullmatch=True),
    st.sampled_from(["", "#sha256=" + "a" * 64, "#egg=pkg"]),
)


@st.composite
def requirements(draw, *, extras_allowed: bool = True) -> Requirement:
    name = draw(NAMES)
    extras = draw(st.lists(NAMES, max_size=3)) if extras_allowed else []
    text = name + (f"[{','.join(extras)}]" if extras else "")
    if draw(st.booleans()):
        text += f" @ {draw(URLS)}"
    else:
        text += draw(specifiers())
    marker = draw(markers())
    if marker:
        text += f" ; {marker}"
    try:
        return Requirement(text)
    except InvalidRequirement:
        assume(False)
        raise


def same(a: Requirement, b: Requirement) -> None:
    assert b.name == a.name
    assert b.specifier == a.specifier
    assert b.extras == a.extras
    assert b.url == a.url
    assert str(b.marker) == str(a.marker)
    assert b == a


@settings(max_examples=150)
@given(req=requirements(), comment=st.booleans(), hashed=st.booleans(), lead=st.integers(0, 3))
def test_any_requirement_rendered_to_a_line_parses_back_equal(req, comment, hashed, lead) -> None:
    line = " " * lead + str(req)
    if hashed:
        line += f" --hash=sha256:{'0' * 64}"
    if comment:
        line += "  # a comment"
    parsed = parse_lines(f"# header\n{line}\n", "r.txt", kind="requirements")
    assert parsed.problems == ()
    (entry,) = parsed.requirements
    same(req, entry.requirement)
    assert entry.origin.line == 2


@settings(max_examples=75)
@given(req=requirements(extras_allowed=False))
def test_any_constraint_without_extras_parses_back_equal(req) -> None:
    parsed = parse_lines(str(req) + "\n", "c.txt", kind="constraints")
    assert parsed.problems == ()
    same(req, parsed.requirements[0].requirement)


@settings(max_examples=75)
@given(req=requirements(), data=st.data())
def test_continuations_do_not_change_the_requirement(req, data) -> None:
    """pip joins continued lines verbatim, so a backslash-newline anywhere is invisible
    (except before a ``#``, which would make the next physical line a comment)."""
    text = str(req)
    assume(len(text) > 1)
    at = data.draw(st.integers(1, len(text) - 1))
    assume(not text[at:].lstrip().startswith("#"))
    parsed = parse_lines(f"x\n{text[:at]}\\\n{text[at:]}\n", "r.txt")
    assert parsed.problems == ()
    same(req, parsed.requirements[1].requirement)
    assert parsed.requirements[1].origin.line == 2


FRAGMENTS = st.sampled_from(
    ["-r", "-c", "-e", "-i", "--hash", "=", "sha256:", "abc", "foo", "Bar", "[", "]", "==", ">=",
     "1.0", "@", "https://h.invalid/x", ";", 'python_version < "3"', "'", '"', "#", "\\",
     "${X}", "${Y}", "$", " ", "  ", "\t", "\n", ",", "--pre", "--only-binary", ":all:", "~",
     "-", "--", "--hash=sha256:" + "f" * 64, "\ufeff", "\r\n"]
)
GARBAGE = st.one_of(st.text(max_size=80), st.lists(FRAGMENTS, max_size=25).map("".join))


def check_problems(text: str, problems) -> None:
    for p in problems:
        assert isinstance(p.message, str) and p.message
        if p.line is not None:
            assert 1 <= p.line <= max(1, len(text.splitlines()))
        if p.column is not None:
            assert p.text is not None and 0 <= p.column <= len(p.text)
        p.render()


@settings(max_examples=200)
@given(text=GARBAGE, kind=st.sampled_from(["requirements", "constraints"]))
def test_arbitrary_text_only_ever_gives_input_errors(text, kind) -> None:
    parsed = parse_lines(text, "f.txt", kind=kind, environ={"X": "a b", "Y": "-r"})
    check_problems(text, parsed.problems)
    try:
        parsed.raise_for_problems()
    except InputError as err:
        err.render()


@settings(max_examples=100)
@given(files=st.lists(GARBAGE, min_size=1, max_size=3), args=st.lists(GARBAGE, max_size=2))
def test_loading_arbitrary_files_only_ever_gives_input_errors(files, args) -> None:
    contents = {f"f{i}.txt": text for i, text in enumerate(files)}
    contents["f0.txt"] += "\n-r f1.txt\n-c f2.txt\n-r f0.txt\n"

    def fetch(location: str) -> tuple[str, str]:
        if location not in contents:
            raise ConstrainError(f"no such file {location}")
        return location, contents[location]

    try:
        inputs = load_inputs(args, ["f0.txt"], fetch=fetch)
    except InputError as err:
        err.render()
    else:
        assert inputs.sources[0] == "f0.txt"
