"""What one start of the hub decided, shared with the traitlets configs and the services.

``satco2 up`` writes ``<state_dir>/runtime.json`` (mode 0600) and passes its path in
``SATCO2_HUB_RUNTIME`` to JupyterHub, whose config (``hub-config/jupyterhub_config.py``) and the
gateway's (``hub-config/dask_gateway_config.py``) read it with :func:`load`.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import SatCO2Error, config
from . import state as _state

ENV = "SATCO2_HUB_RUNTIME"


@dataclass
class Runtime:
    state_dir: str
    repo_root: str
    python: str                  # the project venv's python (sys.executable of `satco2 up`)
    chp: str                     # configurable-http-proxy executable (npm)
    ip: str                      # public bind address (loopback)
    port: int                    # public port
    ports: dict                  # internal ports: hub_api, proxy_api, gateway_http, gateway_tcp, <service>
    root_mode: bool              # one system user per hub user
    settings: dict               # validated hub-config/settings.yaml (with overrides)
    services: dict = field(default_factory=dict)   # extra managed services found: name -> module
    env: dict = field(default_factory=dict)        # extra environment for user servers and services
    user_python: str = ""        # interpreter for processes run as hub users (satco2.hub.userpython)

    @property
    def venv_bin(self) -> Path:
        return Path(self.python).parent

    @property
    def venv_prefix(self) -> Path:
        return self.venv_bin.parent

    @property
    def url(self) -> str:
        host = "localhost" if self.ip in ("127.0.0.1", "localhost") else f"[{self.ip}]"
        return f"http://{host}:{self.port}/"

    @property
    def hub_config_dir(self) -> Path:
        return Path(self.repo_root) / "hub-config"

    def secret(self, name: str) -> str:
        return (Path(self.state_dir) / name).read_text().strip()

    def save(self) -> Path:
        path = Path(self.state_dir) / "runtime.json"
        _state.write_private(path, json.dumps(asdict(self), indent=1))
        return path


def load(path: str | os.PathLike | None = None) -> Runtime:
    """Read the runtime file named by ``path`` or ``$SATCO2_HUB_RUNTIME``."""
    path = path or config.env(ENV)
    if not path:
        raise SatCO2Error(f"{ENV} is not set: start the hub with `satco2 up`.")
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise SatCO2Error(f"the hub runtime file {path} does not exist: start the hub with `satco2 up`.") from None
    return Runtime(**data)
