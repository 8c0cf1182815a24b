"""A command's session is built with the index options its requirement files carry: ``-i`` and
``--extra-index-url`` inside a ``-r`` file (resolve) or a refresh mode's file apply to the whole
command, unless the command line set them."""

from __future__ import annotations

from constrain.cli import main
from tests.support.builders import PackageSpec


def _pins(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_index_options_in_a_requirement_file_choose_the_indexes(index_server, tmp_path,
                                                                 capsys) -> None:
    first = index_server([PackageSpec("app", "1.0", requires_dist=["only-second>=1"])])
    second = index_server([PackageSpec("only-second", "2.0")])
    reqs = tmp_path / "reqs.txt"
    reqs.write_text(f"--index-url {first.index_url}\n--extra-index-url {second.index_url}\napp\n")

    assert main(["resolve", "--python", "3.11", "-r", str(reqs),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert _pins(capsys.readouterr().out) == ["app==1.0", "only-second==2.0"]

    # the command line wins over the file: the first index alone lacks only-second
    code = main(["resolve", "--python", "3.11", "-r", str(reqs), "--extra-index-url",
                 first.index_url, "--cache-dir", str(tmp_path / "cache")])
    err = capsys.readouterr().err
    assert code == 1
    assert "only-second" in err


def test_a_refresh_mode_file_adds_its_index_for_every_mode(index_server, tmp_path,
                                                          capsys) -> None:
    main_index = index_server([PackageSpec("app", "1.0")])
    extra = index_server([PackageSpec("tool", "3.0")])
    mode_file = tmp_path / "tools.txt"
    mode_file.write_text(f"--extra-index-url {extra.index_url}\ntool\n")
    out_dir = tmp_path / "constraints"

    code = main(["refresh", "app", "--mode", f"tools=-r {mode_file}", "--python", "3.11",
                 "--index-url", main_index.index_url, "--output-dir", str(out_dir),
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 0, capsys.readouterr().err
    assert _pins((out_dir / "constraints-3.11.txt").read_text()) == ["app==1.0"]
    assert _pins((out_dir / "tools-3.11.txt").read_text()) == ["tool==3.0"]
