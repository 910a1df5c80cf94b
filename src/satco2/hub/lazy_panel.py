"""Jupyter server extension: Panel's server extension, imported at its first use instead of at start.

Panel's own server extension (``panel.io.jupyter_server_extension``) serves only JupyterLab's
*Preview with Panel* button (``<base>/panel-preview/...``, ``<base>/panel_dist/...``): notebook
outputs of Panel, HoloViews and hvplot travel over kernel comms with inline resources
(``PANEL_INLINE``) and never use it. Importing it loads Panel and Bokeh into the server process:
1.5-3 s of every server start on the shared 2-core machine, i.e. of every login that starts a
server. This extension (enabled instead of Panel's in ``hub-config/singleuser/``) answers those
two URL prefixes; the first request imports Panel's extension in a thread (the server keeps
serving meanwhile), registers its handlers ahead of these and redirects to the same URL, which
Panel's handlers then answer. docs/hub.md, "Time to a usable JupyterLab".
"""
from __future__ import annotations

import asyncio
import importlib

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

PANEL_EXTENSION = "panel.io.jupyter_server_extension"
PREFIXES = ("panel-preview", "panel_dist")

_loading: dict[int, asyncio.Future] = {}  # id(web_app) -> the one load of Panel's extension


def _jupyter_server_extension_points():
    return [{"module": "satco2.hub.lazy_panel"}]


async def load_panel(serverapp) -> None:
    """Import Panel's server extension once (in a thread) and put its handlers before ours."""
    app = serverapp.web_app
    fut = _loading.get(id(app))
    if fut is None:
        fut = _loading[id(app)] = asyncio.ensure_future(_load(serverapp))
    await fut


async def _load(serverapp) -> None:
    module = await asyncio.get_running_loop().run_in_executor(None, importlib.import_module, PANEL_EXTENSION)
    rules = serverapp.web_app.default_router.rules
    before = list(rules)
    module._load_jupyter_server_extension(serverapp)
    added = [r for r in rules if r not in before]
    for r in added:  # Panel's routes first, so they answer from now on
        rules.remove(r)
    rules[0:0] = added
    serverapp.log.info("satco2: Panel's server extension loaded at its first use")


class LazyPanelHandler(JupyterHandler):
    @web.authenticated
    async def get(self, path=""):
        app = self.settings["serverapp"]
        fut = _loading.get(id(app.web_app))
        if fut is not None and fut.done() and fut.exception() is None:
            raise web.HTTPError(404)  # Panel's extension is loaded and has no such route
        await load_panel(app)
        self.redirect(self.request.uri)

    head = get


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [
        (url_path_join(base, prefix, "(.*)"), LazyPanelHandler) for prefix in PREFIXES])
