"""Jupyter server extension: two server extensions imported after the server answers, not before.

Every import a server extension does at start is time of the login that starts the server. Two of
the environment's extensions are not needed to answer the hub or to show JupyterLab's page:

- **Panel's** (``panel.io.jupyter_server_extension``) serves only JupyterLab's *Preview with
  Panel* button (``<base>/panel-preview/...``, ``<base>/panel_dist/...``); notebook outputs of
  Panel, HoloViews and hvplot travel over kernel comms with inline resources (``PANEL_INLINE``) and
  never use it. Importing it loads Panel and Bokeh: 1.5-3 s on the shared 2-core machine. It is
  imported at the first request to one of its URLs.
- **dask-labextension's** (``dask_labextension``, the Dask pane: ``<base>/dask/...``) imports
  ``distributed``: 0.7-1.7 s. JupyterLab asks it for the cluster list as soon as the lab has
  started, so it is imported in a thread as soon as the server runs, while the hub redirects the
  browser and the lab's JavaScript loads.

``hub-config/singleuser/jupyter_server_config.d/satco2-startup.json`` disables both and enables
this extension, which answers their URL prefixes until the real extension is loaded: a request
waits for the import (in a thread: the server keeps serving meanwhile), the real extension's
handlers are put ahead of these, and the request is redirected (307: same method and body) to the
same URL, which the real handlers then answer. docs/hub.md, "Time to a usable JupyterLab".
"""
from __future__ import annotations

import asyncio
import importlib

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop

#: module -> (URL prefixes it serves under the server's base URL, imported as soon as the server
#: runs, the modules imported first in a thread). dask_labextension itself must be imported in the
#: event loop's thread (it makes its cluster manager, with an asyncio Future, at import), so what it
#: imports (distributed; dask_gateway, the hub's cluster factory) goes to the thread first.
LAZY = {
    "panel.io.jupyter_server_extension": (("panel-preview", "panel_dist"), False,
                                          ("panel.io.jupyter_server_extension",)),
    "dask_labextension": (("dask",), True, ("distributed", "dask_gateway")),
}

_loading: dict[tuple[int, str], asyncio.Future] = {}  # (id(web_app), module) -> its one load


def _jupyter_server_extension_points():
    return [{"module": "satco2.hub.lazy_extensions"}]


def load(serverapp, module: str) -> asyncio.Future:
    """The (one) load of server extension ``module``: imported in a thread, its handlers registered
    ahead of ours."""
    key = (id(serverapp.web_app), module)
    if key not in _loading:
        _loading[key] = asyncio.ensure_future(_load(serverapp, module))
    return _loading[key]


def loaded(serverapp, module: str) -> bool:
    fut = _loading.get((id(serverapp.web_app), module))
    return fut is not None and fut.done() and fut.exception() is None


def _import_quietly(name: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError:  # only a head start: the extension's own import says what is missing
        pass


async def _load(serverapp, module: str) -> None:
    for name in LAZY[module][2]:
        await asyncio.get_running_loop().run_in_executor(None, _import_quietly, name)
    mod = importlib.import_module(module)
    loader = getattr(mod, "_load_jupyter_server_extension", None) or mod.load_jupyter_server_extension
    rules = serverapp.web_app.default_router.rules
    before = list(rules)
    loader(serverapp)
    added = [r for r in rules if r not in before]
    for r in added:  # the extension's routes first, so they answer from now on
        rules.remove(r)
    rules[0:0] = added
    serverapp.log.info("satco2: server extension %s loaded after the server started", module)


class LazyHandler(JupyterHandler):
    """Stands in for ``module``'s handlers until it is loaded."""

    def initialize(self, module: str):
        self.module = module

    @web.authenticated
    async def get(self, path=""):
        app = self.settings["serverapp"]
        if loaded(app, self.module):
            raise web.HTTPError(404)  # the extension is loaded and has no such route
        await load(app, self.module)
        self.redirect(self.request.uri, status=307)  # 307: the same method and body again

    head = post = put = patch = delete = get


def _load_jupyter_server_extension(serverapp):
    base = serverapp.web_app.settings["base_url"]
    handlers = []
    for module, (prefixes, at_start, _) in LAZY.items():
        handlers += [(url_path_join(base, prefix, "(.*)"), LazyHandler, {"module": module}) for prefix in prefixes]
        if at_start:  # runs once the server's event loop runs, i.e. after it answers
            IOLoop.current().add_callback(load, serverapp, module)
    serverapp.web_app.add_handlers(".*$", handlers)
