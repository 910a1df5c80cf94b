"""Hub settings: ``hub-config/settings.yaml``, validated against ``hub-config/settings.schema.json``.

One source for the local deployment, the Kubernetes values and the HPC gateway configuration.
The file in use and the keys the environment overrides are settings of :mod:`satco2.config`
(``hub-settings``: ``SATCO2_HUB_SETTINGS``; ``hub-port``: ``SATCO2_HUB_PORT`` over ``hub.port``;
``hub-ip``, ``hub-isolation``, ``scheduler-*``, ``dashboards-*``, ``hpc-*``: see
``satco2 config show``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .. import SatCO2Error, config
from ..config import HUB_CONFIG_DIR

SETTINGS_FILE = HUB_CONFIG_DIR / "settings.yaml"
SCHEMA_FILE = HUB_CONFIG_DIR / "settings.schema.json"


def settings_path() -> Path:
    """The settings file in use (setting ``hub-settings``: ``hub-config/settings.yaml`` unless
    ``SATCO2_HUB_SETTINGS`` names another)."""
    return config.hub_settings_file()


def _schema() -> dict:
    with open(SCHEMA_FILE) as f:
        return json.load(f)


def _where(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def validate(settings: dict, source: str = "settings") -> dict:
    """Check ``settings`` against the schema and the cross-field rules; return it unchanged.

    Raises :class:`SatCO2Error` naming the first offending key.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(settings), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        raise SatCO2Error(f"{source}: {_where(e)} is invalid: {e.message}.")
    opts = settings["gateway"]["cluster_options"]
    for name, bound in opts.items():
        if not bound["min"] <= bound["default"] <= bound["max"]:
            raise SatCO2Error(
                f"{source}: gateway.cluster_options.{name} needs min <= default <= max, "
                f"got min={bound['min']}, default={bound['default']}, max={bound['max']}."
            )
    limits = settings["gateway"]["limits"]
    for who, lim in [("default", limits["default"]), *limits.get("users", {}).items()]:
        if opts["n_workers"]["default"] > lim["cluster_max_workers"]:
            raise SatCO2Error(
                f"{source}: gateway.cluster_options.n_workers.default ({opts['n_workers']['default']}) "
                f"exceeds gateway.limits {who} cluster_max_workers ({lim['cluster_max_workers']})."
            )
    ports = [p for p in settings["ports"].values() if p]
    if len(ports) != len(set(ports)) or settings["hub"]["port"] in ports:
        raise SatCO2Error(f"{source}: ports and hub.port must all differ (0 means pick a free one).")
    return settings


def load(path: str | os.PathLike | None = None, overrides: dict | None = None) -> dict:
    """Load, apply environment overrides and ``overrides`` (nested dict merged), validate.

    Returns a plain dict (the YAML's structure).
    """
    path = Path(path) if path else settings_path()
    settings = config.load_yaml(path, "hub settings file")
    if not isinstance(settings, dict):
        raise SatCO2Error(f"the hub settings file {path} must hold a mapping.")
    settings.setdefault("hub", {})
    _merge(settings, config.hub_overrides())
    if overrides:
        _merge(settings, overrides)
    return validate(settings, source=str(path))


def _merge(base: dict, extra: dict) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def user_limits(settings: dict, username: str) -> dict:
    """Per-user gateway limits: ``gateway.limits.users[username]`` or ``gateway.limits.default``."""
    limits = settings["gateway"]["limits"]
    return dict(limits.get("users", {}).get(username, limits["default"]))
