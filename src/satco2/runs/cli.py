"""``satco2 run | publish | schedule | reports``: the command-line side of :mod:`satco2.runs`."""
from __future__ import annotations

import json
from typing import Optional

import typer

from .. import SatCO2Error
from . import remote


def _params(args: list[str]) -> dict:
    """``-p NAME VALUE`` pairs (papermill's syntax) from the command's extra arguments."""
    out, i = {}, 0
    while i < len(args):
        if args[i] not in ("-p", "--param"):
            raise SatCO2Error(f"unexpected argument {args[i]!r}; give parameters as -p NAME VALUE.")
        if len(args) - i < 3:
            raise SatCO2Error(f"-p needs a NAME and a VALUE, got {' '.join(args[i:])!r}.")
        name, value = args[i + 1], args[i + 2]
        if name in out:
            raise SatCO2Error(f"parameter '{name}' is given twice.")
        out[name] = value
        i += 3
    return out


EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


def run_cmd(
    ctx: typer.Context,
    notebook: str = typer.Argument(..., help="a notebook name in notebooks/ or a path to an .ipynb"),
    publish: bool = typer.Option(False, "--publish", help="publish the run's dashboard when it succeeds"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="seconds allowed per cell"),
) -> None:
    """Validate the parameters, run NOTEBOOK with papermill into reports/<you>/<notebook>/<run-id>/.
    Parameters: -p NAME VALUE (repeatable)."""
    from . import publish as _publish
    from .execute import run

    rep = run(notebook, _params(ctx.args), timeout=timeout)
    typer.echo(f"report {rep.notebook}/{rep.run_id}: {rep.dir}")
    if rep.export_error:
        typer.echo(f"error: the run succeeded but its report.html could not be written ({rep.export_error}); "
                   f"see {rep.dir / 'run.log'}.", err=True)
    if publish:
        if remote.service_url("dashboards"):
            e = remote.call("dashboards", "POST", "api/publish", {"run": f"{rep.notebook}/{rep.run_id}"})
        else:
            e = _publish.publish(rep.dir)
        typer.echo(f"published as {e['slug']}: /services/dashboards/app?id={e['slug']}")
    if rep.export_error:
        raise typer.Exit(1)


def publish_cmd(
    run: Optional[str] = typer.Argument(None, help="<notebook>/<run-id>, <notebook>/latest or a report folder"),
    follow_latest: Optional[str] = typer.Option(None, "--follow-latest", help="publish your latest successful run of NOTEBOOK, following your new runs"),
    name: Optional[str] = typer.Option(None, "--name", help="dashboard name in URLs (default from notebook and run)"),
    private: bool = typer.Option(False, "--private", help="visible to you and hub admins only"),
    examples: bool = typer.Option(False, "--examples", help="run and publish every notebook with its defaults unless already published"),
    unpublish: Optional[str] = typer.Option(None, "--unpublish", help="remove the published dashboard NAME"),
    list_: bool = typer.Option(False, "--list", help="list the published dashboards"),
    snapshot: bool = typer.Option(True, "--snapshot/--no-snapshot", help="write the offline dashboard.html"),
    wait: bool = typer.Option(False, "--wait", help="wait for the offline snapshot (default: built in the background)"),
    as_json: bool = typer.Option(False, "--json", help="print the registry entry as JSON"),
) -> None:
    """Publish a run's dashboard to the dashboards service (and write its offline HTML snapshot).
    From a user's server that cannot write the hub's state (root mode) it asks the service."""
    from . import publish as _publish

    api = remote.service_url("dashboards")
    if list_:
        for e in (remote.call("dashboards", "GET", "api/published") if api else _publish.published()):
            typer.echo(f"{e['slug']}\t{e['notebook']}\t{e.get('run_id') or '-'}\t{e['author']}\t{e['published']}"
                       + ("\tfollows latest" if e.get("follow_latest") else ""))
        return
    if unpublish:
        if api:
            remote.call("dashboards", "DELETE", f"api/published/{unpublish}")
        else:
            _publish.unpublish(unpublish)
        typer.echo(f"unpublished {unpublish}")
        return
    if examples:
        _publish.publish_examples(log=typer.echo)
        return
    if api:
        e = remote.call("dashboards", "POST", "api/publish", {
            "run": None if run is None else str(run), "follow_latest": follow_latest, "name": name,
            "private": private, "snapshot": snapshot, "wait": wait})
    else:
        e = _publish.publish(run, follow_latest=follow_latest, slug=name,
                             make_snapshot=(True if wait else "background") if snapshot else False,
                             visibility="private" if private else "all")
    if as_json:
        typer.echo(json.dumps(e, default=str))
        return
    typer.echo(f"published {e['slug']} ({e['notebook']}/{e['run_id']}) at /services/dashboards/app?id={e['slug']}")
    if e.get("snapshot_state") and e.get("run_user"):
        where = f"/services/dashboards/reports/{e['run_user']}/{e['notebook']}/{e['run_id']}/dashboard.html"
        typer.echo(f"offline snapshot ({e['snapshot_state']}): {where}")


schedule_app = typer.Typer(help="Scheduled runs, fired by the hub's scheduler service.", no_args_is_help=True)


def _remote_notebook(notebook: str, params: dict) -> str:
    """How the scheduler service names ``notebook``: a hub notebook by name; a file of yours as
    ``~/<path in your home>`` (validated here, and again by each run as you)."""
    import os
    from pathlib import Path

    from . import params as _p
    from .execute import notebook_path

    if "/" not in notebook and not notebook.endswith(".ipynb"):
        return notebook
    nb = notebook_path(notebook)
    home = Path(os.path.expanduser("~")).resolve()
    if home not in nb.parents:
        raise SatCO2Error(f"the scheduler runs notebooks of the hub or of your home folder; {nb} is in neither.")
    _p.validate(nb, params, strict=True)
    return "~/" + str(nb.relative_to(home))


@schedule_app.command("add", context_settings=EXTRA)
def schedule_add(
    ctx: typer.Context,
    notebook: str = typer.Argument(..., help="a notebook name in notebooks/ or a path"),
    every: str = typer.Option("daily", "--every", help="hourly, daily, monthly (or '<N>s' for tests)"),
    publish: Optional[str] = typer.Option(None, "--publish", help="keep the follow-latest dashboard NAME updated"),
) -> None:
    """Add a schedule (parameters -p NAME VALUE, validated now)."""
    from . import schedule

    if remote.service_url("scheduler"):
        s = remote.call("scheduler", "POST", "api/schedules", {
            "notebook": _remote_notebook(notebook, _params(ctx.args)), "params": _params(ctx.args),
            "every": every, "publish": publish})
    else:
        s = schedule.add(notebook, _params(ctx.args), every, publish=publish)
    typer.echo(f"schedule {s['id']}: {s['notebook']} {s['every']}, first run {s['next_run']}")


@schedule_app.command("list")
def schedule_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the schedules."""
    from . import schedule

    items = (remote.call("scheduler", "GET", "api/schedules") if remote.service_url("scheduler")
             else schedule.list_schedules())
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for s in items:
        typer.echo(f"{s['id']}\t{s['notebook']}\t{s['every']}\t{s['owner']}\tnext {s['next_run']}\t"
                   f"last {s['last_status'] or '-'}\t{json.dumps(s['params'])}")


@schedule_app.command("remove")
def schedule_remove(schedule_id: str) -> None:
    """Remove a schedule."""
    from . import schedule

    if remote.service_url("scheduler"):
        remote.call("scheduler", "DELETE", f"api/schedules/{schedule_id}")
    else:
        schedule.remove(schedule_id)
    typer.echo(f"removed schedule {schedule_id}")


def reports_cmd(
    notebook: Optional[str] = typer.Argument(None, help="only this notebook"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List run reports, newest first."""
    from . import reports

    items = reports.list_reports(notebook)
    if as_json:
        typer.echo(json.dumps(items, indent=2, default=str))
        return
    for r in items:
        typer.echo(f"{r['notebook']}/{r['run_id']}\t{r['status']}{' (latest)' if r.get('latest') else ''}\t"
                   f"{r.get('user') or '-'}\t{json.dumps(r['parameters'])}")


def register(app: typer.Typer) -> None:
    app.command("run", context_settings=EXTRA)(run_cmd)
    app.command("publish")(publish_cmd)
    app.add_typer(schedule_app, name="schedule")
    app.command("reports")(reports_cmd)
