"""Remembered resolutions: reused only while inputs and the listings they read are unchanged."""

from __future__ import annotations

import json

from constrain.cli import main
from tests.support.builders import PackageSpec

SPECS = [
    PackageSpec("app", "1.0", requires_dist=["lib>=1"]),
    PackageSpec("lib", "1.0"),
    PackageSpec("lib", "1.1", yanked="broken"),
]


def _run(capsys, monkeypatch, tmp_path, server, *extra: str) -> tuple[list[str], dict, str]:
    stats_file = tmp_path / "stats.json"
    monkeypatch.setenv("CONSTRAIN_STATS_FILE", str(stats_file))
    code = main(["resolve", "app", "--index-url", server.index_url, "--python", "3.11",
                 "--platform", "manylinux_2_28_x86_64", "--airflow-constraints", "off", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    pins = [line for line in captured.out.splitlines() if line and not line.startswith("#")]
    return pins, json.loads(stats_file.read_text()), captured.out


def test_second_run_is_remembered_and_identical(index_server, capsys, monkeypatch, tmp_path):
    server = index_server(SPECS)
    pins, stats, first = _run(capsys, monkeypatch, tmp_path, server)
    assert pins == ["app==1.0", "lib==1.0"] and stats["remembered_resolutions"] == 0
    server.reset_log()
    fresh = stats
    pins, stats, again = _run(capsys, monkeypatch, tmp_path, server)
    assert stats["remembered_resolutions"] == 1
    assert again == first  # byte-identical
    work = ("rounds", "candidates_visited", "backtracks", "requirements_matched")
    assert [stats[k] for k in work] == [fresh[k] for k in work]  # the figures remembered
    assert server.requests == []  # fresh listings: not even a revalidation
    _pins, stats, offline = _run(capsys, monkeypatch, tmp_path, server, "--offline")
    assert stats["remembered_resolutions"] == 1 and offline == first


def test_a_changed_listing_is_resolved_again(index_server, capsys, monkeypatch, tmp_path):
    server = index_server(SPECS)
    _run(capsys, monkeypatch, tmp_path, server)
    server.add([PackageSpec("lib", "2.0")])
    pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server, "--refresh")
    assert stats["remembered_resolutions"] == 0
    assert pins == ["app==1.0", "lib==2.0"]
    pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server)
    assert stats["remembered_resolutions"] == 1 and pins == ["app==1.0", "lib==2.0"]


def test_changed_inputs_miss(index_server, capsys, monkeypatch, tmp_path):
    server = index_server(SPECS)
    _run(capsys, monkeypatch, tmp_path, server)
    _pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server, "--python", "3.12")
    assert stats["remembered_resolutions"] == 0
    constraints = tmp_path / "c.txt"
    constraints.write_text("lib<1.1\n")
    _pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server, "-c", str(constraints))
    assert stats["remembered_resolutions"] == 0
    constraints.write_text("lib<=1.0\n")  # same file, other content: another resolution
    _pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server, "-c", str(constraints))
    assert stats["remembered_resolutions"] == 0


def test_warnings_are_given_again(index_server, capsys, monkeypatch, tmp_path):
    server = index_server([PackageSpec("app", "1.0", requires_dist=["lib==1.1"]),
                           PackageSpec("lib", "1.1", yanked="broken")])
    monkeypatch.setenv("CONSTRAIN_STATS_FILE", str(tmp_path / "s.json"))
    args = ["resolve", "app", "--index-url", server.index_url, "--airflow-constraints", "off"]
    assert main(args) == 0
    first = capsys.readouterr().err
    assert "broken" in first
    assert main(args) == 0
    assert json.loads((tmp_path / "s.json").read_text())["remembered_resolutions"] == 1
    assert "broken" in capsys.readouterr().err


def test_no_remember_neither_uses_nor_stores_an_answer(index_server, capsys, monkeypatch,
                                                        tmp_path):
    server = index_server(SPECS)
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "1")
    first, stats, _ = _run(capsys, monkeypatch, tmp_path, server)
    assert stats["remembered_resolutions"] == 0
    _pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server)
    assert stats["remembered_resolutions"] == 0
    monkeypatch.delenv("CONSTRAIN_NO_REMEMBER")
    pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server)
    assert stats["remembered_resolutions"] == 0  # the runs before stored nothing
    assert pins == first
    # a run with the variable leaves the remembered answer there
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "1")
    _run(capsys, monkeypatch, tmp_path, server)
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "0")  # as unset
    _pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server)
    assert stats["remembered_resolutions"] == 1


def test_an_answer_is_remembered_with_the_listings_it_read_not_ones_fetched_meanwhile(
        index_server, capsys, monkeypatch, tmp_path):
    """Another constrain sharing the cache (a CI job per Python) fetches a listing again while
    this one resolves from the copy it read: this answer must not be remembered as made from
    the new copy (the next run would give it, stale, for as long as that copy stays)."""
    import subprocess
    import sys

    import constrain.resolver as resolver

    server = index_server(SPECS)
    _run(capsys, monkeypatch, tmp_path, server)  # lib's listing cached: 1.0 only
    server.add([PackageSpec("lib", "2.0")])
    real = resolver.resolve

    def resolve_then_another_run_refreshes(*args, **kwargs):
        install_set = real(*args, **kwargs)
        done = subprocess.run(
            [sys.executable, "-m", "constrain", "resolve", "app", "--index-url",
             server.index_url, "--python", "3.12", "--platform", "manylinux_2_28_x86_64",
             "--airflow-constraints", "off", "--refresh"],
            capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "lib==2.0" in done.stdout, done.stderr
        return install_set

    monkeypatch.setattr(resolver, "resolve", resolve_then_another_run_refreshes)
    pins, _stats, _ = _run(capsys, monkeypatch, tmp_path, server, "--python", "3.12")
    assert pins == ["app==1.0", "lib==1.0"]  # made from the copy it read
    monkeypatch.setattr(resolver, "resolve", real)
    pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server, "--python", "3.12")
    assert pins == ["app==1.0", "lib==2.0"] and stats["remembered_resolutions"] == 0


def test_a_remembered_file_row_holds_no_login_or_token():
    """What a remembered resolution stores of a file: its URL without a login (a URL with an
    '@' elsewhere stays as it is), its index URL without a login, token query or fragment."""
    from constrain.app.memo import _without_credentials

    indexes: dict[str, str] = {}
    secret = ("f-1.0-py3-none-any.whl", "https://user:pw@files.example/f-1.0-py3-none-any.whl",
              (("sha256", "ab"),), None, None, None, 10, None,
              "https://u:tok@idx.example/simple?token=tok#frag")
    plain = ("g-1.0.tar.gz", "https://files.example/pkgs/g@1/g-1.0.tar.gz", (), None, None,
             None, 5, None, "https://u:tok@idx.example/simple?token=tok#frag")
    assert _without_credentials(secret, indexes) == (
        "f-1.0-py3-none-any.whl", "https://files.example/f-1.0-py3-none-any.whl",
        (("sha256", "ab"),), None, None, None, 10, None, "https://idx.example/simple")
    assert _without_credentials(plain, indexes) == (*plain[:-1], "https://idx.example/simple")
    assert _without_credentials((*plain[:-1], ""), indexes)[-1] == ""


def test_a_remembered_answer_is_read_without_collections_and_thresholds_come_back(
        index_server, capsys, monkeypatch, tmp_path):
    """Reading a remembered answer makes objects that live as long as it (a pin, its files,
    its metadata each): no automatic collection runs while it is read (none would find
    garbage), and the collector's thresholds are the process's own again afterwards."""
    import gc

    from constrain.app import memo

    server = index_server(SPECS)
    _run(capsys, monkeypatch, tmp_path, server)
    seen = []
    real_load = memo.load

    def load(data, target):
        seen.append(gc.get_threshold()[0])
        return real_load(data, target)

    monkeypatch.setattr(memo, "load", load)
    before = gc.get_threshold()
    pins, stats, _ = _run(capsys, monkeypatch, tmp_path, server, "--offline")
    assert stats["remembered_resolutions"] == 1 and pins == ["app==1.0", "lib==1.0"]
    assert seen == [0]  # threshold 0: no automatic collection
    assert gc.get_threshold() == before


def test_a_find_links_wheel_replaced_under_its_name_is_resolved_again(tmp_path, capsys,
                                                                     monkeypatch):
    # Before: the directory's mtime was the location's whole token, and copying a rebuilt
    # wheel over the old one does not change it: the remembered answer (the old wheel's
    # dependencies) was given again.
    import os

    from tests.support.builders import make_wheel

    here = tmp_path / "fl"
    here.mkdir()
    make_wheel(here, "dep", "1.0")
    make_wheel(here, "other", "1.0")
    old = make_wheel(here, "proj", "0.1", requires_dist=["dep"])
    monkeypatch.setenv("CONSTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    args = ["resolve", "proj", "--no-index", "--find-links", str(here)]
    assert main(args) == 0
    assert "dep==1.0" in capsys.readouterr().out
    stamp = os.stat(here).st_mtime_ns
    rebuilt = make_wheel(tmp_path, "proj", "0.1", requires_dist=["other"])
    os.replace(rebuilt, old)  # same name, new contents
    os.utime(here, ns=(stamp, stamp))  # a copy over the old file leaves the directory as it was
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "other==1.0" in out and "dep==1.0" not in out, out
