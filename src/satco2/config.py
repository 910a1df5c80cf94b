"""Project settings and paths: every setting declared once, in :data:`SETTINGS`.

A setting has a name (``state-dir``), a default, the environment variable that overrides it
(``SATCO2_STATE_DIR``), a type and a help line. Its effective value is, first found wins:

1. the environment variable (when set and not empty);
2. the hub settings file (``hub-config/settings.yaml``, or ``$SATCO2_HUB_SETTINGS``), for the
   settings that live there (``hub-port`` is ``hub.port``);
3. ``config.yaml`` beside this module (site overrides, key ``satco2``);
4. the default declared here.

``satco2 config show`` prints every setting, its value and where it came from. Paths relative to
the repository root resolve against :data:`REPO_ROOT`.

The process environment that is not a setting (what JupyterHub, the hub launcher and ``satco2 run``
hand to a process: ``JUPYTERHUB_USER``, ``SATCO2_RUN_DIR``, ...) is declared in :data:`PROCESS_ENV`
and read with :func:`env`; :func:`environ` and :func:`set_env` copy and change the environment of
child processes. No other module reads ``os.environ``.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from . import SatCO2Error

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent  # src/satco2 -> repository root (editable install)
CONFIG_FILE = PACKAGE_DIR / "config.yaml"
HUB_CONFIG_DIR = REPO_ROOT / "hub-config"


# ----------------------------------------------------------------------------------------------
# YAML: the one loader of the project's YAML files
def _yaml_error(path, what: str, e: Exception | None = None) -> SatCO2Error:
    why = f" ({e.__class__.__name__})" if e is not None else ""
    return SatCO2Error(f"the {what} {path} is not valid YAML{why}.")


@lru_cache(maxsize=64)
def _parse_yaml(path: str, mtime: float, what: str):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise _yaml_error(path, what, e) from None


def load_yaml(path: str | os.PathLike, what: str = "file", default: Any = ...) -> Any:
    """The parsed YAML file ``path`` (a fresh copy; parsed once per modification time).

    ``what`` names the file in errors (``"region registry"``). A missing file returns ``default``
    when one is given, else raises :class:`SatCO2Error`, as does a file that is not valid YAML.
    """
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except FileNotFoundError:
        if default is not ...:
            return default
        raise SatCO2Error(f"the {what} {p} does not exist.") from None
    return copy.deepcopy(_parse_yaml(str(p), mtime, what))


# ----------------------------------------------------------------------------------------------
# the settings
def _hub_isolation(v: str) -> str:
    if v not in ("0", "1"):
        raise SatCO2Error(f"SATCO2_HUB_ROOT_MODE must be 0 or 1, got {v!r}.")
    return "root" if v == "1" else "single-account"


@dataclass(frozen=True)
class Setting:
    """One setting. ``hub_key``: its dotted place in the hub settings file, when it lives there
    (the file's value wins over ``config.yaml`` and the default). ``from_env``: how the
    environment variable's text becomes the value, when not by ``type``."""

    name: str
    default: Any
    env: str
    help: str
    type: type = str
    hub_key: str | None = None
    from_env: Callable[[str], Any] | None = None


SETTINGS: list[Setting] = [
    # --- paths -----------------------------------------------------------------------------------
    Setting("state-dir", ".state", "SATCO2_STATE_DIR",
            "hub database, gateway database, cookie secret, tokens, admin password (secrets 0600)"),
    Setting("service-state-dir", "", "SATCO2_SERVICE_STATE_DIR",
            "the services' own state (published registry, schedules); empty: <state-dir>/services"),
    Setting("demo-root", "data/demo", "SATCO2_DEMO_ROOT",
            "embedded demo store, built by `satco2 demo` (seeded, synthetic)"),
    Setting("mirror-root", "data/mirror", "SATCO2_MIRROR_ROOT",
            "Zarr mirror written by `satco2 ingest`: a local path or any fsspec URL (s3://...)"),
    Setting("reports-dir", "reports", "SATCO2_REPORTS_DIR",
            "run reports: reports/<user>/<notebook>/<run-id>/"),
    Setting("catalog-dir", "catalogs", "SATCO2_CATALOG_DIR",
            "generated catalogs (intake 2 YAML, STAC), the product registry and regions.yaml"),
    Setting("notebooks-dir", "notebooks", "SATCO2_NOTEBOOKS_DIR",
            "the analysis notebooks and their .params.yaml schemas"),
    Setting("regions-file", "", "SATCO2_REGIONS",
            "the region registry; empty: <catalog-dir>/regions.yaml"),
    Setting("upstream-cache", "", "SATCO2_UPSTREAM_CACHE",
            "downloaded upstream files; empty: $XDG_CACHE_HOME/satco2/upstream (per user)"),
    Setting("usage-ledger", "", "SATCO2_USAGE_LEDGER",
            "compute usage ledger; empty: <state-dir>/usage.jsonl"),
    Setting("usage-settings", "", "SATCO2_USAGE_SETTINGS",
            "JSON of the hub settings' usage section (quotas), handed by the hub to its services; "
            "empty: read from the hub settings file"),
    Setting("shared-data", "", "SATCO2_SHARED_DATA",
            "real sample files for tests and benchmarks; empty: ../shared/data beside the repository"),
    Setting("hub-settings", "hub-config/settings.yaml", "SATCO2_HUB_SETTINGS",
            "the hub settings file (validated against hub-config/settings.schema.json)"),
    # --- the hub (hub-config/settings.yaml) ------------------------------------------------------
    Setting("hub-ip", "127.0.0.1", "SATCO2_HUB_IP", "the public proxy binds to this address only",
            hub_key="hub.ip"),
    Setting("hub-port", 8000, "SATCO2_HUB_PORT", "the hub's public port", int, hub_key="hub.port"),
    Setting("hub-isolation", "auto", "SATCO2_HUB_ROOT_MODE",
            "auto | root | single-account (the variable: 1 = root, 0 = single-account)",
            hub_key="hub.isolation", from_env=_hub_isolation),
    Setting("isolation", "", "SATCO2_ISOLATION",
            '"root" inside a root-mode hub (set by `satco2 up` for servers and services), else "single"'),
    Setting("scheduler-max-per-user", 20, "SATCO2_SCHEDULER_MAX_PER_USER",
            "schedules one user may hold", int, hub_key="scheduler.max_schedules_per_user"),
    Setting("scheduler-min-interval", 60, "SATCO2_SCHEDULER_MIN_INTERVAL",
            "shortest schedule period in seconds", int, hub_key="scheduler.min_interval_seconds"),
    Setting("scheduler-tick", 15.0, "SATCO2_SCHEDULER_TICK",
            "seconds between two looks of the scheduler service at its schedules", float),
    Setting("job-token-seconds", 12 * 3600, "SATCO2_JOB_TOKEN_SECONDS",
            "lifetime of the hub token the scheduler gives a scheduled run", int),
    Setting("dashboards-max-live", 4, "SATCO2_DASHBOARDS_MAX_LIVE",
            "live dashboard sessions built at once", int, hub_key="viewers.max_live_sessions"),
    Setting("dashboards-idle-seconds", 60, "SATCO2_DASHBOARDS_IDLE_SECONDS",
            "seconds an unused live dashboard session is kept", int,
            hub_key="viewers.session_idle_seconds"),
    Setting("dashboards-origins", "", "SATCO2_DASHBOARDS_ORIGINS",
            "extra host:port origins allowed to open dashboard websockets (comma-separated)"),
    Setting("busy-activity-interval", 60.0, "SATCO2_BUSY_ACTIVITY_INTERVAL",
            "seconds between two reports of busy kernels as activity to the hub", float),
    # --- HPC gateway (hub-config/hpc) ------------------------------------------------------------
    Setting("hpc-scheduler", "slurm", "SATCO2_HPC_SCHEDULER", "slurm | pbs"),
    Setting("hpc-partition", "", "SATCO2_HPC_PARTITION", "batch partition/queue ('' = site default)",
            hub_key="gateway.slurm.partition"),
    Setting("hpc-account", "", "SATCO2_HPC_ACCOUNT", "batch account ('' = the user's default)",
            hub_key="gateway.slurm.account"),
    Setting("hpc-qos", "", "SATCO2_HPC_QOS", "batch QOS ('' = none)", hub_key="gateway.slurm.qos"),
    Setting("hpc-python", "", "SATCO2_HPC_PYTHON",
            "a python with the project environment on the compute nodes", hub_key="gateway.slurm.python"),
]
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

#: The process environment that is not a setting: what JupyterHub, `satco2 up` and `satco2 run`
#: give a process. Read with :func:`env`.
PROCESS_ENV: dict[str, str] = {
    "JUPYTERHUB_USER": "the hub user a server, service request or scheduled run acts for",
    "JUPYTERHUB_API_TOKEN": "the process's hub token (user server or service)",
    "JUPYTERHUB_API_URL": "the hub's REST API",
    "JUPYTERHUB_BASE_URL": "the hub's base URL path",
    "JUPYTERHUB_PUBLIC_URL": "the hub's public URL, when configured",
    "JUPYTERHUB_SERVICE_URL": "where a managed service listens",
    "JUPYTERHUB_SERVICE_PREFIX": "the URL prefix of a service or server",
    "DASK_GATEWAY__ADDRESS": "the Dask Gateway a hub server reaches",
    "XDG_CACHE_HOME": "the user's cache folder",
    "SATCO2_HUB_URL": "the hub's public URL (set by `satco2 up` for servers and services)",
    "SATCO2_HUB_RUNTIME": "the runtime file of the running hub (set by `satco2 up`)",
    "SATCO2_RUN_DIR": "the report folder of the running `satco2 run` (its notebook's outputs)",
    "SATCO2_RUN_ID": "the id of the running `satco2 run`",
    "SATCO2_RUN_NOTEBOOK": "the notebook name of the running `satco2 run`",
    "SATCO2_NEW_CLUSTER": "1: a scheduled run gets a Dask cluster of its own",
    "MEM_LIMIT": "the memory limit (bytes) JupyterHub gives a user server (sizes the match-up chunk cache)",
}


def _hub_settings_file() -> Path:
    return path("hub-settings")


def _dig(doc: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _convert(s: Setting, value: Any, source: str) -> Any:
    if value is None or s.type is str:
        return "" if value is None else str(value)
    try:
        return s.type(value)
    except (TypeError, ValueError):
        kind = "an integer" if s.type is int else "a number"
        raise SatCO2Error(f"{source} must be {kind} for setting {s.name}, got {value!r}.") from None


def _site() -> dict:
    """The ``satco2`` mapping of ``config.yaml``; an unknown name there is an error."""
    site = (load_yaml(CONFIG_FILE, "settings file", default=None) or {}).get("satco2") or {}
    if not isinstance(site, dict):
        raise SatCO2Error(f"{CONFIG_FILE} must hold a mapping under 'satco2'.")
    unknown = sorted(set(site) - set(BY_NAME))
    if unknown:
        raise SatCO2Error(f"{CONFIG_FILE} names unknown setting(s) {', '.join(unknown)}; "
                          "`satco2 config show` lists them.")
    return site


def lookup(name: str) -> tuple[Any, str]:
    """``(value, source)`` of setting ``name``; source is ``env VAR``, the hub settings file's
    name, ``config.yaml`` or ``default``."""
    try:
        s = BY_NAME[name]
    except KeyError:
        raise SatCO2Error(f"unknown setting {name!r}; `satco2 config show` lists them.") from None
    raw = os.environ.get(s.env)
    if raw:
        if s.from_env:
            return s.from_env(raw), f"env {s.env}"
        return _convert(s, raw, s.env), f"env {s.env}"
    if s.hub_key:
        f = _hub_settings_file()
        doc = load_yaml(f, "hub settings file", default=None)
        v = _dig(doc, s.hub_key)
        if v is not None:
            return _convert(s, v, f"{f.name} {s.hub_key}"), f.name
    site = _site()
    if site.get(name) is not None:
        return _convert(s, site[name], f"config.yaml {name}"), "config.yaml"
    return s.default, "default"


def get(name: str) -> Any:
    """The effective value of setting ``name`` (typed: ``str``, ``int`` or ``float``)."""
    return lookup(name)[0]


def show() -> list[dict]:
    """Every setting: ``{name, value, source, env, help}``; a path setting's value is the path in
    effect (resolved against the repository, its fallback when empty)."""
    out = []
    for s in SETTINGS:
        value, source = lookup(s.name)
        if s.name in _RESOLVED:
            value = str(_RESOLVED[s.name]())
        out.append({"name": s.name, "value": value, "source": source, "env": s.env, "help": s.help})
    return out


def hub_overrides() -> dict:
    """The hub-settings-file keys the environment overrides, as a nested dict to merge over the
    file (``{"hub": {"port": 8123}}`` for ``SATCO2_HUB_PORT=8123``)."""
    out: dict = {}
    for s in SETTINGS:
        if s.hub_key and os.environ.get(s.env):
            *parents, last = s.hub_key.split(".")
            d = out
            for p in parents:
                d = d.setdefault(p, {})
            d[last] = get(s.name)
    return out


# ----------------------------------------------------------------------------------------------
# the process environment
def env(name: str, default: str | None = None) -> str | None:
    """The process environment variable ``name`` (declared in :data:`PROCESS_ENV`), or ``default``
    when unset or empty."""
    if name not in PROCESS_ENV:
        raise KeyError(f"{name} is not declared in satco2.config.PROCESS_ENV")
    return os.environ.get(name) or default


def environ() -> dict[str, str]:
    """A copy of this process's environment (for a child process)."""
    return dict(os.environ)


def set_env(values: Mapping[str, Any]) -> dict[str, str | None]:
    """Set environment variables of this process (``None`` removes one); returns the old values."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = str(v)
    return old


# ----------------------------------------------------------------------------------------------
# typed accessors
def path(name: str) -> Path:
    """A path setting, resolved against the repository root when relative."""
    p = Path(os.path.expanduser(str(get(name))))
    return p if p.is_absolute() else REPO_ROOT / p


def _path_or(name: str, fallback: Path) -> Path:
    return path(name) if get(name) else fallback


def state_dir() -> Path:
    return path("state-dir")


def service_state_dir() -> Path:
    """State of the dashboards and scheduler services (published registry, schedules, verified copies
    of published runs, cookie secrets): ``<state-dir>/services`` unless set. In root mode it belongs
    to the unprivileged service account (:data:`satco2.hub.accounts.SERVICE_ACCOUNT`), mode 0700."""
    return _path_or("service-state-dir", state_dir() / "services")


def isolation() -> str:
    """``"root"`` inside a root-mode hub (every hub user its own system account), ``"single"``
    otherwise (one account: a single-account hub, or no hub at all)."""
    return "root" if str(get("isolation") or "").lower() == "root" else "single"


def demo_root() -> Path:
    return path("demo-root")


def mirror_root() -> str:
    """Mirror root: a local path or any fsspec URL (``s3://bucket/prefix``)."""
    root = str(get("mirror-root"))
    if "://" in root:
        return root
    return str(path("mirror-root"))


def reports_dir() -> Path:
    return path("reports-dir")


def catalog_dir() -> Path:
    return path("catalog-dir")


def notebooks_dir() -> Path:
    return path("notebooks-dir")


def regions_file() -> Path:
    return _path_or("regions-file", catalog_dir() / "regions.yaml")


def upstream_cache() -> Path:
    """Folder of downloaded upstream files: ``upstream-cache``, else the user's own
    ``$XDG_CACHE_HOME/satco2/upstream`` (``~/.cache/satco2/upstream``): per user, because a
    shared folder written by one hub user is not writable by the others."""
    base = Path(env("XDG_CACHE_HOME") or Path.home() / ".cache")
    return _path_or("upstream-cache", base / "satco2" / "upstream")


def usage_ledger() -> Path | None:
    """The usage ledger when set, else None (the caller's ``<state>/usage.jsonl``)."""
    return path("usage-ledger") if get("usage-ledger") else None


def shared_data() -> Path:
    return _path_or("shared-data", REPO_ROOT.parent / "shared" / "data")


def hub_settings_file() -> Path:
    return _hub_settings_file()


#: the accessor giving each path setting's effective value
_RESOLVED: dict[str, Callable[[], Any]] = {
    "state-dir": state_dir, "service-state-dir": service_state_dir, "demo-root": demo_root,
    "mirror-root": mirror_root, "reports-dir": reports_dir, "catalog-dir": catalog_dir,
    "notebooks-dir": notebooks_dir, "regions-file": regions_file, "upstream-cache": upstream_cache,
    "usage-ledger": lambda: usage_ledger() or state_dir() / "usage.jsonl", "shared-data": shared_data,
    "hub-settings": hub_settings_file, "isolation": isolation,
}


# ----------------------------------------------------------------------------------------------
# `satco2 config show`
def register(app) -> None:
    import typer

    config_app = typer.Typer(help="The project's settings.", no_args_is_help=True)

    @config_app.command("show")
    def show_cmd(as_json: bool = typer.Option(False, "--json", help="one JSON list instead of lines")) -> None:
        """Print every effective setting, its value and where it came from."""
        rows = show()
        if as_json:
            typer.echo(json.dumps(rows, indent=1))
            return
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            typer.echo(f"{r['name']:<{width}} = {r['value']}  ({r['source']})")

    app.add_typer(config_app, name="config")
