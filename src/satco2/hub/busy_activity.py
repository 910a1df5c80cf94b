"""Jupyter server extension: a kernel that is computing counts as activity.

jupyter_server records kernel activity only when a kernel sends a message, so a kernel busy with a
long silent computation (no output) looks idle to the hub and jupyterhub-idle-culler would stop its
server. This extension marks the server active every ``SATCO2_BUSY_ACTIVITY_INTERVAL`` seconds
(default 60) while any kernel's ``execution_state`` is ``busy``, through jupyter_server's hook:
every ``web_app.settings`` key ending in ``_last_activity`` enters ``last_activity()``, which the
single-user server reports to the hub.

Enabled in single-user servers by ``hub-config/singleuser/jupyter_server_config.d/``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .. import config

SETTING = "satco2_busy_kernels_last_activity"


def _jupyter_server_extension_points():
    return [{"module": "satco2.hub.busy_activity"}]


def busy_kernels(kernel_manager) -> list[str]:
    """Ids of kernels whose last known execution state is ``busy``."""
    out = []
    for kid in list(kernel_manager.list_kernel_ids()):
        try:
            kernel = kernel_manager.get_kernel(kid)
        except KeyError:
            continue
        if getattr(kernel, "execution_state", None) == "busy":
            out.append(kid)
    return out


def _load_jupyter_server_extension(serverapp):
    from tornado.ioloop import PeriodicCallback

    settings = serverapp.web_app.settings
    interval = config.get("busy-activity-interval")

    def mark():
        if busy_kernels(serverapp.kernel_manager):
            settings[SETTING] = datetime.now(timezone.utc)

    PeriodicCallback(mark, interval * 1000).start()
    serverapp.log.info("satco2: busy kernels count as activity (checked every %s s)", interval)
