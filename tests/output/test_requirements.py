"""The requirements format: every hash of every pin, or no hashes at all."""

from __future__ import annotations

import dataclasses
import hashlib

from constrain.output import pins_without_hashes, render

from .conftest import fake_file, make_pin


def test_each_pin_lists_every_sha256_of_its_files(synthetic_set):
    text = render(synthetic_set, "requirements")
    sqla = synthetic_set.pin("sqlalchemy")
    digests = sorted(f.sha256 for f in sqla.files)
    lines = text.splitlines()
    i = lines.index("SQLAlchemy==1.4.52 \\")
    assert lines[i + 1 : i + 3] == [
        f"    --hash=sha256:{digests[0]} \\",
        f"    --hash=sha256:{digests[1]}",
    ]
    for pin in synthetic_set.pins:
        assert f"{pin.display_name}=={pin.version} \\" in lines


def test_duplicate_digests_are_listed_once(synthetic_set):
    same = hashlib.sha256(b"x").hexdigest()
    pin = make_pin("dup", "1.0", [fake_file("dup", "1.0", sha256=same),
                                  fake_file("dup", "1.0", tag="py2-none-any", sha256=same)])
    text = render(dataclasses.replace(synthetic_set, pins=(pin,)), "requirements")
    assert text.count(f"--hash=sha256:{same}") == 1


def test_a_pin_without_hashes_turns_hashes_off_for_the_whole_file(synthetic_set):
    bare = make_pin("nohash", "0.1", [fake_file("nohash", "0.1", sha256="")])
    broken = dataclasses.replace(synthetic_set, pins=(*synthetic_set.pins, bare))
    assert [p.name for p in pins_without_hashes(broken)] == ["nohash"]
    text = render(broken, "requirements")
    assert "--hash" not in text
    assert "#   nohash==0.1" in text.splitlines()
    assert "--require-hashes" in text  # the warning says what no longer works
    assert "nohash==0.1" in text.splitlines()
    assert "SQLAlchemy==1.4.52" in text.splitlines()


def test_annotations_follow_the_last_hash_line(synthetic_set):
    lines = render(synthetic_set, "requirements", annotate=True).splitlines()
    i = lines.index("apache-airflow==2.10.5 \\")
    assert lines[i + 1].startswith("    --hash=sha256:") and not lines[i + 1].endswith("\\")
    assert lines[i + 2] == "    # via command line"
