"""Parsing one pip-format file: good lines, bad lines with their caret columns, options."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement

from constrain.constraints.parser import (
    FileOption,
    Include,
    RequirementLine,
    logical_lines,
    parse_lines,
    parse_requirement_string,
)
from constrain.errors import InputError

SHA = "a" * 64


def one_problem(text: str, kind: str = "requirements", environ=None):
    parsed = parse_lines(text, "req.txt", kind=kind, environ=environ)  # type: ignore[arg-type]
    assert len(parsed.problems) == 1, parsed.problems
    return parsed.problems[0]


# --------------------------------------------------------------------------- good lines
@pytest.mark.parametrize(
    "line, expected",
    [
        ("foo", "foo"),
        ("Foo_Bar >= 1.0, < 2", "foo-bar<2,>=1.0"),
        ("foo[a,b]==1.0", "foo[a,b]==1.0"),
        ('foo==1.0; python_version < "3.9"', 'foo==1.0; python_version < "3.9"'),
        ("foo @ https://example.invalid/foo-1.0.tar.gz#egg=foo",
         "foo @ https://example.invalid/foo-1.0.tar.gz#egg=foo"),
        ("foo==1.0 # pinned for reasons", "foo==1.0"),
        ("   foo==1.0   ", "foo==1.0"),
        ('foo; platform_release == "a -b"', 'foo; platform_release == "a -b"'),
    ],
)
def test_requirement_lines_parse_to_packaging_requirements(line: str, expected: str) -> None:
    parsed = parse_lines(line + "\n", "req.txt", kind="requirements")
    assert parsed.problems == ()
    (entry,) = parsed.entries
    assert isinstance(entry, RequirementLine)
    assert entry.requirement == Requirement(expected)
    assert (entry.origin.source, entry.origin.line) == ("req.txt", 1)


def test_comments_and_blank_lines_are_skipped_and_line_numbers_kept() -> None:
    text = "# header\n\n   # indented comment\nfoo==1\n\nbar  # trailing\n"
    parsed = parse_lines(text, "r.txt", kind="requirements")
    assert [(e.requirement.name, e.origin.line) for e in parsed.requirements] == [
        ("foo", 4),
        ("bar", 6),
    ]


def test_hash_in_a_url_fragment_is_not_a_comment() -> None:
    parsed = parse_lines("foo @ https://h.invalid/f.whl#sha256=abc\n", "r.txt")
    assert parsed.requirements[0].requirement.url == "https://h.invalid/f.whl#sha256=abc"


def test_continuation_lines_join_and_keep_the_first_line_number() -> None:
    text = f"a==1\nfoo==1.0 \\\n    --hash=sha256:{SHA} \\\n    --hash=sha256:{'b' * 64}\nbar\n"
    parsed = parse_lines(text, "r.txt")
    assert parsed.problems == ()
    foo, bar = parsed.requirements[1:]
    assert foo.origin.line == 2
    assert foo.hashes == (f"sha256:{SHA}", f"sha256:{'b' * 64}")
    assert bar.origin.line == 5


def test_a_bad_continued_line_is_reported_at_its_first_line() -> None:
    loc = one_problem("ok\nfoo \\\n  ==\n")
    assert loc.line == 2
    assert loc.text is not None and loc.text.startswith("foo ")


def test_comment_line_ends_a_continuation_like_pip() -> None:
    assert logical_lines("foo\\\n# c\nbar\n") == [(1, "foo # c"), (3, "bar")]


def test_hashes_are_collected_and_lowercased() -> None:
    parsed = parse_lines(f"foo==1 --hash=sha256:{SHA.upper()} --hash sha256:{'c' * 64}\n", "r")
    assert parsed.requirements[0].hashes == (f"sha256:{SHA}", f"sha256:{'c' * 64}")


def test_file_options_are_recorded_in_order() -> None:
    text = (
        "-i https://idx.invalid/simple\n"
        "--extra-index-url=https://extra.invalid/simple\n"
        "-f ./wheels\n--pre\n--only-binary :all:\n--no-binary=foo\n--prefer-binary\n"
        "--trusted-host idx.invalid\n--no-index\n--require-hashes\n--use-feature=truststore\n"
    )
    parsed = parse_lines(text, "r.txt")
    assert parsed.problems == ()
    assert [(o.name, o.value) for o in parsed.options] == [
        ("index-url", "https://idx.invalid/simple"),
        ("extra-index-url", "https://extra.invalid/simple"),
        ("find-links", "./wheels"),
        ("pre", None),
        ("only-binary", ":all:"),
        ("no-binary", "foo"),
        ("prefer-binary", None),
        ("trusted-host", "idx.invalid"),
        ("no-index", None),
        ("require-hashes", None),
    ]
    assert all(isinstance(o, FileOption) for o in parsed.entries)


@pytest.mark.parametrize("line", ["-r other.txt", "--requirement other.txt",
                                  "--requirement=other.txt", "-rother.txt"])
def test_requirement_includes(line: str) -> None:
    (inc,) = parse_lines(line, "r.txt").includes
    assert (inc.kind, inc.location, inc.origin.line) == ("requirements", "other.txt", 1)
    assert line[inc.column:].startswith("other.txt")


@pytest.mark.parametrize("line", ["-c cons.txt", "--constraint cons.txt", "-c 'cons.txt'"])
def test_constraint_includes(line: str) -> None:
    (inc,) = parse_lines(line, "r.txt").includes
    assert isinstance(inc, Include)
    assert (inc.kind, inc.location) == ("constraints", "cons.txt")


def test_environment_variables_expand_from_the_given_mapping_only() -> None:
    text = "-r ${DIR}/x.txt\n-i https://${USER_1}:${TOKEN}@h.invalid/simple\nfoo==${UNSET}\n"
    parsed = parse_lines(text, "r.txt", environ={"DIR": "sub", "USER_1": "u", "TOKEN": "s3"})
    assert parsed.includes[0].location == "sub/x.txt"
    assert parsed.options[0].value == "https://u:s3@h.invalid/simple"
    # unset variables stay as written, which here makes an invalid requirement
    assert [p.line for p in parsed.problems] == [3]


def test_lowercase_and_dollar_forms_are_not_variables() -> None:
    parsed = parse_lines("-r ${dir}/$DIR.txt\n", "r.txt", environ={"dir": "x", "DIR": "y"})
    assert parsed.includes[0].location == "${dir}/$DIR.txt"


def test_error_columns_and_text_refer_to_the_line_as_written_not_expanded() -> None:
    loc = one_problem("${NAME}==1.0 --hash=md5:00\n", environ={"NAME": "a-much-longer-name"})
    assert loc.text == "${NAME}==1.0 --hash=md5:00"
    assert loc.column == len("${NAME}==1.0 --hash=")
    assert "a-much-longer-name" not in "\n".join(loc.render())


def test_error_inside_an_expanded_value_points_at_the_variable() -> None:
    loc = one_problem("foo==${V}\n", environ={"V": "1.0 bar"})
    assert loc.column == len("foo==")


def test_byte_order_mark_is_ignored() -> None:
    assert parse_lines("\ufefffoo==1\n", "r.txt").requirements[0].requirement.name == "foo"


# --------------------------------------------------------------------------- bad lines
BAD_LINES = [
    # (line, kind, column of the caret (0-based) or None, words in the message)
    ("foo==", "requirements", 3, "Expected"),
    ('foo>=1.0; python_version <', "requirements", 26, "marker"),
    ("foo[bar", "requirements", 7, "RIGHT_BRACKET"),
    ("foo>=1.*", "requirements", 7, ".*"),
    ("foo @ ", "requirements", 5, "URL"),
    ("./local/dir", "requirements", 0, "path or URL is not supported"),
    ("https://h.invalid/x-1.0-py3-none-any.whl", "requirements", 0, "path or URL is not supported"),
    ("-e .", "requirements", 0, "not supported yet"),
    ("--editable=git+https://h.invalid/x", "requirements", 0, "not supported yet"),
    ("-e .", "constraints", 0, "not allowed in constraint files"),
    ("--frobnicate", "requirements", 0, "unknown option --frobnicate"),
    ("--extra-index https://h.invalid", "requirements", 0, "did you mean --extra-index-url"),
    ("-x", "requirements", 0, "unknown option -x"),
    ("--index-url", "requirements", 11, "needs a value"),
    ("-r", "requirements", 2, "needs a value"),
    ("--pre=yes", "requirements", 6, "takes no value"),
    ("-r a.txt b.txt", "requirements", 9, "unexpected 'b.txt'"),
    ("foo==1 -i https://h.invalid", "requirements", 7, "cannot share a line"),
    ("foo==1 -r x.txt", "requirements", 7, "cannot share a line"),
    ("--hash=sha256:" + SHA, "requirements", 0, "needs a requirement"),
    ("foo==1 --hash=md5:abc", "requirements", 14, "unsupported hash algorithm"),
    ("foo==1 --hash=sha256", "requirements", 14, "algorithm:hexdigest"),
    ("foo==1 --hash=sha256:" + "a" * 10 + "z" + "a" * 53, "requirements", 31, "hexadecimal"),
    ("foo==1 --hash=sha256:abcd", "requirements", 25, "expected 64"),
    ("foo==1 --global-option=x", "requirements", 7, "not supported"),
    ("-r 'unterminated", "requirements", 3, "unbalanced quote"),
    ("foo[extra]==1.0", "constraints", 3, "cannot have extras"),
    ("./wheel.whl", "constraints", 0, "path or URL is not supported"),
]


@pytest.mark.parametrize("line, kind, column, words", BAD_LINES)
def test_bad_lines_report_message_and_caret(line, kind, column, words) -> None:
    loc = one_problem("# first\n" + line + "\n", kind=kind)
    assert loc.source == "req.txt"
    assert loc.line == 2
    assert loc.text == line
    assert words in (loc.message or "")
    assert loc.column == column
    rendered = loc.render()
    if column is not None:
        assert rendered[-1].index("^") - rendered[-2].index("|") - 2 == column


def test_every_bad_line_of_a_file_is_reported_at_once() -> None:
    text = "good==1\nfoo==\n--bogus\nbar==2\nbaz[\n"
    parsed = parse_lines(text, "req.txt")
    assert [p.line for p in parsed.problems] == [2, 3, 5]
    assert [r.requirement.name for r in parsed.requirements] == ["good", "bar"]
    with pytest.raises(InputError) as info:
        parsed.raise_for_problems()
    assert "3 problems in req.txt" in info.value.message
    assert [str(loc) for loc in info.value.locations] == ["req.txt:2:4", "req.txt:3:1",
                                                           "req.txt:5:5"]


def test_a_line_with_a_bad_requirement_and_a_bad_hash_reports_both() -> None:
    parsed = parse_lines("foo== --hash=md5:x\n", "r.txt")
    assert len(parsed.problems) == 2
    assert parsed.entries == ()


def test_constraints_accept_names_specifiers_markers_urls_and_hashes() -> None:
    text = (
        "foo\nbar==1.0\nbaz<2; sys_platform == 'linux'\n"
        "qux @ https://h.invalid/qux-1.0.tar.gz\n"
        f"zap==1 --hash=sha256:{SHA}\n"
    )
    parsed = parse_lines(text, "c.txt", kind="constraints")
    assert parsed.problems == ()
    assert [r.requirement.name for r in parsed.requirements] == ["foo", "bar", "baz", "qux", "zap"]


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_lines("", "x", kind="other")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- command line
def test_command_line_requirement_parses() -> None:
    assert parse_requirement_string("foo[x]>=1") == Requirement("foo[x]>=1")


def test_command_line_requirement_error_has_a_caret() -> None:
    with pytest.raises(InputError) as info:
        parse_requirement_string("foo>=1,,", argument=2)
    (loc,) = info.value.locations
    assert loc.source == "command line"
    assert loc.line == 2
    assert loc.text == "foo>=1,,"
    assert loc.column == 7
    assert "command line" in info.value.message
