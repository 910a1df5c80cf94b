"""The scheduler service: fires scheduled notebook runs (``python -m satco2.services.scheduler``).

Schedules live in ``<service_state_dir>/scheduler/schedules.json`` (:mod:`satco2.runs.schedule`;
added with ``satco2 schedule add`` or the token API below). Every ``$SATCO2_SCHEDULER_TICK`` seconds
(default 15) the service claims the due schedules and starts each as its own process,
``python -m satco2.runs.job`` with the schedule as JSON on its standard input (own session, log in
``<service_state_dir>/scheduler/logs/<id>.log``), so a run depends neither on a user's server nor on
this service staying up. A schedule whose previous run is still going is not started twice.
Missed periods (service down) are skipped, not replayed.

Who runs what (root mode, docs/hub.md): this service runs as the unprivileged service account; a
run runs as the schedule's owner through the one sudo rule ``satco2 up`` installs
(``sudo -n -u <owner> <python> -m satco2.runs.job``), never as root and never as the service.
When a run ends the service checks the report folder it names (a trusted run in the owner's
reports folder, :mod:`satco2.runs.reports`), records the result and, for a schedule with
``publish``, refreshes the owner's follow-latest dashboard in a subprocess
(``satco2 publish --follow-latest``, as the service, for the owner).

Inside the hub each run computes on a Dask Gateway cluster of the schedule's owner: the service
(scope ``tokens``) issues the owner a token limited to the gateway, hands it to the job with
``SATCO2_NEW_CLUSTER=1`` and revokes it when the job ends. The job never holds the service's own
credentials.

Inside the hub it also answers at ``$JUPYTERHUB_SERVICE_PREFIX`` (hub OAuth, like the dashboards
service): ``/`` lists the logged-in user's schedules (admins: all) as JSON. SIGINT/SIGTERM stop it
at once; running jobs finish on their own.
"""
from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from .. import SatCO2Error, config
from ..config import isolation, service_state_dir
from ..runs import reports, schedule

log = logging.getLogger("satco2.services.scheduler")


#: lifetime of the token a scheduled run computes with (revoked when the run ends)
JOB_TOKEN_SECONDS = config.get("job-token-seconds")


def _hub_api(method: str, path: str, **kwargs):
    import requests

    r = requests.request(method, config.env("JUPYTERHUB_API_URL").rstrip("/") + "/" + path,
                         headers={"Authorization": f"token {config.env('JUPYTERHUB_API_TOKEN')}"},
                         timeout=30, **kwargs)
    r.raise_for_status()
    return r.json() if r.content else None


def owner_token(owner: str, schedule_id: str) -> tuple[str, str] | None:
    """Inside the hub, a new API token of ``owner`` that may only reach the Dask Gateway (expiring
    after :data:`JOB_TOKEN_SECONDS`), so that the run's cluster is the owner's, within the owner's
    limits: ``(token, token id)``; None outside the hub. Raises on a hub API error."""
    if not all(config.env(k) for k in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "DASK_GATEWAY__ADDRESS")):
        return None
    data = _hub_api("POST", f"users/{owner}/tokens", json={
        "note": f"satco2 scheduled run {schedule_id}", "expires_in": JOB_TOKEN_SECONDS,
        "scopes": ["access:services!service=dask-gateway"]})
    return data["token"], data["id"]


def logs_dir() -> Path:
    return service_state_dir() / "scheduler" / "logs"


class Scheduler:
    """Claims due schedules and starts their jobs; :meth:`tick` is one pass."""

    def __init__(self):
        self.running: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, dict] = {}
        self.publishing: dict[str, subprocess.Popen] = {}
        self.tokens: dict[str, tuple[str, str]] = {}  # schedule id -> (owner, token id)

    def _reap(self) -> None:
        for sid, p in list(self.running.items()):
            rc = p.poll()
            if rc is not None:
                log.info("schedule %s: job %s ended with status %s", sid, p.pid, rc)
                del self.running[sid]
                self._revoke(sid)
                try:
                    self._finished(self.specs.pop(sid), rc)
                except Exception:  # noqa: BLE001 - one bad result must not stop the service
                    log.exception("schedule %s: recording the result failed", sid)
        for sid, p in list(self.publishing.items()):
            if p.poll() is not None:
                del self.publishing[sid]

    def _result(self, sid: str) -> dict:
        """The job's last JSON line in its log (the job runs as the owner: checked by the caller)."""
        try:
            lines = (logs_dir() / f"{sid}.log").read_text(errors="replace").splitlines()
        except OSError:
            return {}
        for line in reversed(lines[-50:]):
            if line.startswith('{"report"'):
                try:
                    data = json.loads(line)
                except ValueError:
                    return {}
                return data if isinstance(data, dict) else {}
        return {}

    @staticmethod
    def _trusted_report(s: dict, report) -> str | None:
        """The run folder a job named, if it is a trusted run of the schedule's owner; else None
        (the job runs as the owner, so its log line is only a claim: a path outside the reports
        tree, another user's run or a non-string is not believed and the result is an error)."""
        if not isinstance(report, str) or not report:
            return None
        try:
            owner = reports.run_parts(report)[0]
        except SatCO2Error:
            return None
        return report if owner == s["owner"] and reports.trusted(report) else None

    def _finished(self, s: dict, rc: int) -> None:
        report = self._trusted_report(s, self._result(s["id"]).get("report"))
        status = reports.info(Path(report))["status"] if report else "error"
        schedule.record_result(s["id"], report, status)
        if status == "ok" and s.get("publish"):
            env = {k: v for k, v in config.environ().items() if not k.startswith("JUPYTERHUB_")}
            env["JUPYTERHUB_USER"] = s["owner"]  # the author: the schedule's owner
            with open(logs_dir() / f"{s['id']}.log", "a") as out:
                self.publishing[s["id"]] = subprocess.Popen(
                    [sys.executable, "-m", "satco2.cli", "publish", "--follow-latest", s["notebook"],
                     "--name", s["publish"]], stdout=out, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True, stdin=subprocess.DEVNULL)

    def _revoke(self, sid: str) -> None:
        owner, token_id = self.tokens.pop(sid, (None, None))
        if token_id:
            try:
                _hub_api("DELETE", f"users/{owner}/tokens/{token_id}")
            except Exception as e:  # noqa: BLE001 - it expires anyway
                log.warning("schedule %s: could not revoke the run's token (%s); it expires by itself", sid, e)

    def _job_env(self, s: dict, out) -> dict:
        """The job's environment: none of the service's hub credentials; inside the hub a token of
        the schedule's owner for the gateway (or, if none can be had, no gateway: a local cluster,
        said in the job's log)."""
        env = {k: v for k, v in config.environ().items() if not k.startswith("JUPYTERHUB_")}
        try:
            tok = owner_token(s["owner"], s["id"])
        except Exception as e:  # noqa: BLE001 - the run still happens, on a local cluster
            tok = None
            out.write(f"scheduler: no Dask Gateway token for {s['owner']} ({e}); this run computes "
                      f"on a local cluster\n")
            out.flush()
        if tok is None:
            for k in [k for k in env if k.startswith("DASK_GATEWAY__")]:
                del env[k]
            return env
        self.tokens[s["id"]] = (s["owner"], tok[1])
        env.update(JUPYTERHUB_API_TOKEN=tok[0], SATCO2_NEW_CLUSTER="1")
        return env

    def _command(self, owner: str) -> list[str]:
        """The job's command: as the owner through the hub's sudo rule in root mode."""
        job = [sys.executable, "-m", "satco2.runs.job"]
        if isolation() == "root":
            return ["sudo", "-n", "-H", "-u", owner, "--", *job]
        return job

    def tick(self) -> list[str]:
        self._reap()
        started = []
        for s in schedule.claim_due():
            if s["id"] in self.running or s["id"] in self.publishing:
                log.info("schedule %s: previous run still going, skipped", s["id"])
                continue
            logs = logs_dir()
            logs.mkdir(parents=True, exist_ok=True)
            with open(logs / f"{s['id']}.log", "a") as out:
                env = self._job_env(s, out)
                spec = {k: s.get(k) for k in ("id", "notebook", "notebook_path", "params", "owner")}
                spec["env"] = {k: v for k, v in env.items()
                               if k.startswith(("SATCO2_", "DASK_GATEWAY__")) or k == "JUPYTERHUB_API_TOKEN"}
                try:
                    p = subprocess.Popen(self._command(s["owner"]), stdout=out, stdin=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd="/")
                    p.stdin.write(json.dumps(spec).encode())
                    p.stdin.close()
                except BaseException:
                    self._revoke(s["id"])
                    raise
            self.running[s["id"]] = p
            self.specs[s["id"]] = s
            started.append(s["id"])
            log.info("schedule %s: started %s (pid %s)", s["id"], s["notebook"], p.pid)
        return started


def _web_app():
    from tornado import web

    from .dashboards import BaseHandler, OAuthCallbackHandler, TokenAPIHandler, _cookie_secret

    def visible(u):
        return None if u.get("admin") else u["name"]

    class ListHandler(BaseHandler):
        def get(self):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(schedule.list_schedules(owner=visible(self.current_user)), default=str))

    class SchedulesAPIHandler(TokenAPIHandler):
        """``GET/POST <prefix>/api/schedules``: the caller's schedules (all for admins); add one
        ``{"notebook", "params", "every", "publish"}`` owned by the token's user (parameters
        validated now) - what ``satco2 schedule`` does from a user's server in root mode."""

        def get(self):
            self.reply(schedule.list_schedules(owner=visible(self.current_user)))

        def post(self):
            b = self.body()
            nb = b.get("notebook")
            if not isinstance(nb, str) or not (schedule.NAME_RE.match(nb) or schedule.home_notebook(nb)):
                raise web.HTTPError(400, "say which notebook to schedule: a notebook of the hub by name, or one "
                                         "of yours as '~/path.ipynb'")
            params = b.get("params") or {}
            if not isinstance(params, dict):
                raise web.HTTPError(400, "params must be a JSON object of parameter names and values")
            if b.get("publish") is not None and not isinstance(b["publish"], str):
                raise web.HTTPError(400, "publish must be a dashboard name")
            try:
                s = schedule.add(b["notebook"], params, str(b.get("every", "daily")),
                                 publish=b.get("publish"), owner=self.current_user["name"])
            except SatCO2Error as e:
                raise web.HTTPError(400, str(e)) from None
            self.reply(s, 201)

    class ScheduleAPIHandler(TokenAPIHandler):
        """``DELETE <prefix>/api/schedules/<id>``: remove one (its owner's, or any for an admin)."""

        def delete(self, schedule_id: str):
            try:
                schedule.remove(schedule_id, owner=visible(self.current_user))
            except SatCO2Error as e:
                raise web.HTTPError(404 if "no schedule" in str(e) else 403, str(e)) from None
            self.reply({"removed": schedule_id})

    prefix = config.env("JUPYTERHUB_SERVICE_PREFIX", "/services/scheduler/")
    return web.Application(
        [(prefix, ListHandler), (prefix + "api/schedules", SchedulesAPIHandler),
         (prefix + r"api/schedules/([^/]+)", ScheduleAPIHandler),
         (prefix + "oauth_callback", OAuthCallbackHandler)],
        cookie_secret=_cookie_secret(), satco2_prefix=prefix,
    )


def main() -> None:
    from tornado.ioloop import IOLoop, PeriodicCallback

    logging.basicConfig(level=logging.WARNING, format="[scheduler %(asctime)s %(levelname)s] %(message)s")
    log.setLevel(logging.INFO)
    tick = config.get("scheduler-tick")
    sched = Scheduler()
    loop = IOLoop.current()
    if config.env("JUPYTERHUB_SERVICE_URL") and config.env("JUPYTERHUB_API_TOKEN"):
        url = urlparse(config.env("JUPYTERHUB_SERVICE_URL"))
        _web_app().listen(url.port, address=url.hostname)

    def safe_tick():
        try:
            sched.tick()
        except Exception:  # noqa: BLE001 - a bad schedule file must not stop the service
            log.exception("tick failed")

    PeriodicCallback(safe_tick, tick * 1000).start()
    loop.add_callback(safe_tick)

    def stop(signum, frame):
        log.info("signal %s: stopping", signum)
        loop.add_callback_from_signal(loop.stop)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("scheduler: checking %s every %s s", service_state_dir() / "scheduler" / "schedules.json", tick)
    loop.start()


if __name__ == "__main__":
    main()
