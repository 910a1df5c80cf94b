"""``satco2 up``: start JupyterHub (+ npm proxy, Dask Gateway, idle culler, project services).

:class:`Hub` is the one code path used by ``satco2 up`` and by :func:`satco2.testing.hub.temp_hub`:

1. load and validate ``hub-config/settings.yaml``; create the state directory (0700), its
   secrets and databases (0600) and, on first start, the admin's generated password in
   ``<state>/admin_password`` (0600); pick free loopback ports for the internal ones left at 0;
2. write ``runtime.json`` and start ``jupyterhub -f hub-config/jupyterhub_config.py`` in its own
   session (JupyterHub starts the proxy and the managed services itself; the authenticator,
   :mod:`satco2.hub.auth`, creates the admin account from the password file, so nobody can sign up
   under the admin's name first);
3. wait until the hub API and the gateway answer through the public port; make every state file
   0600; on first start check that the admin logs in through the real login form;
5. :meth:`Hub.stop` stops JupyterHub (which stops the proxy, services and single-user servers) and
   then ends any process it started that is still alive (every descendant is tracked).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from .. import SatCO2Error, config
from . import settings as _settings
from . import state as _state
from .forms import form_post
from .runtime import ENV as RUNTIME_ENV
from .runtime import Runtime
from .userpython import user_python

PID_FILE = "satco2-up.pid"
ADMIN_PASSWORD_FILE = "admin_password"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def proxy_command() -> str:
    """The npm configurable-http-proxy installed by ``make env`` (environment/npm)."""
    chp = config.REPO_ROOT / "environment" / "npm" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not chp.exists():
        raise SatCO2Error(f"configurable-http-proxy is missing at {chp}; run `make env` first.")
    return str(chp)


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped by its parent, is not running)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def running_pid(state_dir: Path) -> int | None:
    """pid of a ``satco2 up`` running from ``state_dir``, if any."""
    path = Path(state_dir) / PID_FILE
    try:
        pid = int(path.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def user_environment(public_url: str, extra: dict | None = None) -> dict:
    """Environment given to user servers and services: absolute project paths and SATCO2_* vars."""
    env = {k: v for k, v in config.environ().items() if k.startswith("SATCO2_") and k != RUNTIME_ENV}
    env.update({
        "SATCO2_DEMO_ROOT": str(config.demo_root()),
        "SATCO2_MIRROR_ROOT": str(config.mirror_root()),
        "SATCO2_REPORTS_DIR": str(config.reports_dir()),
        "SATCO2_CATALOG_DIR": str(config.catalog_dir()),
        "SATCO2_HUB_URL": public_url,
    })
    env.update(extra or {})
    return env


class Hub:
    """One running hub. Use :meth:`start` / :meth:`stop`, or as a context manager.

    Parameters
    ----------
    state_dir : path, optional
        State directory (default ``config.state_dir()``).
    port : int, optional
        Public port on loopback (default ``hub.port`` in settings / ``SATCO2_HUB_PORT``).
    root_mode : bool, optional
        One system user per hub user; default: ``hub.isolation`` (``auto``: when running as root).
    overrides : dict, optional
        Nested settings merged over ``settings.yaml`` (validated like the file).
    env : dict, optional
        Extra environment for user servers and services.
    log : file path, optional
        Where JupyterHub's log goes (default: this process's stdout/stderr).
    free_ports : bool
        Pick free internal ports even when settings fix them (tests run hubs side by side).
    """

    def __init__(self, state_dir=None, port=None, root_mode=None, overrides=None, env=None,
                 log=None, free_ports=False):
        self.settings = _settings.load(overrides=overrides)
        self.state_dir = Path(state_dir or config.state_dir()).resolve()
        self.port = int(port or self.settings["hub"]["port"])
        self.ip = self.settings["hub"]["ip"]
        iso = self.settings["hub"].get("isolation", "auto")
        if root_mode is None:
            root_mode = os.geteuid() == 0 if iso == "auto" else iso == "root"
        if root_mode and os.geteuid() != 0:
            raise SatCO2Error("root mode (per-user system accounts) needs the hub to run as root.")
        self.root_mode = bool(root_mode)
        self.admin_user = self.settings["hub"]["admin_user"]
        self.extra_env = dict(env or {})
        self.log_path = Path(log) if log else None
        self.free_ports = free_ports
        self.proc: subprocess.Popen | None = None
        self.runtime: Runtime | None = None
        self.admin_password: str | None = None
        self.first_start = False
        self._tracked: dict[int, float] = {}

    # --- public URLs ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Public URL with trailing slash, e.g. ``http://localhost:8000/``."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def service_state_dir(self) -> Path:
        """State of the dashboards and scheduler services (root mode: the service account's, 0700)."""
        return self.state_dir / "services"

    @property
    def admin_password_file(self) -> Path:
        return self.state_dir / ADMIN_PASSWORD_FILE

    # --- start --------------------------------------------------------------------------------
    def _services(self) -> dict:
        return {name: spec["module"] for name, spec in self.settings["services"].items()}

    def _ports(self, services) -> dict:
        ports = {}
        for name in ["hub_api", "proxy_api", "gateway_http", "gateway_tcp", *services]:
            p = self.settings["ports"].get(name, 0)
            if not p or self.free_ports:
                # a port free now may be one handed out already and not yet bound (the public
                # port, or another of these): the kernel can give it again
                p = free_port()
                while p == self.port or p in ports.values():
                    p = free_port()
            elif port_in_use(p):
                raise SatCO2Error(f"port {p} (ports.{name} in the hub settings) is in use on 127.0.0.1.")
            ports[name] = p
        return ports

    def prepare(self) -> Runtime:
        """Create state and the runtime file; no process is started."""
        pid = running_pid(self.state_dir)
        if pid:
            raise SatCO2Error(
                f"a hub is already running from {self.state_dir} (pid {pid}); stop it with `satco2 down`."
            )
        if port_in_use(self.port, self.ip if self.ip != "localhost" else "127.0.0.1"):
            raise SatCO2Error(
                f"port {self.port} on {self.ip} is in use; choose another with SATCO2_HUB_PORT."
            )
        chp = proxy_command()
        _state.prepare(self.state_dir)
        self._admin_password()
        services = self._services()
        public = f"http://127.0.0.1:{self.port}"
        self.runtime = Runtime(
            state_dir=str(self.state_dir),
            repo_root=str(config.REPO_ROOT),
            python=sys.executable,
            chp=chp,
            ip=self.ip,
            port=self.port,
            ports=self._ports(services),
            root_mode=self.root_mode,
            settings=self.settings,
            services=services,
            env=user_environment(public, {
                "SATCO2_STATE_DIR": str(self.state_dir),
                "SATCO2_SERVICE_STATE_DIR": str(self.service_state_dir),
                "SATCO2_ISOLATION": "root" if self.root_mode else "single",
                **(self.extra_env or {})}),
            user_python=user_python() if self.root_mode else sys.executable,
        )
        self.runtime.save()
        return self.runtime

    def start(self, timeout: float = 120) -> "Hub":
        """Start everything and wait until the hub and the gateway answer; create the admin."""
        rt = self.prepare()
        if self.root_mode:  # services as the service account; reports/<user> per account; sudo rule
            from . import privileges

            privileges.prepare(self.state_dir, self.service_state_dir, config.reports_dir(), rt.user_python)
        else:
            self.service_state_dir.mkdir(mode=0o700, exist_ok=True)
        env = config.environ()
        env[RUNTIME_ENV] = str(self.state_dir / "runtime.json")
        env["CONFIGPROXY_AUTH_TOKEN"] = rt.secret("proxy_auth_token")
        cmd = [str(rt.venv_bin / "jupyterhub"), "-f", str(rt.hub_config_dir / "jupyterhub_config.py")]
        out = None
        if self.log_path:  # 0600: the log is the hub's business only
            out = open(_state.private_file(self.log_path), "ab")
        try:
            self.proc = subprocess.Popen(
                cmd, cwd=self.state_dir, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out:
                out.close()
        _state.write_private(self.state_dir / PID_FILE, f"{os.getpid()} {self.proc.pid}\n")
        try:
            self._wait_ready(timeout)
            _state.tighten(self.state_dir)
            self._ensure_admin()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        checks = [
            (f"{self.url}hub/api/", "the hub API"),
            (f"{self.url}services/dask-gateway/api/health", "the Dask Gateway"),
        ]
        for url, what in checks:
            while True:
                self._track()
                if self.proc.poll() is not None:
                    raise SatCO2Error(
                        f"JupyterHub exited with status {self.proc.returncode} while starting; "
                        f"see {self.log_path or 'the log above'}.{self._log_tail()}"
                    )
                try:
                    if requests.get(url, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SatCO2Error(f"{what} did not answer at {url} within {timeout:.0f} s.")
                time.sleep(0.3)

    def _log_tail(self, n: int = 25) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        lines = [ln for ln in lines if "ConfigProxy" not in ln and "/hub/error/" not in ln]
        return "\n--- last lines of the hub log ---\n" + "\n".join(lines[-n:])

    def _admin_password(self) -> None:
        """Read the admin's password, or generate and store it (0600) on first start."""
        path = self.admin_password_file
        if path.exists():
            _state.check_private(path)
            self.admin_password = path.read_text().strip()
            return
        self.admin_password = _state.new_password()
        _state.write_private(path, self.admin_password + "\n")
        self.first_start = True

    def _ensure_admin(self) -> None:
        """On first start: the admin logs in with the stored password through the real form."""
        if not self.first_start:
            return
        s = requests.Session()
        form_post(s, f"{self.url}hub/login",
                  {"username": self.admin_user, "password": self.admin_password}, allow_redirects=False)
        if not any(c.name.startswith("jupyterhub-hub-login") for c in s.cookies):
            raise SatCO2Error(
                f"the admin account {self.admin_user!r} exists with another password than the new "
                f"{self.admin_password_file}; restore the old file or remove the state directory."
            )

    # --- run / stop --------------------------------------------------------------------------
    def _track(self) -> None:
        """Remember every descendant of JupyterHub (proxy, services, servers, clusters)."""
        import psutil

        if not self.proc:
            return
        try:
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                try:
                    self._tracked.setdefault(p.pid, p.create_time())
                except psutil.Error:
                    pass
        except psutil.Error:
            pass

    def wait(self) -> int:
        """Block until JupyterHub exits (tracking its descendants meanwhile)."""
        while self.proc.poll() is None:
            self._track()
            time.sleep(1)
        return self.proc.returncode

    def stop(self, timeout: float = 30) -> None:
        """Stop JupyterHub and everything it started; idempotent; a no-op if it never started."""
        import psutil

        if self.proc is None:
            return  # nothing started (e.g. refused because another hub runs from this state)
        if self.proc.poll() is None:
            self._track()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        leftovers = []
        for pid, created in self._tracked.items():
            try:
                p = psutil.Process(pid)
                if abs(p.create_time() - created) < 1e-3:  # same process, not a reused pid
                    leftovers.append(p)
            except psutil.Error:
                pass
        for p in leftovers:
            try:
                p.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(leftovers, timeout=5)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
                pass
        for name in (PID_FILE, "runtime.json"):
            (self.state_dir / name).unlink(missing_ok=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- first screen -------------------------------------------------------------------------
    def banner(self, show_password: bool = True) -> str:
        """The first screen: URL, admin user, how to log in, where the password is.

        The first start's password is shown only when ``show_password`` (``satco2 up`` passes
        "stdout is a terminal", so it never lands in a log file)."""
        lines = [
            "",
            "=" * 72,
            f"  SatCO2 Hub is running at  http://localhost:{self.port}/",
            f"  admin user: {self.admin_user}",
        ]
        if self.first_start and show_password:
            lines.append(f"  admin password (shown once): {self.admin_password}")
        elif self.first_start:
            lines.append("  admin password: not shown, since this output is not a terminal")
        lines += [
            f"  the admin password is stored in {self.admin_password_file} (mode 0600)",
            "  New users: 'Sign up' on the login page; the admin approves them at",
            f"  http://localhost:{self.port}/hub/authorize",
            "  isolation: " + ("root mode - each hub user runs as its own system user"
                               if self.root_mode else
                               "SINGLE-ACCOUNT mode - all users share this OS account"),
            f"  Log: {self.log_path or 'below'}",
            "  Stop: Ctrl-C here, or `satco2 down` / `make down` in another terminal.",
            "=" * 72,
            "",
        ]
        return "\n".join(lines)


def down(state_dir=None, timeout: float = 150) -> bool:
    """Stop the hub running from ``state_dir``; return False when none was running."""
    state_dir = Path(state_dir or config.state_dir())
    path = state_dir / PID_FILE
    try:
        pids = [int(x) for x in path.read_text().split()]
    except (FileNotFoundError, ValueError):
        return False
    launcher = pids[0]
    if not _pid_alive(launcher):
        # the launcher died without cleaning up: stop JupyterHub directly
        if len(pids) > 1 and _pid_alive(pids[1]):
            os.kill(pids[1], signal.SIGTERM)
            _wait_gone(pids[1], timeout)
        path.unlink(missing_ok=True)
        return len(pids) > 1
    os.kill(launcher, signal.SIGTERM)
    if not _wait_gone(launcher, timeout):
        raise SatCO2Error(f"the hub (pid {launcher}) did not stop within {timeout:.0f} s.")
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.2)
    return False


def run_foreground(port=None, state_dir=None) -> int:
    """``satco2 up``: start, print the first screen, block; Ctrl-C/SIGTERM stop everything."""
    hub = Hub(state_dir=state_dir, port=port)
    hub.log_path = hub.state_dir / "hub.log"  # the terminal keeps the first screen readable
    stopping = False
    examples = None

    def on_signal(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored (e.g. `cmd &`)
    try:
        print(f"Starting SatCO2 Hub on 127.0.0.1:{hub.port} (log: {hub.log_path}) ...", flush=True)
        hub.start()
        print(hub.banner(show_password=sys.stdout.isatty()), flush=True)
        examples = _publish_examples_in_background(hub)
        code = hub.wait()
        print(f"JupyterHub exited with status {code}; stopping what it left.{hub._log_tail()}",
              file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        print("\nStopping SatCO2 Hub (servers, clusters, services, proxy)...", file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abort the clean-up
        if examples is not None:
            _stop_tree(examples.pid)  # its runs are atomic: a killed run publishes nothing
        hub.stop()


def _stop_tree(pid: int, timeout: float = 10) -> None:
    """Terminate a process and all its descendants (kernels start their own sessions)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


def _publish_examples_in_background(hub: "Hub") -> subprocess.Popen:
    """Run and publish every analysis notebook on the demo data unless already published
    (``satco2 publish --examples``), in the background so the hub is usable at once."""
    log_path = hub.state_dir / "publish-examples.log"
    env = {**config.environ(), **hub.runtime.env, "SATCO2_STATE_DIR": str(hub.state_dir)}
    cmd = [str(Path(sys.executable).parent / "satco2"), "publish", "--examples"]
    preexec = None
    if hub.root_mode:  # the example runs belong to the service account (author "examples"), never root
        from . import privileges

        home = str(hub.service_state_dir)
        preexec = privileges.become_service_account(home)
        env.update(HOME=home, NUMBA_CACHE_DIR=f"{home}/numba-cache")
        cmd = [hub.runtime.user_python, "-m", "satco2.cli", "publish", "--examples"]
    with open(_state.private_file(log_path), "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=preexec, cwd=str(hub.service_state_dir))
    print(f"Publishing the example dashboards of every analysis notebook in the background "
          f"(notebooks already published are skipped; log: {log_path}); they appear at {hub.url}services/dashboards/",
          flush=True)
    return proc

