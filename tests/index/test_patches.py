"""The patches of httpx/httpcore/h2/hyperframe internals (``index/transport/patches.py``): each
still applies to the libraries installed, and with the switch off everything works the same."""

from __future__ import annotations

from constrain.cli import main
from constrain.index.transport import patches
from constrain.index.transport.client import HttpClient
from tests.index.test_client_http2 import BODY, H2Server, certificate  # noqa: F401 -- fixture
from tests.support.builders import PackageSpec


def test_every_patch_still_applies_to_the_libraries_installed():
    # A release of httpx, httpcore, h2 or hyperframe that renames or reshapes what a patch
    # touches would silently drop its gain (the patch then does nothing): this names the
    # library and its version instead.
    found = patches.problems()
    assert found == [], "patches that no longer apply:\n" + "\n".join(found)


def test_a_client_puts_every_process_wide_patch_in_force(make_index):
    index = make_index([PackageSpec("foo", "1.0")])
    patches.install_patches(False)
    with HttpClient(patches=True) as client:
        assert client.get(index.index_url + "/foo/").status == 200
    assert patches.installed() == {"large_frames", "frame_repr"}


def test_a_patch_that_no_longer_applies_is_named_with_its_library_version(monkeypatch):
    # planted: the helper the frame-repr patch replaces is gone from hyperframe
    import hyperframe
    import hyperframe.frame as frame_module

    patches.install_patches(False)
    monkeypatch.delattr(frame_module, "_raw_data_repr")
    (problem,) = patches.problems()
    assert problem.startswith(f"hyperframe {hyperframe.__version__}: ")
    assert "_raw_data_repr" in problem


def test_switched_off_the_client_speaks_http2_as_the_libraries_ship(certificate):  # noqa: F811
    from h2.settings import SettingCodes

    server = H2Server(*certificate)
    patches.install_patches(False)
    client = HttpClient(cert=str(certificate[0]), retries=0, patches=False)
    try:
        r = client.get(f"https://127.0.0.1:{server.port}/page")
        assert r.status == 200 and r.content == BODY
    finally:
        client.close()
        server.close()
    assert patches.installed() == frozenset()
    # the protocol's default frame size: the large-frames patch did not run
    assert server.client_settings.get(SettingCodes.MAX_FRAME_SIZE, 16384) == 16384


def test_the_environment_switch_turns_them_off_for_a_command(make_index, tmp_path, monkeypatch,
                                                             capsys):
    index = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"]),
                        PackageSpec("bar", "2.0")])
    patches.install_patches(False)
    monkeypatch.setenv(patches.ENV, "0")
    assert main(["resolve", "foo", "--index-url", index.index_url,
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert {"foo==1.0", "bar==2.0"} <= set(capsys.readouterr().out.splitlines())
    assert patches.installed() == frozenset()
