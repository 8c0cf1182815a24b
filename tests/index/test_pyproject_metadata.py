"""Static PEP 621 ``[project]`` tables in sdists: read instead of building, through a real index on
127.0.0.1 -- with sdists whose backend fails if it is run at all."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from constrain.cli import main
from constrain.errors import BuildError
from constrain.index.transport.client import HttpClient
from constrain.index.metadata.fetcher import MetadataFetcher
from constrain.build.pyproject import static_metadata
from constrain.models import DistFile
from constrain.reporting import CollectingReporter
from tests.support.builders import PackageSpec

# dbt-core-experimental-parser 2.0.8: Metadata-Version 2.1 (no PEP 643), no `dynamic`, no
# `dependencies`; its in-tree backend downloads a binary when run.
PARSER_TABLE = """[project]
name = "dbt-core-experimental-parser"
version = "2.0.8"
requires-python = ">=3.9"
"""
WITH_DEPS = """[project]
name = "foo"
version = "1.0"
requires-python = ">=3.8"
dependencies = ["bar>=2", "baz; sys_platform == 'win32'"]
license = "MIT"
[project.optional-dependencies]
Fast = ["qux[x]>=1; python_version >= '3.9'"]
"""


def _sdist(server, name, version, table, **options):
    requires_dist = options.pop("requires_dist", ())
    server.add([PackageSpec(name, version, kinds=("sdist",), requires_dist=requires_dist,
                            sdist_options={"metadata_version": "2.1", "project_table": table,
                                           **options})])
    (record,) = [r for r in server.records(name) if r.kind == "sdist"]
    return DistFile(project=record.project, filename=record.filename,
                    url=server.file_url(record.filename), version=record.version,
                    kind="sdist", hashes=(("sha256", record.sha256),), size=record.size)


def test_a_static_table_without_dependencies_means_none_and_no_build(make_index) -> None:
    server = make_index()
    file = _sdist(server, "dbt-core-experimental-parser", "2.0.8", PARSER_TABLE,
                  fail_build=True)
    with HttpClient(retries=0) as client:
        fetcher = MetadataFetcher(client, None, allow_build=False)
        md = fetcher(file)
    assert md.source == "pyproject" and fetcher.counts == {"pyproject": 1}
    assert md.requires_dist == () and str(md.requires_python) == ">=3.9"


def test_dependencies_and_extras_become_requires_dist(make_index) -> None:
    server = make_index()
    file = _sdist(server, "foo", "1.0", WITH_DEPS, fail_build=True,
                  requires_dist=["decoy"])  # what a build would say; PKG-INFO is not static
    with HttpClient(retries=0) as client:
        md = MetadataFetcher(client, None, allow_build=False)(file)
    assert md.requires_dist == (
        Requirement("bar>=2"),
        Requirement("baz; sys_platform == 'win32'"),
        Requirement("qux[x]>=1; python_version >= '3.9' and extra == 'fast'"),
    )
    assert md.provides_extra == {"fast"} and md.license == "MIT"


@pytest.mark.parametrize(
    ("table", "why"),
    [
        (WITH_DEPS.replace('version = "1.0"', 'version = "1.0"\ndynamic = ["dependencies"]'),
         "[project] lists dependencies as dynamic"),
        (WITH_DEPS.replace('version = "1.0"', 'dynamic = ["version"]'),
         "[project] lists version as dynamic"),
        (WITH_DEPS.replace('version = "1.0"', 'version = "1.1"'), "version '1.1' is not"),
        (WITH_DEPS.replace('name = "foo"', 'name = "other"'), "name 'other' is not"),
        (WITH_DEPS.replace('"bar>=2"', '"bar (>dev"'), "requirement 'bar (>dev' is invalid"),
        ("[tool.poetry]\nname = 'foo'\n", "no [project] table"),
    ],
)
def test_a_table_that_is_not_static_or_not_this_release_is_built(
    make_index, table: str, why: str
) -> None:
    assert static_metadata(table.encode(), expect_name="foo",
                           expect_version=Version("1.0"))[1].find(why) >= 0
    server = make_index()
    file = _sdist(server, "foo", "1.0", table, requires_dist=["real>=3"])
    reporter = CollectingReporter()
    with HttpClient(retries=0) as client:
        md = MetadataFetcher(client, None, reporter=reporter)(file)
    assert md.source == "built" and md.requires_dist == (Requirement("real>=3"),)
    assert any(why in line and "needs a build" in line for line in reporter.infos)


def test_a_table_not_trusted_with_a_failing_backend_is_a_build_error(make_index) -> None:
    server = make_index()
    table = PARSER_TABLE.replace('requires-python = ">=3.9"', 'dynamic = ["dependencies"]')
    file = _sdist(server, "dbt-core-experimental-parser", "2.0.8", table, fail_build=True)
    with HttpClient(retries=0) as client, pytest.raises(BuildError):
        MetadataFetcher(client, None)(file)


def test_cli_resolves_through_a_static_table_with_no_build(index_server, capsys) -> None:
    server = index_server([
        PackageSpec("dbt-core", "1.12.6", requires_dist=["dbt-core-experimental-parser==2.0.8"]),
        PackageSpec("bar", "2.0"), PackageSpec("qux", "1.5"),
    ])  # fmt: skip
    _sdist(server, "dbt-core-experimental-parser", "2.0.8", PARSER_TABLE, fail_build=True)
    _sdist(server, "foo", "1.0", WITH_DEPS, fail_build=True)
    base = ["resolve", "--index-url", server.index_url, "--python", "3.11", "--no-build"]
    assert main([*base, "dbt-core", "foo[fast]"]) == 0
    out = capsys.readouterr().out
    pins = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert pins == ["bar==2.0", "dbt-core==1.12.6", "dbt-core-experimental-parser==2.0.8",
                    "foo==1.0", "qux==1.5"]
