"""A walk over a project's versions skips, untested, only versions no specifier bound admits:
the candidates are the versions a test of every release gives."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from constrain.policies.filters import VersionFiles, _ListedVersions, iter_choices
from constrain.policies.prereleases import PRERELEASE_MODES, allows_prereleases
from constrain.policies.window import bounds, span

# spellings that sort next to each other or compare equal: a local label, trailing zeros,
# pre, post and dev releases, an epoch
_PARTS = st.tuples(
    st.integers(0, 1), st.integers(0, 3), st.integers(0, 2),
    st.sampled_from(["", ".0", "a1", "b2", "rc1", ".post1", ".dev0", ".post1.dev2"]),
    st.sampled_from(["", "", "+cpu", "+1.local"]),
)
_OPERATORS = ["<", "<=", ">", ">=", "~=", "==", "!=", "===", "==*", "!=*"]


def _text(parts: tuple[int, int, int, str, str], local: bool = True) -> str:
    epoch, major, minor, suffix, label = parts
    return f"{'1!' if epoch else ''}{major}.{minor}{suffix}{label if local else ''}"


def _spec(operator: str, parts: tuple[int, int, int, str, str]) -> str:
    if operator.endswith("*"):
        epoch, major, minor, _, _ = parts
        return f"{operator[:-1]}{'1!' if epoch else ''}{major}.{minor}.*"
    # a local label only where packaging takes one (==, !=, ===)
    return operator + _text(parts, local=operator in ("==", "!=", "==="))


def _spec_sets(draw_specs: list[list[tuple[str, tuple]]]) -> list[SpecifierSet]:
    out = []
    for specs in draw_specs:
        try:
            out.append(SpecifierSet(",".join(_spec(op, parts) for op, parts in specs)))
        except InvalidSpecifier:
            assume(False)
    return out


class _File:
    """What a walk reads of a file: not yanked."""

    is_yanked = False


@settings(max_examples=400)
@given(releases=st.lists(_PARTS, max_size=30), mode=st.sampled_from(PRERELEASE_MODES),
       data=st.data())
def test_a_walk_gives_the_candidates_a_test_of_every_release_gives(releases, mode, data
                                                                   ) -> None:
    # a listing: one entry per distinct version, highest first (as group_versions makes it)
    versions = sorted({Version(_text(p)) for p in releases}, reverse=True)
    # bounds on versions of the listing most often: where an off-by-one would show
    near = st.sampled_from(releases) if releases else _PARTS
    specs = data.draw(st.lists(st.lists(st.tuples(st.sampled_from(_OPERATORS), near | _PARTS),
                                        max_size=3), max_size=3))
    spec_sets = _spec_sets(specs)

    def fits(v: Version) -> bool:
        return all(s.contains(v, prereleases=True) for s in spec_sets)

    final_fits = any(fits(v) for v in versions if not v.is_prerelease)
    allow_pre = allows_prereleases(mode, spec_sets, final_fits)
    expected = [v for v in versions if (allow_pre or not v.is_prerelease) and fits(v)]
    eager = tuple(VersionFiles(v, (_File(),)) for v in versions)  # type: ignore[arg-type]
    lazy = _ListedVersions(versions, lambda position: (_File(),))  # type: ignore[arg-type,return-value]
    for listing in (eager, lazy):
        tested: list[Version] = []

        def counting(v: Version, tested: list[Version] = tested) -> bool:
            tested.append(v)
            return fits(v)

        assert [c.version for c in iter_choices(listing, spec_sets, mode, counting)] == expected
        assert [c.version for c in iter_choices(listing, spec_sets, mode)] == expected
        assert len(tested) == len(set(tested)), "a version was tested twice"
    # and what the walk skips, no version there could pass
    start, stop = span(len(versions), versions.__getitem__, bounds(spec_sets))
    assert 0 <= start <= stop <= len(versions)
    assert not any(fits(v) for v in versions[:start] + versions[stop:])


def test_a_walk_tests_no_release_outside_the_bounds() -> None:
    # ``<2`` on a project at 5.x, ``>=4.2`` with a few releases above it: the walk tests the
    # versions in between, not the whole history
    versions = [Version(f"{major}.{minor}") for major in (5, 4, 3, 2, 1) for minor in (9, 5, 2, 0)]
    listing = _ListedVersions(versions, lambda position: (_File(),))  # type: ignore[arg-type,return-value]
    for text, admitted in ((">=1.1,<2", ["1.9", "1.5", "1.2"]),
                           (">=4.2", ["5.9", "5.5", "5.2", "5.0", "4.9", "4.5", "4.2"]),
                           ("<=3.0,>2.5", ["3.0", "2.9"]), ("~=3.2,<4", ["3.9", "3.5", "3.2"])):
        spec = SpecifierSet(text)
        tested: list[Version] = []

        def counting(v: Version, spec: SpecifierSet = spec,
                     tested: list[Version] = tested) -> bool:
            tested.append(v)
            return spec.contains(v, prereleases=True)

        got = [str(c.version) for c in iter_choices(listing, [spec], "allow", counting)]
        assert got == admitted
        assert [str(v) for v in tested] == admitted, text


def test_a_local_label_at_an_inclusive_upper_bound_stays_a_candidate() -> None:
    # ``<=1.0`` admits ``1.0+cpu`` (packaging compares the public version), which sorts above
    # ``1.0``: the bound must not cut it off
    versions = [Version(t) for t in ("1.1", "1.0+cpu", "1.0", "0.9")]
    listing = _ListedVersions(versions, lambda position: (_File(),))  # type: ignore[arg-type,return-value]
    got = [str(c.version) for c in iter_choices(listing, [SpecifierSet("<=1.0")], "allow")]
    assert got == ["1.0+cpu", "1.0", "0.9"]
    got = [str(c.version) for c in iter_choices(listing, [SpecifierSet(">1.0")], "allow")]
    assert got == ["1.1"]
