"""Whether specifiers ask for a pre-release: answered once per set, in bounded memory."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from constrain.policies import prereleases


def test_the_answers_kept_per_specifier_set_stay_bounded_and_right(monkeypatch) -> None:
    # a host process resolving again and again asks about new set objects each time: the
    # memo must not keep every one alive, nor answer wrongly once emptied
    monkeypatch.setattr(prereleases, "_SET_ASKS", {})
    monkeypatch.setattr(prereleases, "_SET_ASKS_MAX", 10)
    for i in range(35):
        final, pre = SpecifierSet(f">={i}.0"), SpecifierSet(f">={i}.0b1")
        assert prereleases.names_prerelease([final]) is False
        assert prereleases.names_prerelease([final, pre]) is True
        assert len(prereleases._SET_ASKS) <= 10
