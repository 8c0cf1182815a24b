"""Fault suite: secrets (docs/faults.md, "Interrupts, processes and network"). A canary
password in an index URL's userinfo, and a canary ``?token=`` query, must never appear in what
constrain prints, writes or caches; cache files of an authenticated index are the user's alone;
files an authenticated index serves by absolute URL on its own host get its credentials."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.faults.runner import start
from tests.support.builders import PackageSpec

PASSWORD = "canary-pw-5f1e2d"
TOKEN = "canary-tok-9a8b7c"
SPECS = [PackageSpec("alpha", "1.0", requires_dist=["beta"]), PackageSpec("beta", "1.0")]


def _everything_under(root: Path) -> list[tuple[str, bytes]]:
    """(path, content) of every file under ``root``, paths included as text to search."""
    out = []
    for path in sorted(root.rglob("*")):
        out.append((str(path), b""))
        if path.is_file() and not path.is_symlink():
            out.append((str(path), path.read_bytes()))
    return out


def _assert_nowhere(secret: str, texts: list[str], roots: list[Path]) -> None:
    for text in texts:
        assert secret not in text, text
    for root in roots:
        for path, content in _everything_under(root):
            assert secret not in path, path
            assert secret.encode() not in content, path


@pytest.fixture
def auth_index(make_index):
    # absolute file URLs without credentials, on the index's own host (as many private
    # indexes serve them); every request needs the login
    return make_index(SPECS, require_auth=("user", PASSWORD), relative_urls=False)


def test_an_authenticated_index_gets_its_login_for_its_files_and_the_password_stays_hidden(
        auth_index, tmp_path, isolated_env):
    # Before: the files were asked for without credentials (HTTP 401), where pip and uv
    # install.
    url = auth_index.url_with_auth("/simple")
    dest = tmp_path / "wheelhouse"
    texts = []
    for args in (["resolve", "alpha", "--format", "pylock", "-o", str(tmp_path / "pylock.toml")],
                 ["resolve", "alpha", "--format", "json", "-o", str(tmp_path / "report.json")],
                 ["resolve", "alpha", "--annotate", "-v"],
                 ["download", "alpha", "--dest", str(dest), "--layout", "simple"],
                 # exact pins, from a cache of their own: their wheels are downloaded by the
                 # unpacking workers, each with a client of its own that needs the login too
                 ["install", "alpha==1.0", "beta==1.0", "--venv", str(tmp_path / "venv"),
                  "--cache-dir", str(tmp_path / "install-cache")]):
        run = start(*args, "--index-url", url, cwd=tmp_path)
        code, out, err = run.finish(timeout=120)
        assert code == 0, err
        texts += [out, err]
    files = [r for r in auth_index.requests_to("/files/") if r.method == "GET"]
    assert files and all(r.headers.get("authorization", "").startswith("Basic ") for r in files)
    assert (dest / "alpha-1.0-py3-none-any.whl").is_file()
    assert list((tmp_path / "venv").glob("lib/python*/site-packages/alpha-1.0.dist-info"))
    assert "user:****@" in (tmp_path / "pylock.toml").read_text() or "127.0.0.1" in (
        tmp_path / "pylock.toml").read_text()
    _assert_nowhere(PASSWORD, texts, [tmp_path, isolated_env.cache_dir])


def test_cache_files_of_an_authenticated_index_are_not_world_readable(auth_index, tmp_path,
                                                                     isolated_env):
    run = start("resolve", "alpha", "--index-url", auth_index.url_with_auth("/simple"))
    code, _out, err = run.finish()
    assert code == 0, err
    cached = [p for p in isolated_env.cache_dir.rglob("*") if p.is_file()
              and p.parent.parent.name.split("-v")[0] in ("pages", "listings", "metadata",
                                                          "misc", "constraints")]
    assert cached
    for path in cached:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


def test_a_token_query_never_appears_in_outputs_messages_or_the_cache(make_index, tmp_path,
                                                                      isolated_env):
    # Before: the token was in the output's header comment, error messages and cache files.
    index = make_index(SPECS, relative_urls=False)
    url = f"{index.index_url}?token={TOKEN}"
    texts = []
    run = start("resolve", "alpha", f"--index-url={url}", "-o", str(tmp_path / "c.txt"),
                "--format", "requirements", cwd=tmp_path)
    code, out, err = run.finish()
    assert code == 0, err
    texts += [out, err]
    header = (tmp_path / "c.txt").read_text()
    assert "alpha==1.0" in header and "token=****" in header
    assert any(f"?token={TOKEN}" in r.path for r in index.requests_to("/simple/alpha/"))
    run = start("resolve", "alpha", "--index-url", url, "-c",
                f"{index.url}/missing/constraints.txt?token={TOKEN}", cwd=tmp_path)
    code, out, err = run.finish()
    assert code == 2  # a constraint source that cannot be read
    assert "missing/constraints.txt?token=****" in err, err
    texts += [out, err]
    _assert_nowhere(TOKEN, texts, [tmp_path, isolated_env.cache_dir])


def test_a_password_in_a_line_an_error_quotes_is_masked_and_the_caret_stays_on_its_token(
        tmp_path, isolated_env):
    # Before: a bad option line and a direct URL requirement were quoted as written, password
    # included, in the error's location, its text and its message.
    reqs = tmp_path / "reqs.txt"
    reqs.write_text(f"--index-url https://user:{PASSWORD}@127.0.0.1:9/simple extra\n"
                    f"six @ https://user:{PASSWORD}@127.0.0.1:9/six.whl\n")
    texts = []
    run = start("resolve", "-r", str(reqs), cwd=tmp_path)
    code, out, err = run.finish()
    assert code == 2, err
    texts += [out, err]
    quoted = next(line for line in err.splitlines() if "| --index-url" in line)
    caret = err.splitlines()[err.splitlines().index(quoted) + 1]
    assert "user:****@127.0.0.1:9/simple extra" in quoted
    assert quoted[caret.index("^"):].startswith("extra"), err
    run = start("resolve", f"six @ https://user:{PASSWORD}@127.0.0.1:9/six.whl", cwd=tmp_path)
    code, out, err = run.finish()
    assert code == 2 and "direct URL requirements" in err, err
    assert "six @ https://user:****@127.0.0.1:9/six.whl" in err
    texts += [out, err]
    _assert_nowhere(PASSWORD, texts, [])
