"""Requires-Dist lines of another age: legacy forms read as their tools read them, unreadable
lines kept under their marker -- through a real index on 127.0.0.1, the metadata cache and
the CLI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement

from constrain.cache.store import Cache
from constrain.cli import main
from constrain.index.transport.client import HttpClient
from constrain.index.metadata.legacy import read_requirement
from constrain.index.metadata.fetcher import MetadataFetcher
from constrain.index.metadata.parse import parse_core_metadata
from constrain.models import DistFile
from constrain.reporting import CollectingReporter
from tests.support.builders import PackageSpec, metadata_text

# The lines as the real releases wrote them.
CELERY = ["pytz (>dev)", "billiard (<4.0,>=3.6.3.0)", "kombu (<4.7,>=4.6.10)", "vine (==1.3.0)",
          "cryptography ; extra == 'auth'"]  # fmt: skip
BIGQUERY = [
    "google-api-core (<2.0dev,>=1.21.0)",
    "pandas (>=0.23.0) ; extra == 'pandas'",
    "pyarrow (<2.0de,>=1.0.0) ; (python_version >= \"3.5\") and extra == 'pyarrow'",
]


@pytest.mark.parametrize(
    ("line", "read"),
    [
        ("pytz (>dev)", "pytz"),  # pip (packaging < 22): every version sorts above 'dev'
        ("pytz (>=dev,<2)", "pytz<2"),
        ("pytz (<2, >dev, >1)", "pytz<2,>1"),
        ("elasticsearch-dsl (>=7.2.0<8.0.0)", "elasticsearch-dsl<8.0.0,>=7.2.0"),
        ("jupyter-core (!=~5.0,>=4.12)", "jupyter-core!=5.0.*,>=4.12"),
        ("torch (>=1.9.*)", "torch>=1.9"),
        ("pyzmq (>=2.7,!=3.0*,!=3.1*)", "pyzmq!=3.0.*,!=3.1.*,>=2.7"),
        ("foo (>=9.0.0a1.0)", "foo>=9.0.0a1"),
        ("botocore>=1.3.0,<1.4.0',", "botocore<1.4.0,>=1.3.0"),
        ('numpy ">=1.19"; python_version >= "3.7"', 'numpy>=1.19; python_version >= "3.7"'),
        ("x (>dev) ; extra == 'y'", 'x; extra == "y"'),
    ],
)
def test_legacy_forms_are_read_as_their_tools_read_them(line: str, read: str) -> None:
    req, fixed = read_requirement(line)
    assert req == Requirement(read) and fixed


@pytest.mark.parametrize("line", ["bar (>=1.0-SNAPSHOT)", "pyarrow (<2.0de,>=1.0.0)", "x ==="])
def test_lines_no_rewrite_rescues_are_errors(line: str) -> None:
    with pytest.raises(InvalidRequirement):
        read_requirement(line)


@given(
    name=st.from_regex(r"[a-z][a-z0-9]{0,6}([-_.][a-z0-9]{1,4})?", fullmatch=True),
    clauses=st.lists(
        st.tuples(st.sampled_from(["==", "!=", ">=", "<=", ">", "<", "~="]),
                  st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){1,2}((a|b|rc|\.dev)[0-9])?",
                                fullmatch=True)),
        max_size=3,
    ),
    marker=st.sampled_from(["", "; extra == 'dev'", '; python_version < "3.8"']),
)
def test_valid_lines_are_read_unchanged(name: str, clauses, marker: str) -> None:
    line = name + ",".join(op + v for op, v in clauses) + marker
    req, fixed = read_requirement(line)
    assert fixed is None and req == Requirement(line)


def test_unreadable_lines_under_a_marker_are_kept_and_a_bare_one_rejects_the_release() -> None:
    data = metadata_text("google-cloud-bigquery", "1.28.0", requires_dist=BIGQUERY,
                         provides_extra=["pandas", "pyarrow"])  # fmt: skip
    md = parse_core_metadata(data, source="wheel", where="bq.whl (METADATA)")
    assert [str(r) for r in md.requires_dist] == [
        "google-api-core<2.0dev,>=1.21.0", 'pandas>=0.23.0; extra == "pandas"'
    ]
    (bad,) = md.unreadable
    assert (bad.where, bad.line, bad.extras) == ("bq.whl (METADATA)", 8, ("pyarrow",))
    assert bad.text == BIGQUERY[2] and "RIGHT_PARENTHESIS" in bad.error


def _dist_file(server, record) -> DistFile:
    return DistFile(
        project=record.project, filename=record.filename, url=server.file_url(record.filename),
        version=record.version, kind=record.kind, hashes=(("sha256", record.sha256),),
        size=record.size,
    )


def test_a_legacy_release_read_through_the_index_is_cached_with_its_unreadable_lines(
    make_index, tmp_path
) -> None:
    server = make_index([
        PackageSpec("celery", "4.4.7", requires_dist=CELERY, provides_extra=["auth"]),
        PackageSpec("google-cloud-bigquery", "1.28.0", requires_dist=BIGQUERY,
                    provides_extra=["pandas", "pyarrow"]),
    ])  # fmt: skip
    cache = Cache(tmp_path / "cache")
    reporter = CollectingReporter()
    files = [_dist_file(server, r) for r in server.records()]
    with HttpClient(retries=0) as client:
        fetched = [MetadataFetcher(client, cache, reporter=reporter)(f) for f in files]
    celery = next(md for md in fetched if md.name == "celery")
    assert "pytz" in [str(r) for r in celery.requires_dist]
    assert any("pytz (>dev)" in line and "as 'pytz'" in line for line in reporter.infos)
    server.reset_log()
    with HttpClient(retries=0) as client:
        again = [MetadataFetcher(client, cache)(f) for f in files]
        assert client.counters.requests == 0
    assert again == fetched  # the unreadable line, its marker and location survive the cache
    assert [len(md.unreadable) for md in again] == [len(md.unreadable) for md in fetched]
    assert sum(len(md.unreadable) for md in again) == 1


def test_cli_uses_a_release_whose_bad_lines_are_under_extras_not_asked_for(
    index_server, capsys
) -> None:
    server = index_server([
        PackageSpec("celery", "4.4.7", requires_dist=CELERY, provides_extra=["auth"]),
        PackageSpec("pytz", "2020.4"), PackageSpec("billiard", "3.6.3.0"),
        PackageSpec("kombu", "4.6.11"), PackageSpec("vine", "1.3.0"),
        PackageSpec("google-cloud-bigquery", "1.28.0", requires_dist=BIGQUERY,
                    provides_extra=["pandas", "pyarrow"]),
        PackageSpec("google-api-core", "1.22.0"), PackageSpec("pandas", "1.1.4"),
        PackageSpec("pyarrow", "1.0.1"),
    ], pep658=True)  # fmt: skip
    base = ["resolve", "--index-url", server.index_url, "--python", "3.8"]

    assert main([*base, "celery==4.4.7"]) == 0
    out = capsys.readouterr().out
    assert "pytz==2020.4" in out.splitlines()

    assert main([*base, "google-cloud-bigquery[pandas]==1.28.0"]) == 0
    captured = capsys.readouterr()
    assert "pandas==1.1.4" in captured.out.splitlines()
    assert "pyarrow" not in captured.out
    assert "ignoring a Requires-Dist line that cannot be read, under the extra 'pyarrow'" in (
        captured.err
    )
    # the file and the line are named
    assert "google_cloud_bigquery-1.28.0-py3-none-any.whl (metadata file):8:" in captured.err

    # The metadata is cached now; asking for the extra must still be an error.
    assert main([*base, "google-cloud-bigquery[pyarrow]==1.28.0"]) == 1
    err = capsys.readouterr().err
    assert "google-cloud-bigquery 1.28.0 with the extra 'pyarrow' needs 1 Requires-Dist line" in err
    assert "pyarrow (<2.0de,>=1.0.0)" in err
    assert "hint: do not ask for 'pyarrow', or exclude this version" in err
