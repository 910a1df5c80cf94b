"""A real SatCO2 Hub for tests: :func:`temp_hub` starts JupyterHub + npm proxy + Dask Gateway.

Stable API (other areas' tests build on it)::

    from satco2.testing.hub import temp_hub

    with temp_hub(tmp_path) as hub:                 # or temp_hub(tmp_path, root_mode=False)
        hub.url                                     # "http://127.0.0.1:<port>/"
        hub.admin_user, hub.admin_password
        hub.signup("alice", "a-long-password")      # the real sign-up form
        hub.approve("alice")                        # admin approves through /hub/authorize
        s = hub.login_session("alice", "a-long-password")   # requests.Session, logged in (XSRF)
        token = hub.api_token("alice")              # API token of alice (made by the admin)
        server_url = hub.start_server(s)            # spawn alice's server; returns its URL
        hub.api("GET", "users", token=hub.admin_token)      # hub REST API helper
        hub.hub                                     # the satco2.hub.launcher.Hub object

It runs the same code as ``satco2 up`` (:class:`satco2.hub.launcher.Hub`) on free loopback ports
with the state directory ``tmp_path / "state"`` and JupyterHub's log in ``tmp_path / "hub.log"``.
Teardown stops every process it started (hub, proxy, services, single-user servers, clusters).
``root_mode=None`` means: root mode when the tests run as root. ``overrides`` (nested dict) is
merged over ``hub-config/settings.yaml``; ``env`` is extra environment for user servers and services.
"""
from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import requests

from .. import SatCO2Error, config
from ..hub.forms import form_post
from ..hub.hooks import GROUP
from ..hub.launcher import Hub, free_port

#: environment for user servers that reports activity to the hub every 2 s (not 300 s) and checks
#: for busy kernels every second: use it in tests about activity and culling
FAST_ACTIVITY_ENV = {"JUPYTERHUB_ACTIVITY_INTERVAL": "2", "SATCO2_BUSY_ACTIVITY_INTERVAL": "1"}


class TempHub:
    """Handle on a running hub (see the module docstring)."""

    def __init__(self, hub):
        self.hub = hub
        self.url = hub.url
        self.admin_user = hub.admin_user
        self.admin_password = hub.admin_password
        self.state_dir = hub.state_dir
        self._admin_session = None
        self._admin_token = None
        self.signed_up: list[str] = [hub.admin_user]  # system users to remove at teardown

    @classmethod
    def attach(cls, url: str, admin_user: str, admin_password: str, state_dir=None) -> "TempHub":
        """A handle on a hub that is already running (e.g. one started with ``satco2 up``)."""
        from types import SimpleNamespace

        hub = SimpleNamespace(url=url if url.endswith("/") else url + "/", admin_user=admin_user,
                              admin_password=admin_password, state_dir=Path(state_dir) if state_dir else None)
        return cls(hub)

    # --- accounts -----------------------------------------------------------------------------
    def signup(self, user: str, password: str) -> str:
        """Sign ``user`` up through the real form; return the message the page shows."""
        self.signed_up.append(user)
        r = form_post(requests.Session(), f"{self.url}hub/signup", {
            "username": user, "signup_password": password, "signup_password_confirmation": password,
        })
        r.raise_for_status()
        m = re.search(r'<div class="alert [^"]*"[^>]*>\s*(.*?)\s*</div>', r.text, re.S)
        return re.sub(r"\s+", " ", m.group(1)) if m else r.text

    @property
    def admin_session(self) -> requests.Session:
        if self._admin_session is None:
            self._admin_session = self.login_session(self.admin_user, self.admin_password)
        return self._admin_session

    def approve(self, user: str) -> None:
        """Approve ``user`` as the admin (NativeAuthenticator's /hub/authorize page)."""
        s = self.admin_session
        page = s.get(f"{self.url}hub/authorize", timeout=30)
        page.raise_for_status()
        if f'authorize/{user}" role="button">Unauthorize' in page.text:
            return  # already approved
        if f"authorize/{user}\"" not in page.text:
            raise SatCO2Error(f"user {user!r} has not signed up, so it cannot be approved.")
        s.get(f"{self.url}hub/authorize/{user}", timeout=30).raise_for_status()

    def login_session(self, user: str, password: str) -> requests.Session:
        """A ``requests.Session`` logged in through the real login form (XSRF included).

        Raises :class:`SatCO2Error` with the page's message when the login fails.
        """
        s = requests.Session()
        # no redirects: following /hub/spawn would start the user's server as a side effect
        r = form_post(s, f"{self.url}hub/login", {"username": user, "password": password},
                      allow_redirects=False)
        if not any(c.name.startswith("jupyterhub-hub-login") for c in s.cookies):
            m = re.search(r'<p class="login_error">\s*(.*?)\s*</p>', r.text, re.S)
            raise SatCO2Error(f"login of {user!r} failed: {m.group(1).strip() if m else r.status_code}")
        return s

    # --- API ------------------------------------------------------------------------------------
    @property
    def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = self._new_token(self.admin_session, self.admin_user)
        return self._admin_token

    def _new_token(self, session: requests.Session, user: str) -> str:
        xsrf = session.cookies.get("_xsrf", "")
        r = session.post(f"{self.url}hub/api/users/{user}/tokens", json={"note": "satco2 test"},
                         headers={"X-XSRFToken": xsrf}, timeout=30)
        r.raise_for_status()
        return r.json()["token"]

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        """Call the hub REST API ``/hub/api/<path>`` with ``token`` (default: an admin token)."""
        headers = kwargs.pop("headers", {})
        headers["Authorization"] = f"token {token or self.admin_token}"
        return requests.request(method, f"{self.url}hub/api/{path.lstrip('/')}", headers=headers,
                                timeout=kwargs.pop("timeout", 60), **kwargs)

    def api_token(self, user: str) -> str:
        """A new API token owned by ``user`` (created by the admin), with the user's permissions."""
        r = self.api("POST", f"users/{user}/tokens", json={"note": "satco2 test"})
        r.raise_for_status()
        return r.json()["token"]

    def start_server(self, session: requests.Session, timeout: float = 150) -> str:
        """Spawn the logged-in user's server and wait until it answers; return its URL."""
        xsrf = session.cookies.get("_xsrf", "")
        user = self.whoami(session)
        r = session.post(f"{self.url}hub/api/users/{user}/server", headers={"X-XSRFToken": xsrf},
                         timeout=60)
        if r.status_code not in (201, 202, 400):  # 400: already running
            raise SatCO2Error(f"starting {user}'s server failed with HTTP {r.status_code}: {r.text[:200]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.api("GET", f"users/{user}").json()
            server = info.get("servers", {}).get("", {})
            if server.get("ready"):
                return f"{self.url.rstrip('/')}{server['url']}"
            time.sleep(0.5)
        raise SatCO2Error(f"{user}'s server was not ready within {timeout:.0f} s.")

    def whoami(self, session: requests.Session) -> str:
        xsrf = session.cookies.get("_xsrf", "")
        r = session.get(f"{self.url}hub/api/user", headers={"X-XSRFToken": xsrf}, timeout=30)
        r.raise_for_status()
        return r.json()["name"]

    def stop_server(self, user: str) -> None:
        r = self.api("DELETE", f"users/{user}/server")
        if r.status_code not in (202, 204, 400):
            r.raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.api("GET", f"users/{user}").json().get("servers"):
                return
            time.sleep(0.5)


@contextlib.contextmanager
def temp_hub(tmp_path, root_mode=None, overrides=None, env=None, state_dir=None, remove_users=True):
    """Start the real hub on free loopback ports under ``tmp_path``; yield a :class:`TempHub`.

    ``state_dir`` (default ``tmp_path / "state"``; in root mode a new folder under the system's
    temporary folder, which the service account can reach, removed afterwards) may be reused by a
    second ``temp_hub`` to test restarts. In root mode the system accounts of users signed up through
    :meth:`TempHub.signup` (and the admin's) are deleted at teardown unless ``remove_users=False``.
    """
    import shutil
    import tempfile

    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    own_state = None
    if state_dir is None and (root_mode or (root_mode is None and os.geteuid() == 0)):
        own_state = state_dir = Path(tempfile.mkdtemp(prefix="satco2-hub-state-"))
    hub = Hub(state_dir=state_dir or tmp_path / "state", port=free_port(), root_mode=root_mode,
              overrides=overrides, env=env, log=tmp_path / "hub.log", free_ports=True)
    try:
        hub.start()
        handle = TempHub(hub)
        try:
            yield handle
        finally:
            hub.stop()
            if hub.root_mode and remove_users:
                remove_system_users(handle.signed_up)
    finally:
        if own_state is not None:
            shutil.rmtree(own_state, ignore_errors=True)


def remove_system_users(names) -> None:
    """Delete the system accounts (and homes) a root-mode test hub created for ``names``, and
    the hub's group (``satco2-users``) when no account is left in it.

    Only accounts in that group are touched.
    """
    import grp
    import pwd
    import subprocess


    try:
        gid = grp.getgrnam(GROUP).gr_gid
    except KeyError:
        return
    for name in set(names):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_gid != gid:
            continue
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", "--remove", name], capture_output=True)
        mine = config.reports_dir() / name  # the reports folder the hub made for the account
        if mine.is_dir() and not mine.is_symlink() and mine.stat().st_uid == entry.pw_uid:
            import shutil

            shutil.rmtree(mine, ignore_errors=True)
    # the group goes too once no account uses it (it is created again at the next root-mode spawn)
    if not grp.getgrgid(gid).gr_mem and not any(e.pw_gid == gid for e in pwd.getpwall()):
        subprocess.run(["groupdel", GROUP], capture_output=True)


def execute(server_url: str, token: str, code: str, timeout: float = 180, kernel_id: str | None = None) -> str:
    """Run ``code`` in a kernel of the Jupyter server at ``server_url`` (REST + kernel websocket).

    Starts a kernel unless ``kernel_id`` is given (then the kernel is left running), returns the
    text printed on stdout; a Python error in the kernel raises :class:`SatCO2Error` with its
    ``ename: evalue``. ``token`` is an API token of the server's owner.
    """
    import json
    import uuid

    import websocket

    base = server_url.rstrip("/") + "/"
    headers = {"Authorization": f"token {token}"}
    own = kernel_id is None
    if own:
        r = requests.post(f"{base}api/kernels", json={"name": "python3"}, headers=headers, timeout=60)
        r.raise_for_status()
        kernel_id = r.json()["id"]
    ws_url = base.replace("http://", "ws://").replace("https://", "wss://") + f"api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "satco2-test", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out, error, replied, idle = [], None, False, False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            if time.monotonic() > deadline:
                raise SatCO2Error(f"the kernel did not finish within {timeout:.0f} s.")
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif kind == "error":
                error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
    finally:
        ws.close()
        if own:
            requests.delete(f"{base}api/kernels/{kernel_id}", headers=headers, timeout=30)
    if error:
        raise SatCO2Error(f"the kernel raised {error}")
    return "".join(out)
