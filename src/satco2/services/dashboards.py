"""The dashboards service: published Panel dashboards, the reports index and the catalog browser,
behind the hub login (``python -m satco2.services.dashboards``, at ``/services/dashboards/``).

It is a Bokeh/Panel server in this process (no ``panel serve`` child, so SIGINT/SIGTERM stop it at
once), authenticated through the hub's OAuth with jupyterhub's own service auth
(:class:`jupyterhub.services.auth.HubOAuthenticated` pages, :class:`HubOAuthCallbackHandler`, and
the same :class:`HubOAuth` for the Bokeh app pages and websockets):

- every page, app and websocket requires a hub user whose OAuth token carries this service's access
  scope (``access:services!service=dashboards``; the hub grants it to users through their role);
  without a login the browser is sent through the hub's OAuth flow; a logged-in user without the
  scope gets 403;
- a dashboard published as ``private`` is visible to its author and hub admins only (403 for others).

Routes (under ``$JUPYTERHUB_SERVICE_PREFIX``):

``/``                         the published dashboards: title, author, parameters, run date, links
``/app?id=<slug>``            a published dashboard: the live one (``/live?id=``) while it has fewer
                              than ``viewers.max_live_sessions`` sessions, else its offline
                              snapshot from memory with a note (a busy page if it has none)
``/live?id=<slug>``           the live dashboard, rebuilt from its report's verified copy per session
``/d/<slug>``                 redirect to ``/app?id=<slug>``
``/reports/``                 the reports index (every trusted run: notebook, status, user, parameters)
``/reports/<user>/<nb>/<run>/<file>`` a report's HTML export, offline snapshot, log, provenance, notebook
``/reports/<user>/<nb>/<run>/publish`` the publish button of the reports index (POST, XSRF-checked; own runs)
``/api/published``            the published dashboards as JSON
``/catalog``                  the catalog browser (``satco2.dashboards.catalog_browser.app()``)
``/usage``                    per-user usage and quotas, for hub admins only (``satco2.services.usage_page``)
``/login``, ``/oauth_callback`` the start and end of the hub OAuth flow

State is on disk only (the published registry and the verified copies of published runs under
``<service_state_dir>/dashboards/``, and the reports folder), so the service serves the same
dashboards after a restart of itself or of the hub. It is a hub service, not a user server, so the
idle culler never stops it.

Trust (docs/hub.md): in root mode the service runs as the unprivileged service account. It reads a
report file only through :func:`satco2.runs.reports.read_run_file` (the run must sit in its
author's own folder, every component owned by the author, no link followed) and builds dashboards
only from verified copies (:func:`satco2.runs.publish.verified_copy`). Every page is a Jinja2
template with autoescape; text from runs never reaches HTML unescaped.

Environment: the standard ``JUPYTERHUB_*`` variables the hub gives a managed service
(``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_CLIENT_ID``, ``JUPYTERHUB_SERVICE_URL``,
``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_BASE_URL``,
``JUPYTERHUB_OAUTH_CALLBACK_URL``, ``JUPYTERHUB_OAUTH_ACCESS_SCOPES``), ``SATCO2_HUB_URL`` (public hub
URL, allowed as websocket origin), ``SATCO2_DASHBOARDS_ORIGINS`` (extra origins, comma-separated),
and the ``SATCO2_*`` paths of :mod:`satco2.config`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from urllib.parse import quote, urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import httputil, web
from tornado.httputil import url_concat

from .. import SatCO2Error, config, io
from ..config import service_state_dir
from ..runs import publish, reports

log = logging.getLogger("satco2.services.dashboards")

REPORT_FILES = {
    "report.html": "text/html; charset=UTF-8",
    "dashboard.html": "text/html; charset=UTF-8",
    "run.log": "text/plain; charset=UTF-8",
    "parameters.json": "application/json",
    "provenance.json": "application/json",
    "status.json": "application/json",
    "notebook.ipynb": "application/x-ipynb+json",
}


# ----------------------------------------------------------------------------------------------
# authentication through the hub
def hub_auth() -> HubOAuth:
    """The process-wide :class:`HubOAuth` (configured from the hub's environment variables)."""
    return HubOAuth.instance(cache_max_age=60)


def _refuse(model: dict):
    log.warning("refusing %s %s: no access scope", model.get("kind", "user"), model.get("name"))
    return web.HTTPError(403, f"{model.get('name')} may not use the dashboards service.")


async def current_user(handler) -> dict | None:
    """The hub user model of a Bokeh request (app pages and their websockets, which cannot take the
    :class:`HubOAuthenticated` mixin) if it may use this service, None if nobody is logged in;
    raises 403 when the user lacks the service's access scope (the check
    :meth:`HubOAuthenticated.check_hub_user` makes for the pages)."""
    auth = hub_auth()
    model = await auth.get_user(handler, sync=False)
    if model and not auth.check_scopes(auth.access_scopes, model):
        raise _refuse(model)
    return model


def _hub_auth_provider():
    from bokeh.server.auth_provider import AuthProvider

    class HubAuthProvider(AuthProvider):
        """Bokeh auth hooks: the same hub check for app pages and their websockets."""

        @property
        def get_user_async(self):
            async def get(handler):
                user = await current_user(handler)
                if user is not None:
                    _check_app_access(handler, user)
                return user

            return get

        @property
        def get_login_url(self):
            # Panel prefixes this with "." for its app pages (./login from <prefix>/app), so point
            # at the service's own /login, which starts the hub OAuth flow (LoginHandler)
            return lambda handler: "/login"

    return HubAuthProvider()


class LoginHandler(web.RequestHandler):
    """``<prefix>/login?next=<path>``: start the hub OAuth flow, coming back to ``next``."""

    def get(self):
        prefix = config.env("JUPYTERHUB_SERVICE_PREFIX", "/services/dashboards/")
        nxt = self.get_argument("next", prefix)
        if not nxt.startswith(prefix.rstrip("/")):
            nxt = prefix
        auth = hub_auth()
        state = auth.set_state_cookie(self, next_url=nxt)
        self.redirect(url_concat(auth.login_url, {"state": state}))


def may_see(entry: dict, user: dict) -> bool:
    """Whether ``user`` (hub model) may see a published ``entry``."""
    if entry.get("visibility", "all") != "private":
        return True
    return user.get("admin", False) or user.get("name") == entry.get("author")


def _check_app_access(handler, user: dict) -> None:
    slug = handler.get_argument("id", None) if hasattr(handler, "get_argument") else None
    if not slug:
        return
    try:
        entry = publish.get(slug)
    except SatCO2Error:
        return  # the app itself says it does not exist
    if not may_see(entry, user):
        raise web.HTTPError(403, f"the dashboard {slug} is private to {entry.get('author')}.")


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """A page behind the hub login: jupyterhub's :class:`HubOAuthenticated` (hub OAuth cookie or
    API token, the service's access scope via :meth:`check_hub_user`, the hub's login URL with its
    OAuth state, the hub's XSRF rules). The user is looked up once per request without blocking
    the event loop; nobody logged in: GET/HEAD go to the hub login, other methods get 403."""

    @property
    def hub_auth(self) -> HubOAuth:
        return hub_auth()

    async def prepare(self):
        model = await self.hub_auth.get_user(self, sync=False)
        try:
            user = self.check_hub_user(model) if model else None
        except UserNotAllowed:
            raise _refuse(model) from None
        self._hub_auth_user_cache = self.current_user = user  # what get_current_user returns
        if user is None:
            if self.request.method in ("GET", "HEAD"):
                self.redirect(self.get_login_url())
                return
            raise web.HTTPError(403)

    def write_error(self, status_code, **kwargs):
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            reason = exc.log_message % exc.args if exc.args else exc.log_message
        self.finish(render("message.html", title="Error", message=f"{status_code}: {reason}", user=None, base=self.base))

    @property
    def base(self) -> str:
        return self.settings.get("satco2_prefix", "/")

    def page(self, template: str, **values) -> None:
        self.finish(render(template, user=self.current_user, base=self.base, **values))


_ENV = None


def fragment(template: str, **values) -> str:
    """A template of ``services/templates`` (Jinja2, autoescape on: every value is escaped)."""
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(loader=jinja2.PackageLoader("satco2.services", "templates"),
                                  autoescape=True, undefined=jinja2.StrictUndefined)
        _ENV.filters["tojson_text"] = lambda v: json.dumps(v, default=str)
    return _ENV.get_template(template).render(**values)


def render(template: str, **values) -> str:
    """A page from ``services/templates`` (:func:`fragment` with the pages' common values)."""
    values.setdefault("catalog", True)
    values.setdefault("hub_base", config.env("JUPYTERHUB_BASE_URL", "/"))
    values.setdefault("user", None)
    return fragment(template, **values)


class IndexHandler(BaseHandler):
    def get(self):
        entries = [e for e in publish.published() if may_see(e, self.current_user)]
        self.page("index.html", title="Published dashboards", entries=entries)


#: files of a run listed in the reports index
LISTED_FILES = ("report.html", "run.log", "provenance.json", "notebook.ipynb")


def _plain_file(p: Path) -> bool:
    """A regular file, not a link (a link in a run folder is never served, so never listed)."""
    import stat

    try:
        return stat.S_ISREG(os.lstat(p).st_mode)
    except OSError:
        return False


class ReportsHandler(BaseHandler):
    def get(self):
        from markupsafe import Markup

        rows = reports.list_reports()
        for r in rows:
            r["files"] = [f for f in LISTED_FILES if _plain_file(Path(r["dir"]) / f)]
        self.page("reports.html", title="Reports", rows=rows, xsrf_form_html=Markup(self.xsrf_form_html()))


def _run_path(user: str, notebook: str, run_id: str) -> Path:
    """The report folder of a request's path components (404 unless a trusted run)."""
    try:
        d = reports.reports_dir() / reports.check_user(user) / notebook / run_id
        if reports.trusted(d):
            return d
    except SatCO2Error:
        pass
    raise web.HTTPError(404)


class ReportFileHandler(BaseHandler):
    def get(self, user: str, notebook: str, run_id: str, name: str):
        if name not in REPORT_FILES:
            raise web.HTTPError(404)
        d = _run_path(user, notebook, run_id)
        try:
            if name == publish.SNAPSHOT:  # in the service's verified copy, never in the user's folder
                data = publish.snapshot_path(d).read_bytes()
            else:
                data = reports.read_run_file(d, name)
        except (OSError, SatCO2Error):
            raise web.HTTPError(404) from None
        self.set_header("Content-Type", REPORT_FILES[name])
        self.set_header("X-Content-Type-Options", "nosniff")
        if name.endswith(".html"):
            # notebook outputs are arbitrary HTML/JS: run them in an opaque origin, so they cannot
            # act on the hub's origin with the visitor's session
            self.set_header("Content-Security-Policy", "sandbox allow-scripts allow-popups allow-downloads")
        self.finish(data)


async def _publish_as(user: str, args: list[str]) -> tuple[int, list[str]]:
    """Run ``satco2 publish ARGS`` as hub user ``user`` (the author) in a subprocess, so building
    the offline snapshot does not block the server; returns (exit status, output lines)."""
    import asyncio

    env = {k: v for k, v in config.environ().items() if not k.startswith("JUPYTERHUB_")}
    env["JUPYTERHUB_USER"] = user
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "satco2.cli", "publish", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode(errors="replace").strip().splitlines()


class TokenAPIHandler(BaseHandler):
    """JSON API for scripts and the ``satco2`` CLI in users' servers (root mode, where they cannot
    write the hub's state): authenticated by a hub API token in the ``Authorization`` header only
    - no cookie, hence no cross-site request to forge and no XSRF check. Errors are JSON
    ``{"error": "<one sentence>"}``."""

    async def prepare(self):
        if not self.request.headers.get("Authorization", "").lower().startswith(("token ", "bearer ")):
            raise web.HTTPError(403, "this API takes a hub API token (Authorization: token ...)")
        await super().prepare()

    def check_xsrf_cookie(self):
        return None

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None))[1]
        msg = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            msg = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": str(msg)}))

    def body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return data

    def reply(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


class PublishAPIHandler(TokenAPIHandler):
    """``POST <prefix>/api/publish`` ``{"run" | "follow_latest", "name", "private", "snapshot"}``:
    publish as the token's user (what ``satco2 publish`` does from a user's server in root mode);
    replies with the registry entry."""

    async def post(self):
        b = self.body()
        args = ["--json"]  # every value is an option's own argument or follows "--": never an option
        if b.get("name"):
            args += ["--name", str(b["name"])]
        if b.get("private"):
            args.append("--private")
        if b.get("snapshot") is False:
            args.append("--no-snapshot")
        elif b.get("wait"):
            args.append("--wait")
        if b.get("follow_latest"):
            args += ["--follow-latest", str(b["follow_latest"])]
        elif b.get("run"):
            args += ["--", str(b["run"])]
        else:
            raise web.HTTPError(400, "say which run to publish (run or follow_latest)")
        rc, lines = await _publish_as(self.current_user["name"], args)
        if rc != 0:
            raise web.HTTPError(400, lines[-1] if lines else f"satco2 publish exited with status {rc}")
        self.reply(json.loads(lines[-1]))


class PublishedItemAPIHandler(TokenAPIHandler):
    """``DELETE <prefix>/api/published/<name>``: unpublish (its author or a hub admin)."""

    def delete(self, slug: str):
        try:
            entry = publish.get(slug)
        except SatCO2Error as e:
            raise web.HTTPError(404, str(e)) from None
        user = self.current_user
        if not (user.get("admin") or user["name"] == entry.get("author")):
            raise web.HTTPError(403, f"the dashboard {slug} was published by {entry.get('author')}, not by {user['name']}")
        publish.unpublish(slug)
        self.reply({"unpublished": slug})


class PublishHandler(BaseHandler):
    """The reports index's publish button: ``POST <prefix>/reports/<user>/<nb>/<run-id>/publish``
    (XSRF-checked) publishes the logged-in user's own run, in a subprocess (``satco2 publish``) so
    building the offline snapshot does not block the server."""

    async def post(self, user: str, notebook: str, run_id: str):
        self.check_xsrf_cookie()
        _run_path(user, notebook, run_id)
        if user != self.current_user["name"]:
            raise web.HTTPError(403, f"only {user} can publish this run.")
        args = (["--follow-latest", notebook] if self.get_argument("follow_latest", "")
                else ["--", f"{notebook}/{run_id}"])
        if self.get_argument("private", ""):
            args.insert(0, "--private")
        rc, text = await _publish_as(self.current_user["name"], args)  # the author of the publication
        if rc != 0:
            self.set_status(400)
            self.page("message.html", title="Not published",
                      message=text[-1] if text else f"satco2 publish exited with status {rc}")
            return
        self.redirect(self.base)


class PublishedAPIHandler(BaseHandler):
    def get(self):
        items = [e for e in publish.published() if may_see(e, self.current_user)]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(items, default=str))


class LiveAdmission:
    """How many live (Bokeh) sessions the service builds at once: the live sessions plus the
    viewers sent to ``/live`` in the last :attr:`window` seconds (whose sessions are being built)
    must stay below ``max_live``, and while the dashboard has an offline snapshot to show instead,
    sessions are built one at a time (at most one admission per :attr:`gap` seconds). Building a session runs on the server's one event loop for a second of
    CPU or more, during which nothing else is answered; beyond the limit a viewer gets the offline
    snapshot at once instead of waiting in that queue (issue 14: 100 concurrent viewers on 2 cores)."""

    window = 15.0
    gap = 3.0

    def __init__(self, max_live: int):
        self.max_live = max_live
        self.recent: list[float] = []

    def admit(self, live_sessions: int, snapshot: bool = True) -> bool:
        import time

        now = time.monotonic()
        self.recent = [t for t in self.recent if now - t < self.window]
        if live_sessions + len(self.recent) >= self.max_live:
            return False
        if snapshot and self.recent and now - self.recent[-1] < self.gap:
            return False
        self.recent.append(now)
        return True


def _viewer_limits() -> tuple[int, int]:
    """``(max_live_sessions, session_idle_seconds)`` as the hub handed them to the service."""
    return (config.get("dashboards-max-live"), config.get("dashboards-idle-seconds"))


_ADMISSION: LiveAdmission | None = None
_SNAPSHOTS: dict[tuple[str, str], tuple[float, bytes, bytes]] = {}


def _snapshot_page(path: Path, slug: str, run_id: str) -> tuple[bytes, bytes] | None:
    """An offline snapshot with the "many viewers" note, plain and gzip-compressed, kept in memory
    while the file is unchanged (a few MB each; compressed once, not per viewer)."""
    import gzip

    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    key = (str(path), slug)
    hit = _SNAPSHOTS.get(key)
    if hit is None or hit[0] != mtime:
        data = path.read_bytes()
        note = fragment("busy_note.html", slug=slug, run_id=run_id).strip().encode()
        i = data.find(b"<body")
        j = data.find(b">", i) + 1 if i >= 0 else 0
        page = data[:j] + note + data[j:]
        if len(_SNAPSHOTS) > 32:
            _SNAPSHOTS.clear()
        hit = _SNAPSHOTS[key] = (mtime, page, gzip.compress(page, 6))
    return hit[1], hit[2]


class AppHandler(BaseHandler):
    """``/app?id=<slug>``: see the module docstring."""

    def get(self):
        global _ADMISSION
        slug = self.get_argument("id", "")
        try:
            e = publish.get(slug)
        except SatCO2Error as err:
            raise web.HTTPError(404, str(err)) from None
        if not may_see(e, self.current_user):
            raise web.HTTPError(403, f"the dashboard {slug} is private to {e.get('author')}.")
        if _ADMISSION is None:
            _ADMISSION = LiveAdmission(_viewer_limits()[0])
        ctx = getattr(self.application, "_applications", {}).get("/live")
        live = len(ctx.sessions) if ctx is not None else 0
        snap = publish.snapshot_path(e["report_dir"]) if e.get("report_dir") else None
        if _ADMISSION.admit(live, snapshot=bool(snap and snap.is_file())):
            self.redirect(f"{self.base}live?id={quote(slug)}")
            return
        pages = _snapshot_page(snap, slug, str(e.get("run_id"))) if snap else None
        if pages is None:
            self.set_status(503)
            self.set_header("Retry-After", "30")
            self.page("message.html", title="Busy",
                      message=f"The dashboard {slug} has as many live viewers as this hub serves at once "
                              f"({_ADMISSION.max_live}); please try again in a minute.")
            return
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", "sandbox allow-scripts allow-popups allow-downloads")
        self.set_header("X-SatCO2-View", "snapshot")
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.finish(pages[1])
        else:
            self.finish(pages[0])


class ShortLinkHandler(BaseHandler):
    def get(self, slug: str):
        self.redirect(f"{self.base}app?id={quote(slug)}")


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """``<prefix>/oauth_callback``: jupyterhub's end of the OAuth flow, with this process's
    :func:`hub_auth`."""

    @property
    def hub_auth(self) -> HubOAuth:
        return hub_auth()


# ----------------------------------------------------------------------------------------------
# Panel apps
def dashboard_app():
    """The Bokeh document of ``/app?id=<slug>``: header and the dashboard rebuilt from its report."""
    import panel as pn

    raw = pn.state.session_args.get("id", [b""])[0]
    slug = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        e = publish.get(slug)
    except SatCO2Error as err:
        return pn.pane.Str(f"Not found: {err}")
    if not e.get("report_dir"):
        return pn.pane.Str(f"{e['title']}: this dashboard has no successful run yet.")
    params = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in (e.get("parameters") or {}).items())
    # text from the run (parameters, names) is escaped by the template: an HTML pane, never Markdown
    header = pn.pane.HTML(fragment("app_header.html", title=str(e["title"]), author=str(e.get("author")),
                                   run_id=str(e["run_id"]), run_date=str(e.get("run_date")), params=params).strip())
    try:
        view = publish.build(e["report_dir"])
    except SatCO2Error as err:
        return pn.Column(header, pn.pane.Str(f"The dashboard cannot be rebuilt: {err}"))
    return pn.Column(header, view)


# ----------------------------------------------------------------------------------------------
# server
def _cookie_secret() -> str:
    """A cookie-signing secret kept (mode 0600) in the state folder, so logins survive restarts."""
    d = service_state_dir() / "dashboards"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    f = d / "cookie_secret"
    if not f.exists():
        with contextlib.suppress(FileExistsError):  # a concurrent start wrote it first: use that one
            io.write_text(f, secrets.token_hex(32), mode=0o600, replace=False)
    return f.read_text().strip()


def _origins() -> list[str]:
    out = []
    for u in [config.env("SATCO2_HUB_URL", ""), config.env("JUPYTERHUB_PUBLIC_URL", "")]:
        if u:
            netloc = urlparse(u).netloc
            if netloc:
                out.append(netloc)
                host, _, port = netloc.partition(":")
                if host == "127.0.0.1" and port:
                    out.append(f"localhost:{port}")
    out += [o.strip() for o in str(config.get("dashboards-origins")).split(",") if o.strip()]
    if not out:
        port = config.get("hub-port")
        out = [f"127.0.0.1:{port}", f"localhost:{port}"]
    return out


def _guard_component_handler() -> None:
    """Panel's ``/components/<module>/<class>/...`` handler imports the module named in the URL and
    answers HTTP 500 on names such as ``..`` (``..%2f`` in the URL); turn every such failure into
    404, so a crafted URL neither fills the log with tracebacks nor reaches ``import_module``."""
    from panel.io.server import ComponentResourceHandler

    if getattr(ComponentResourceHandler, "_satco2_guarded", False):
        return
    parse = ComponentResourceHandler.parse_url_path

    def parse_url_path(self, path):
        parts = path.split("/")
        if len(parts) < 3 or not all(p.isidentifier() for p in parts[0].split(".") + [parts[1]]):
            raise web.HTTPError(404, "no such component resource")
        try:
            return parse(self, path)
        except web.HTTPError:
            raise
        except Exception:  # noqa: BLE001 - any other failure: the resource does not exist
            raise web.HTTPError(404, "no such component resource") from None

    ComponentResourceHandler.parse_url_path = parse_url_path
    ComponentResourceHandler._satco2_guarded = True


def make_server(port: int | None = None):
    """Build (not start) the Bokeh server from the hub's environment variables (``port=0``: a
    throw-away port, when :func:`main` serves the app on its own, early-bound socket)."""
    import panel as pn
    from panel.io.server import get_server

    if not config.env("JUPYTERHUB_API_TOKEN"):
        raise SatCO2Error("the dashboards service must be started by the hub (JUPYTERHUB_API_TOKEN is not set).")
    url = urlparse(config.env("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    prefix = config.env("JUPYTERHUB_SERVICE_PREFIX", "/services/dashboards/")
    hub_auth()  # configure the singleton from the environment now: errors surface at start
    _guard_component_handler()
    pn.extension()
    from ..dashboards import catalog_browser  # a panel app: loaded by this server, not by the scheduler
    from .usage_page import UsageHandler  # imports this module (its BaseHandler)

    apps = {"/live": dashboard_app, "/catalog": catalog_browser.app}
    patterns = [
        (r"/", IndexHandler),
        (r"/reports/?", ReportsHandler),
        (r"/reports/([^/]+)/([^/]+)/([^/]+)/publish", PublishHandler),
        (r"/reports/([^/]+)/([^/]+)/([^/]+)/([^/]+)", ReportFileHandler),
        (r"/api/published", PublishedAPIHandler),
        (r"/api/published/([^/]+)", PublishedItemAPIHandler),
        (r"/api/publish", PublishAPIHandler),
        (r"/app", AppHandler),
        (r"/d/([^/]+)", ShortLinkHandler),
        (r"/oauth_callback", OAuthCallbackHandler),
        (r"/login", LoginHandler),
        (r"/usage/?", UsageHandler),  # hub admins only
    ]
    server = get_server(
        apps, port=url.port if port is None else port, address=url.hostname, websocket_origin=_origins(),
        start=False, title={"/live": "SatCO2 dashboard", "/catalog": "SatCO2 catalog"},
        prefix=prefix.strip("/"), extra_patterns=patterns, auth_provider=_hub_auth_provider(),
        cookie_secret=_cookie_secret(), satco2_prefix=prefix, check_unused_sessions_milliseconds=5_000,
        xsrf_cookie_kwargs={"path": prefix},
        unused_session_lifetime_milliseconds=_viewer_limits()[1] * 1000,
    )
    return server


class _Switch(httputil.HTTPServerConnectionDelegate):
    """An HTTP delegate whose target application can be swapped: the port answers 503 at once
    while Panel loads, then the Bokeh application takes over (JupyterHub gives a managed service
    about 10 s to answer, less than importing Panel takes on a busy machine)."""

    def __init__(self, app):
        self.app = app

    def start_request(self, server_conn, request_conn):
        return self.app.start_request(server_conn, request_conn)

    def on_close(self, server_conn):
        self.app.on_close(server_conn)


def _warm_imports() -> None:
    import holoviews  # noqa: F401
    import panel  # noqa: F401
    import panel.io.server  # noqa: F401


def main() -> None:
    from tornado import netutil
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop

    logging.basicConfig(level=logging.WARNING, format="[dashboards %(asctime)s %(levelname)s] %(message)s")
    log.setLevel(logging.INFO)
    if not config.env("JUPYTERHUB_API_TOKEN"):
        print("error: the dashboards service must be started by the hub (JUPYTERHUB_API_TOKEN is not set).",
              file=sys.stderr)
        sys.exit(2)
    url = urlparse(config.env("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))

    class Starting(web.RequestHandler):
        def get(self, *args):
            self.set_status(503)
            self.finish("the dashboards service is starting")

    switch = _Switch(web.Application([(r".*", Starting)]))
    http = HTTPServer(switch)
    http.add_sockets(netutil.bind_sockets(url.port, address=url.hostname))
    loop = IOLoop.current()
    state = {}

    async def build():
        try:
            await loop.run_in_executor(None, _warm_imports)
            server = make_server(port=0)
        except Exception:  # noqa: BLE001 - exit non-zero: the hub's supervisor restarts the service
            log.exception("the dashboards service could not start")
            state["failed"] = True
            loop.stop()
            return
        server._http.stop()  # Bokeh bound a throw-away port; the early-bound socket serves its app
        server.start()
        switch.app = server._tornado
        state["server"] = server
        log.info("serving published dashboards on %s at %s", config.env("JUPYTERHUB_SERVICE_URL"),
                 config.env("JUPYTERHUB_SERVICE_PREFIX"))

    def stop(signum, frame):  # the hub stops services with SIGINT, the supervisor sends SIGTERM
        log.info("signal %s: stopping", signum)
        loop.add_callback_from_signal(_shutdown, http, state, loop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    loop.add_callback(build)
    loop.start()
    if state.get("failed"):
        sys.exit(1)


def _shutdown(http, state, loop) -> None:
    http.stop()
    if "server" in state:
        state["server"].stop()
    loop.stop()


if __name__ == "__main__":
    main()
