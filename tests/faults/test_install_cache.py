"""The cache is not trusted blindly: read-only trees, a manifest checked before linking, --verify."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.installing import SITE, install, installed, pyrun
from tests.support.builders import PackageSpec

BETA = PackageSpec("beta", "1.0", wheel_options={"files": {"beta/__init__.py": "V = 1\n"}})


@pytest.fixture
def server(make_index):
    return make_index([BETA])


def _tree_file(cache: Path) -> Path:
    (found,) = cache.glob("unpacked-v*/*/*/purelib/beta/__init__.py")
    return found


def _install(capsys, server, cache, venv, *more):
    return install(capsys, "beta", "--index-url", server.index_url, "--cache-dir", str(cache),
                   "--venv", str(venv), *more)


def test_cached_tree_is_read_only_and_an_altered_one_is_unpacked_again(server, tmp_path,
                                                                        capsys):
    cache = tmp_path / "cache"
    assert _install(capsys, server, cache, tmp_path / "A")[0] == 0
    tree_file = _tree_file(cache)
    assert tree_file.stat().st_mode & 0o222 == 0  # read-only: an edit in a venv is refused
    # ... unless forced (root, chmod): an edit through venv A changes the shared inode
    edited = tmp_path / "A" / SITE / "beta" / "__init__.py"
    assert edited.samefile(tree_file)
    os.chmod(edited, 0o644)
    edited.write_text("V = 'edited in A'\n")

    code, _, err = _install(capsys, server, cache, tmp_path / "B")
    assert code == 0, err
    assert pyrun(tmp_path / "B", "import beta; print(beta.V)").stdout.strip() == "1"
    assert not (tmp_path / "B" / SITE / "beta" / "__init__.py").samefile(edited)


@pytest.mark.parametrize("damage", ["torn", "empty", "not utf-8"])
def test_a_damaged_manifest_has_its_tree_unpacked_again(server, tmp_path, capsys, damage):
    cache = tmp_path / "cache"
    assert _install(capsys, server, cache, tmp_path / "A")[0] == 0
    manifest = _tree_file(cache).parents[2] / "manifest.json"
    whole = manifest.read_bytes()
    manifest.write_bytes({"torn": whole[: len(whole) // 2], "empty": b"",
                          "not utf-8": b"\xff" + whole}[damage])
    code, _, err = _install(capsys, server, cache, tmp_path / "B", "--offline")
    assert code == 0, err
    assert pyrun(tmp_path / "B", "import beta; print(beta.V)").stdout.strip() == "1"
    assert manifest.read_bytes() != whole  # unpacked anew (new inodes in its stat list)
    assert b'"files"' in manifest.read_bytes()


def test_altered_cached_wheel_is_refused_and_fetched_again(server, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert _install(capsys, server, cache, tmp_path / "A")[0] == 0
    for tree in cache.glob("unpacked-v*/*/*"):  # as if the trees had been pruned
        import shutil

        shutil.rmtree(tree)
    (wheel,) = cache.glob("files-v*/*/*beta-1.0-py3-none-any.whl")
    data = bytearray(wheel.read_bytes())
    data[40] ^= 0x01
    wheel.write_bytes(bytes(data))

    code, _, err = _install(capsys, server, cache, tmp_path / "B")
    assert code == 1
    assert "beta-1.0-py3-none-any.whl in the cache was changed after it was stored" in err
    assert "run the same command again to fetch it anew" in err
    assert not wheel.exists() and not (tmp_path / "B").exists()
    code, _, err = _install(capsys, server, cache, tmp_path / "B")
    assert code == 0, err
    assert pyrun(tmp_path / "B", "import beta; print(beta.V)").stdout.strip() == "1"


def test_verify_rehashes_what_the_cheap_check_cannot_see(server, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert _install(capsys, server, cache, tmp_path / "A")[0] == 0
    tree_file = _tree_file(cache)
    st = tree_file.stat()
    os.chmod(tree_file, 0o644)
    with open(tree_file, "r+b") as fh:  # same inode, same size, mtime put back
        fh.write(b"V = 9\n")
    os.chmod(tree_file, st.st_mode)
    os.utime(tree_file, ns=(st.st_atime_ns, st.st_mtime_ns))

    code, _, err = _install(capsys, server, cache, tmp_path / "B", "--verify")
    assert code == 0, err
    assert "beta-1.0-py3-none-any.whl: purelib/beta/__init__.py changed in the cache" in err
    assert pyrun(tmp_path / "B", "import beta; print(beta.V)").stdout.strip() == "1"
    assert installed(tmp_path / "B")["beta"] == "1.0"


def test_trees_at_hand_and_a_wheel_to_fetch_in_one_install(make_index, tmp_path, capsys):
    """An install whose cache holds one distribution's tree and lacks the other's wheel:
    the tree is checked and used, the wheel fetched and unpacked, both installed. Offline,
    the missing wheel is named and no environment is made."""
    import shutil

    alpha = PackageSpec("alpha", "1.0", requires_dist=["beta"],
                        wheel_options={"files": {"alpha/__init__.py": "V = 'a'\n"}})
    server = make_index([alpha, BETA])
    cache = tmp_path / "cache"
    args = ("alpha", "--index-url", server.index_url, "--cache-dir", str(cache))

    def forget_beta() -> None:  # its wheel and tree gone from the cache, alpha's kept
        (wheel,) = cache.glob("files-v*/*/*beta-1.0-py3-none-any.whl")
        wheel.unlink()
        shutil.rmtree(_tree_file(cache).parents[2])

    assert install(capsys, *args, "--venv", str(tmp_path / "A"))[0] == 0
    (alpha_tree,) = [t for t in cache.glob("unpacked-v*/*/*") if (t / "purelib/alpha").is_dir()]
    forget_beta()
    code, _, err = install(capsys, *args, "--venv", str(tmp_path / "B"))
    assert code == 0, err
    assert pyrun(tmp_path / "B", "import alpha, beta; print(alpha.V, beta.V)"
                 ).stdout.split() == ["a", "1"]
    assert (tmp_path / "B" / SITE / "alpha" / "__init__.py").samefile(
        alpha_tree / "purelib" / "alpha" / "__init__.py")  # the tree at hand, linked
    assert _tree_file(cache).exists()  # beta's unpacked again

    forget_beta()
    code, _, err = install(capsys, *args, "--venv", str(tmp_path / "C"), "--offline")
    assert code != 0
    assert "beta-1.0-py3-none-any.whl" in err
    assert not (tmp_path / "C").exists()


def _download_beta(server, cache):
    from packaging.version import Version

    from constrain.index.files import download
    from constrain.index.transport.client import HttpClient
    from constrain.models import DistFile

    (record,) = [r for r in server.records("beta") if r.kind == "wheel"]
    file = DistFile(project="beta", filename=record.filename, url=server.file_url(record.filename),
                    version=Version("1.0"), kind="wheel", hashes=(("sha256", record.sha256),),
                    size=record.size)
    with HttpClient(retries=0) as client:
        return download(client, file, cache), record.sha256


@pytest.mark.parametrize("in_memory", [True, False], ids=["read whole", "read from the file"])
@pytest.mark.parametrize("alter", ["rewrite", "replace", "none"])
def test_a_wheel_checked_at_download_is_hashed_again_if_touched_since(server, tmp_path,
                                                                      monkeypatch, alter,
                                                                      in_memory):
    """The unpacking step trusts the download's hash check only while the file is the one
    that was hashed: the same bytes rewritten in place (mtime put back), or another file moved
    over it, are hashed again and an altered wheel refused -- whether the wheel is read whole
    (its bytes hashed and unpacked) or is too large for that (read from its file)."""
    from constrain.cache.store import Cache
    from constrain.install import archive
    from constrain.install.unpack import InstallError, unpack

    monkeypatch.setattr(archive, "IN_MEMORY", 1 << 30 if in_memory else 0)
    cache = Cache(tmp_path / "cache")
    wheel, digest = _download_beta(server, cache)
    st = wheel.stat()
    data = bytearray(wheel.read_bytes())
    data[40] ^= 0x01
    if alter == "rewrite":  # same inode, same size, mtime put back: only the ctime tells
        with open(wheel, "r+b") as fh:
            fh.write(bytes(data))
        os.utime(wheel, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif alter == "replace":
        other = wheel.with_name("other")
        other.write_bytes(bytes(data))
        os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(other, wheel)
    if alter == "none":
        unpacked = unpack(wheel, digest, cache, wheel.name.split("_", 1)[1])
        assert (unpacked.root / "purelib" / "beta" / "__init__.py").read_text() == "V = 1\n"
        return
    with pytest.raises(InstallError, match="was changed after it was stored"):
        unpack(wheel, digest, cache, wheel.name.split("_", 1)[1])
    assert not wheel.exists()
