"""The check after an install (``pip check``): which requirements it asks about."""

from __future__ import annotations

from types import SimpleNamespace

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.version import Version

from constrain.install.plan import Installed
from constrain.install.verify import check


def test_a_requirement_of_an_extra_is_not_asked_for_and_one_whose_marker_holds_is(tmp_path):
    site = tmp_path / "site"
    (site / "gamma-1.0.dist-info").mkdir(parents=True)
    interp = SimpleNamespace(site_dirs=[str(site)], markers=default_environment())
    gamma = Installed("gamma", "gamma", Version("1.0"), "1.0", site / "gamma-1.0.dist-info")
    requires = [Requirement(text) for text in (
        'delta; extra == "tests"',  # only for gamma[tests]: pip check does not ask
        "zeta; extra == 'Docs_Build'",  # the same, spelt otherwise
        'beta>=2; python_version >= "3" and extra == "x"',
        'beta>=2; python_version >= "3"',  # holds here: beta is missing
        'epsilon; python_version < "3"',
        'eta; extra == "tests" or python_version >= "3"',  # holds without the extra
    )]
    problems = check(interp, {"gamma-1.0.dist-info": (gamma, requires)})  # type: ignore[arg-type]
    assert problems == ["gamma 1.0 requires beta, which is not installed.",
                        "gamma 1.0 requires eta, which is not installed."]
