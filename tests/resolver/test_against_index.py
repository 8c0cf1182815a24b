"""The resolver behind the real index layer: a local PEP 691/658 server on 127.0.0.1, via the CLI."""

from __future__ import annotations

from datetime import UTC, datetime

from constrain.cli import main
from tests.support.builders import PackageSpec

SPECS = [
    PackageSpec("app", "1.0", requires_dist=["foo>=1", "bar[x]; python_version >= '3.8'"]),
    PackageSpec("foo", "1.0"),
    PackageSpec("foo", "2.0", requires_python=">=3.13"),
    PackageSpec("bar", "1.0", requires_dist=["baz; extra == 'x'"], provides_extra=["x"]),
    PackageSpec("baz", "0.1", tags=["cp311-cp311-manylinux_2_17_x86_64"], kinds=("wheel", "sdist")),
]


def test_resolve_through_index_server(index_server, capsys) -> None:
    server = index_server(SPECS, pep658=True)
    base = ["resolve", "--index-url", server.index_url, "--python", "3.11"]

    assert main([*base, "--platform", "manylinux_2_28_x86_64", "app"]) == 0
    out = capsys.readouterr().out
    pins = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert pins == ["app==1.0", "bar==1.0", "baz==0.1", "foo==1.0"]

    assert main([*base, "--platform", "win_amd64", "--only-binary", "app"]) == 1
    err = capsys.readouterr().err
    assert "command line -> app==1.0 -> bar[x]==1.0 -> baz" in err
    assert "baz 0.1 has only an sdist for this target and --only-binary is set" in err


def test_versions_hidden_by_the_cut_off_are_not_called_yanked(index_server, capsys) -> None:
    # Listings are built lazily per version: a version whose files all fall after the cut-off
    # must be left out of "foo has ..." rather than shown as "(yanked)".
    server = index_server([
        PackageSpec("foo", "1.0", upload_time=datetime(2023, 1, 1, tzinfo=UTC)),
        PackageSpec("foo", "2.0", upload_time=datetime(2024, 6, 1, tzinfo=UTC)),
        PackageSpec("foo", "3.0", upload_time=datetime(2024, 7, 1, tzinfo=UTC)),
    ])
    code = main(["resolve", "--index-url", server.index_url, "--python", "3.11",
                 "--exclude-newer", "2024-01-01", "foo>=2"])
    err = capsys.readouterr().err
    assert code == 1
    assert "foo has 1.0 for" in err, err
    assert "yanked" not in err
    assert "foo 2.0 was uploaded after the --exclude-newer cut-off" in err
