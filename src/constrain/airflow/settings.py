"""Where each Airflow-constraints setting comes from (flag, environment variable, configuration
key), and whether a command's constraint layers would change nothing at all.

No dataclass and nothing of packaging here: a resolve that turns Airflow's constraints off and
has no policy, override or constraint to layer asks :func:`layers_change_nothing` and imports
none of :mod:`.layers`, :mod:`.plan` and :mod:`.published` (four frozen dataclasses and their
modules, ~3 % of a remembered resolve's instructions).
"""

from __future__ import annotations

from collections.abc import Mapping

#: ``typing.TYPE_CHECKING`` without importing :mod:`typing` (type checkers take it as true)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .ports import LayerOptions

#: option -> (environment variable, configuration key)
SETTINGS = {
    "use": ("CONSTRAIN_AIRFLOW_CONSTRAINTS", "airflow-constraints"),
    "mode": ("CONSTRAIN_AIRFLOW_CONSTRAINTS_MODE", "airflow-constraints-mode"),
    "ref": ("CONSTRAIN_AIRFLOW_CONSTRAINTS_REF", "airflow-constraints-ref"),
    "url_template": ("CONSTRAIN_AIRFLOW_CONSTRAINTS_URL", "airflow-constraints-url"),
}
#: option -> its flag
FLAGS = {
    "use": "--airflow-constraints",
    "mode": "--airflow-constraints-mode",
    "ref": "--airflow-constraints-ref",
    "url_template": "--airflow-constraints-url",
}


def layers_change_nothing(options: LayerOptions, environ: Mapping[str, str],
                          config: Mapping[str, object], constraints: bool) -> bool:
    """Would the constraint layers of a resolve with ``options`` change nothing? True when the
    flag turns Airflow's constraints off and no other Airflow setting is given by flag,
    environment or configuration (each given one is checked: a bad value is an error even
    then), no policy file is named (flag or ``policies`` in the configuration), no reference
    file, no override, and the resolve has no constraint (``constraints``: each would be
    checked against the requirements). The flag wins over the environment and configuration
    for ``use``, which are then not read."""
    use = options.airflow_constraints
    if use is None or use.strip() != "off":
        return False
    if (options.airflow_constraints_mode is not None or options.airflow_constraints_ref is not None
            or options.airflow_constraints_url is not None):
        return False
    for key, (env_name, config_key) in SETTINGS.items():
        if key != "use" and (environ.get(env_name) or config.get(config_key) is not None):
            return False
    return not (constraints or options.policies or config.get("policies") is not None
                or options.policy_reference is not None or options.overrides)
