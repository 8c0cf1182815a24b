"""Licences normalised to SPDX: the order of the sources, short names, texts, and unknowns."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from constrain.review.licences import Declared, normalise, read_declared
from tests.support.builders import make_sdist, make_wheel, metadata_text

MIT_TEXT = """MIT License

Copyright (c) 2020 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
"""
BSD3_TEXT = """Copyright 2010 Pallets

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
3.  Neither the name of the copyright holder nor the names of its
    contributors may be used to endorse or promote products derived from
"""


@pytest.mark.parametrize(("declared", "spdx", "source"), [
    # License-Expression first, normalised; a valid one wins over the rest
    (Declared("apache-2.0 or mit", ("License :: OSI Approved :: BSD License",), "BSD"),
     "Apache-2.0 OR MIT", "License-Expression"),
    # then exact classifiers (two: either licence)
    (Declared(None, ("License :: OSI Approved :: MIT License",), "Apache 2.0"), "MIT",
     "classifier"),
    (Declared(None, ("License :: OSI Approved :: BSD 3-Clause License",
                     "License :: OSI Approved :: MIT License")), "BSD-3-Clause OR MIT",
     "classifier"),
    # a family classifier is narrowed by the License field
    (Declared(None, ("License :: OSI Approved :: Apache Software License",), "Apache 2"),
     "Apache-2.0", "License"),
    (Declared(None, (), "MIT License"), "MIT", "License"),
    (Declared(None, (), "MIT license"), "MIT", "License"),
    (Declared(None, (), "Apache License, Version 2.0"), "Apache-2.0", "License"),
    (Declared(None, (), "3-Clause BSD License"), "BSD-3-Clause", "License"),
    (Declared(None, (), "bsd-3-clause"), "BSD-3-Clause", "License"),
    # whole texts, recognised by their opening
    (Declared(None, (), MIT_TEXT), "MIT", "License text"),
    (Declared(None, ("License :: OSI Approved :: BSD License",), BSD3_TEXT), "BSD-3-Clause",
     "License text"),
    # the wheel's one licence file, when it agrees with the classifier
    (Declared(None, ("License :: OSI Approved :: BSD License",), "BSD", (BSD3_TEXT,)),
     "BSD-3-Clause", "licence file"),
    (Declared(None, ("License :: OSI Approved :: Apache Software License",), None),
     "Apache-2.0", "classifier (no version: read as 2.0)"),
])
def test_licence_sources_in_order(declared, spdx, source):
    got = normalise(declared)
    assert (got.spdx, got.source) == (spdx, source)


@pytest.mark.parametrize("declared", [
    Declared(None, (), None),
    Declared(None, (), "UNKNOWN"),
    Declared(None, ("License :: OSI Approved :: BSD License",), "BSD"),  # 2 or 3 clauses?
    Declared("not a licence", (), "LGPL with exceptions"),
    # a licence file that contradicts the classifier is left to the reviewer
    Declared(None, ("License :: OSI Approved :: BSD License",), None, (MIT_TEXT,)),
    # two licence files: which applies to what is not for a program to say
    Declared(None, ("License :: OSI Approved :: Apache Software License",), None,
             (MIT_TEXT, BSD3_TEXT)),
    Declared(None, (), "Copyright (c) Someone. All rights reserved.\nDo not copy.\n"),
])
def test_unknown_licences_are_null_with_what_was_declared(declared):
    got = normalise(declared)
    assert got.spdx is None and got.source is None
    assert got.declared is None or "\n" not in got.declared


def test_a_whole_text_is_never_the_licence_nor_the_declared_line():
    got = normalise(Declared(None, (), "Proprietary terms\n" + "x " * 5000))
    assert got.spdx is None and got.declared == "Proprietary terms"
    long_line = normalise(Declared(None, (), "y" * 500))
    assert long_line.spdx is None and len(long_line.declared) == 100


@given(st.text(max_size=300), st.lists(st.text(max_size=60), max_size=3),
       st.one_of(st.none(), st.text(max_size=60)))
def test_never_raises_and_any_answer_is_spdx(field, classifiers, expression):
    from packaging.licenses import canonicalize_license_expression

    got = normalise(Declared(expression, tuple(classifiers), field))
    if got.spdx is not None:
        assert canonicalize_license_expression(got.spdx) == got.spdx
    assert got.declared is None or (len(got.declared) <= 100 and "\n" not in got.declared)


def test_read_from_a_wheel_and_an_sdist(tmp_path: Path):
    meta = metadata_text("pkg", "1.0", metadata_version="2.1").rstrip("\n") + (
        "\nClassifier: License :: OSI Approved :: Apache Software License\n\n")
    wheel = make_wheel(tmp_path, "pkg", "1.0", metadata_override=meta,
                       extra_entries={"pkg-1.0.dist-info/LICENSE.txt": BSD3_TEXT})
    got = read_declared(wheel)
    assert got is not None
    assert got.classifiers == ("License :: OSI Approved :: Apache Software License",)
    assert got.files == (BSD3_TEXT,)
    # the file contradicts the classifier: unknown, the classifier named for the reviewer
    assert normalise(got).spdx is None
    assert normalise(got).declared == "OSI Approved :: Apache Software License"
    assert read_declared(tmp_path / "nothing.whl") is None
    sdist = make_sdist(tmp_path, "other", "2.0", license="MIT License")
    assert normalise(read_declared(sdist)).spdx == "MIT"
