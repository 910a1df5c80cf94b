"""Project configuration: paths and defaults, one place.

Defaults live in ``config.yaml`` beside this module (commented) and are merged into ``dask.config``
under the ``satco2`` key; environment variables ``SATCO2_<NAME>`` override them, as dask does
(``SATCO2_STATE_DIR`` → ``satco2.state-dir``).

Paths relative to the repository root resolve against :data:`REPO_ROOT`.
"""
from __future__ import annotations

import os
from pathlib import Path

import dask.config
import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent.parent  # src/satco2 -> repository root (editable install)

_defaults_file = PACKAGE_DIR / "config.yaml"
with open(_defaults_file) as f:
    _defaults = yaml.safe_load(f)
dask.config.update_defaults(_defaults)

_ENV = {
    "state-dir": "SATCO2_STATE_DIR",
    "service-state-dir": "SATCO2_SERVICE_STATE_DIR",
    "isolation": "SATCO2_ISOLATION",
    "scheduler-max-per-user": "SATCO2_SCHEDULER_MAX_PER_USER",
    "dashboards-max-live": "SATCO2_DASHBOARDS_MAX_LIVE",
    "dashboards-idle-seconds": "SATCO2_DASHBOARDS_IDLE_SECONDS",
    "scheduler-min-interval": "SATCO2_SCHEDULER_MIN_INTERVAL",
    "demo-root": "SATCO2_DEMO_ROOT",
    "mirror-root": "SATCO2_MIRROR_ROOT",
    "reports-dir": "SATCO2_REPORTS_DIR",
    "catalog-dir": "SATCO2_CATALOG_DIR",
    "hub-port": "SATCO2_HUB_PORT",
    "hub-ip": "SATCO2_HUB_IP",
}


def get(name: str, default=None):
    """Return setting ``satco2.<name>``: env var first, then dask.config (YAML defaults)."""
    env = _ENV.get(name)
    if env and os.environ.get(env):
        return os.environ[env]
    return dask.config.get(f"satco2.{name}", default=default)


def path(name: str) -> Path:
    """A path setting, resolved against the repository root when relative."""
    p = Path(os.path.expanduser(str(get(name))))
    return p if p.is_absolute() else REPO_ROOT / p


def state_dir() -> Path:
    return path("state-dir")


def service_state_dir() -> Path:
    """State of the dashboards and scheduler services (published registry, schedules, verified copies
    of published runs, cookie secrets): ``<state-dir>/services`` unless set. In root mode it belongs
    to the unprivileged service account (:data:`satco2.hub.accounts.SERVICE_ACCOUNT`), mode 0700."""
    v = get("service-state-dir")
    if not v:
        return state_dir() / "services"
    p = Path(os.path.expanduser(str(v)))
    return p if p.is_absolute() else REPO_ROOT / p


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
