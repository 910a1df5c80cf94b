"""Published dashboards: a registry on disk read by the dashboards service, and offline snapshots.

The registry is ``<service_state_dir>/dashboards/published.json``::

    {"entries": {"<slug>": {"slug", "notebook", "title", "description",
                            "run": "<user>/<nb>/<run-id>" | null, "follow_latest": bool,
                            "visibility": "all" | "private", "author", "published"}}}

A user publishes only their own runs (the author is the account that runs ``satco2 publish``, or the
hub user of the services' token API). The dashboards service never builds a dashboard from a
folder users can write: the run is first copied, without following any link and checking every
owner (:func:`verified_copy`, :mod:`satco2.safeio`), into the services' own storage
``<service_state_dir>/dashboards/runs/<user>/<nb>/<run-id>/``, and the dashboard and its offline
snapshot are built from and written into that copy.

Every change takes an exclusive lock (``published.json.lock``, :func:`satco2.io.update_json`) and
replaces the file atomically, so the service, the scheduler and the CLI can write concurrently and a crash never
leaves a half-written registry. A ``follow_latest`` entry shows its author's newest successful run
of the notebook, so the author's next successful run (scheduled or not) updates it, a failed run
never does, and other users' runs of the same notebook do not change it.

A dashboard is rebuilt from a report folder by the notebook's dashboard module:
``satco2.dashboards.<notebook>.from_report(report_dir)`` (or the module named by a top-level
``dashboard:`` key of the notebook's ``.params.yaml``). :func:`snapshot` saves it as a fully offline
HTML file (``dashboard.html`` in the report folder; ``embed=True``, inline resources, Panel's CDN
stylesheets inlined as ``data:`` URLs, so it opens with no network at all).
"""
from __future__ import annotations

import importlib
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import SatCO2Error, io, safeio
from ..config import service_state_dir
from . import reports

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
SNAPSHOT = "dashboard.html"
_REMOTE_LINK = re.compile(r'<link [^>]*href="https?://[^"]*"[^>]*>\n?')
_PANEL_CDN_CSS = re.compile(r'https://cdn\.holoviz\.org/panel/[^/"]+/dist/([^"?\\]+\.css)(\?[^"\\]*)?')


def _inline_panel_css(text: str) -> str:
    """Replace Panel's CDN stylesheet URLs (its widgets' ImportedStyleSheets, left remote even by
    ``resources=INLINE``) with ``data:`` URLs of the same files from the installed Panel."""
    import base64

    import panel

    dist = Path(panel.__file__).parent / "dist"

    def repl(m):
        f = dist / m.group(1)
        if not f.is_file():
            return m.group(0)
        return "data:text/css;base64," + base64.b64encode(f.read_bytes()).decode()

    return _PANEL_CDN_CSS.sub(repl, text)


def registry_dir() -> Path:
    return service_state_dir() / "dashboards"


def copies_dir() -> Path:
    return registry_dir() / "runs"


def verified_copy(report_dir: str | os.PathLike) -> Path:
    """The services' copy of a run folder of the reports tree (made once, on first use): every
    folder and file checked to belong to the run's author, no link followed, nothing but plain
    folders and files (:class:`satco2.safeio.UntrustedPath` otherwise). A path outside the reports
    tree (a notebook's own output folder, or a copy) is returned as it is."""
    if not reports._in_reports(report_dir):
        return Path(report_dir)
    user, nb, rid = reports.run_parts(report_dir)
    dest = copies_dir() / user / nb / rid
    if dest.is_dir():
        return dest
    fd = reports._open_run(user, nb, rid)
    try:
        return safeio.copy_tree(fd, dest, owner=reports.expected_owner(user))
    finally:
        os.close(fd)


def registry_file() -> Path:
    return registry_dir() / "published.json"


def _locked():
    return io.update_json(registry_file(), {"entries": {}}, mode=reports.FILE_MODE)


def _raw() -> dict:
    return (io.read_json(registry_file(), None) or {"entries": {}})["entries"]


def dashboard_module(notebook: str):
    """The module building ``notebook``'s dashboard (it defines ``from_report(report_dir)``)."""
    from . import params

    modname = f"satco2.dashboards.{notebook}"
    try:
        modname = params.schema(notebook).get("dashboard", modname)
    except params.ParameterError:
        pass
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError:
        raise SatCO2Error(f"notebook '{notebook}' has no dashboard module {modname}.") from None
    if not hasattr(mod, "from_report"):
        raise SatCO2Error(f"dashboard module {modname} of notebook '{notebook}' defines no from_report(report_dir).")
    return mod


def build(report_dir: str | os.PathLike):
    """The Panel dashboard of a report folder (rebuilt from its data products; a run of the
    reports tree from its :func:`verified_copy`)."""
    d = verified_copy(report_dir)
    return dashboard_module(d.parent.name).from_report(d)


#: largest number of widget-state combinations embedded in an offline snapshot
MAX_EMBEDDED_STATES = 1000
_CONTINUOUS_SAMPLES = 3  # Panel's embed samples a continuous slider at max_opts=3 values


def embedded_states(view) -> int:
    """Upper bound of the widget-value combinations Panel's ``embed=True`` would render."""
    import panel as pn

    n = 1
    for w in view.select(pn.widgets.Widget):
        options = getattr(w, "options", None)
        if options:
            n *= len(options)
        elif isinstance(w, (pn.widgets.Checkbox, pn.widgets.Toggle)):
            n *= 2
        elif isinstance(w, (pn.widgets.IntSlider, pn.widgets.FloatSlider, pn.widgets.DateSlider)):
            n *= _CONTINUOUS_SAMPLES
    return n


def snapshot_path(report_dir: str | os.PathLike) -> Path:
    """Where the offline snapshot of a run is (in its verified copy, never in the user's folder)."""
    if not reports._in_reports(report_dir):
        return Path(report_dir) / SNAPSHOT
    user, nb, rid = reports.run_parts(report_dir)
    return copies_dir() / user / nb / rid / SNAPSHOT


def snapshot(report_dir: str | os.PathLike) -> Path:
    """Write the fully offline HTML snapshot ``dashboard.html`` into the run's verified copy
    (atomic) and return it."""
    import panel as pn
    from bokeh.resources import INLINE

    report_dir = verified_copy(report_dir)
    view = pn.panel(build(report_dir))
    target = report_dir / SNAPSHOT
    # Embedding explores the cross product of the widgets' values: beyond MAX_EMBEDDED_STATES the
    # snapshot keeps the dashboard's first view (widgets inert) instead of running for hours.
    embed = embedded_states(view) <= MAX_EMBEDDED_STATES
    with io.atomic_path(target, suffix=".html") as tmp:  # Panel picks the format from the name
        view.save(str(tmp), embed=embed, resources=INLINE, title=report_dir.parent.name)
        # Panel's template links its icons from a CDN: drop them so nothing is fetched when opened
        tmp.write_text(_inline_panel_css(_REMOTE_LINK.sub("", tmp.read_text())))
    return target


#: state of a snapshot being built in the background, beside it in the run's verified copy
SNAPSHOT_STATE = ".snapshot-state.json"


def snapshot_state(report_dir: str | os.PathLike) -> str | None:
    """``"ready"``, ``"building"``, ``"failed"`` or None (never asked for) for a run's snapshot."""
    copy = snapshot_path(report_dir).parent
    if (copy / SNAPSHOT).is_file():
        return "ready"
    st = io.read_json(copy / SNAPSHOT_STATE, None) or {}
    if st.get("state") == "building" and not _alive(st.get("pid")):
        return "failed"  # the builder died without a word
    return st.get("state")


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, TypeError, ValueError):
        return False


#: snapshot builders this process started (publish_examples waits for them, so that stopping the
#: example publisher, as `satco2 down` does, stops them too)
BUILDERS: list = []


def start_snapshot(report_dir: str | os.PathLike) -> None:
    """Build the offline snapshot in a background process (``python -m satco2.runs.publish``), so
    publishing returns at once; :func:`snapshot_state` tells how it goes."""
    import subprocess
    import sys

    copy = verified_copy(report_dir)
    with open(copy / ".snapshot.log", "ab") as log:
        p = subprocess.Popen([sys.executable, "-m", "satco2.runs.publish", str(copy)], stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    io.write_json(copy / SNAPSHOT_STATE, {"state": "building", "pid": p.pid, "started": _now()}, mode=reports.FILE_MODE)
    BUILDERS.append(p)


def _build_snapshot_main(copy: str) -> int:
    """``python -m satco2.runs.publish COPY``: build one snapshot, record a failure in one sentence."""
    try:
        snapshot(copy)
    except Exception as e:  # noqa: BLE001 - recorded for the service's pages, then exit non-zero
        io.write_json(Path(copy) / SNAPSHOT_STATE, {"state": "failed", "error": f"{type(e).__name__}: {e}"},
                      mode=reports.FILE_MODE)
        print(f"error: the offline snapshot of {copy} failed: {e}", flush=True)
        return 1
    (Path(copy) / SNAPSHOT_STATE).unlink(missing_ok=True)
    return 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _entry_view(e: dict) -> dict | None:
    """An entry with its current report resolved (None for a follow-latest without any good run)."""
    out = dict(e)
    try:
        d = (reports.latest(e["notebook"], user=e["author"]) if e.get("follow_latest")
             else reports.resolve(e["run"], user=e["author"]))
    except SatCO2Error:
        d = None
    if d is None:
        out.update(report_dir=None, run_id=None, parameters={}, run_date=None, run_user=None)
        return out
    i = reports.info(d)
    out.update(report_dir=str(d), run_id=i["run_id"], parameters=i["parameters"], run_date=i["finished"],
               run_user=i["user"], has_snapshot=snapshot_path(d).is_file(), snapshot_state=snapshot_state(d))
    return out


def published() -> list[dict]:
    """The published dashboards (newest publication first), each resolved to its current report."""
    items = [_entry_view(e) for e in _raw().values()]
    items.sort(key=lambda e: e.get("published", ""), reverse=True)
    return items


def get(slug: str) -> dict:
    e = _raw().get(slug)
    if e is None:
        raise SatCO2Error(f"no published dashboard named {slug!r}.")
    return _entry_view(e)


def publish(run: str | os.PathLike | None = None, *, follow_latest: str | None = None, slug: str | None = None,
            author: str | None = None, make_snapshot: bool | str = True, visibility: str = "all") -> dict:
    """Publish a run's dashboard (``run``: see :func:`satco2.runs.reports.resolve`), or with
    ``follow_latest=NOTEBOOK`` the dashboard of the author's latest successful run of that notebook
    (and of the author's later runs, as they succeed). ``author``: default the hub user
    (``JUPYTERHUB_USER``) or the system user; only the author's own runs can be published (a run
    is the author's when it sits in the author's reports folder, see :mod:`satco2.runs.reports`).
    ``slug`` (the name in URLs): default
    ``<notebook>-<run id>`` for a run, ``<notebook>-<author>`` for follow-latest.

    The dashboard is built once first (so a broken report is refused before it is listed) and, with
    ``make_snapshot``, saved as the offline ``dashboard.html`` in the run's verified copy: now
    (``True``), or by a background process (``"background"``, what ``satco2 publish`` does, so it
    returns in seconds and the live dashboard is usable at once; :func:`snapshot_state`).
    ``visibility``: ``"all"`` (every hub user with access to the dashboards service) or
    ``"private"`` (the author and hub admins). Returns the registry entry.
    """
    from . import params

    if (run is None) == (follow_latest is None):
        raise SatCO2Error("publish needs exactly one of a run or --follow-latest NOTEBOOK.")
    author = reports.check_user(author or reports.current_user())
    if follow_latest is not None:
        d = reports.latest(follow_latest, user=author)
        if d is None:
            raise SatCO2Error(f"notebook '{follow_latest}' has no successful run by {author} to publish.")
        run_ref = None
        slug = slug or re.sub(r"[^a-z0-9_-]", "-", f"{follow_latest}-{author}".lower())
    else:
        d = reports.resolve(run, user=author)
        if d.parent.parent.name != author:
            raise SatCO2Error(f"run {run} was made by {d.parent.parent.name}, not by {author}; you can publish "
                              f"only your own runs.")
        st = reports.info(d)
        if st["status"] != "ok":
            raise SatCO2Error(f"run {d.parent.name}/{d.name} did not succeed (status {st['status']}) and cannot be published.")
        run_ref = f"{author}/{d.parent.name}/{d.name}"
        slug = slug or f"{d.parent.name}-{d.name}".lower()
    if visibility not in ("all", "private"):
        raise SatCO2Error(f"visibility must be 'all' or 'private', not {visibility!r}.")
    if not SLUG_RE.match(slug):
        raise SatCO2Error(f"dashboard name {slug!r} must be lower-case letters, digits, '-' or '_'.")
    check_name_free(slug, author)  # before the snapshot: a refusal changes nothing
    notebook = d.parent.name
    try:
        if make_snapshot is True:
            snapshot(d)
        else:
            build(d)
    except safeio.UntrustedPath as e:
        raise SatCO2Error(f"run {d.parent.name}/{d.name} cannot be published: {e}") from None
    try:
        sch = params.schema(notebook)
    except params.ParameterError:
        sch = {"title": notebook, "description": ""}
    entry = {
        "slug": slug,
        "notebook": notebook,
        "title": sch.get("title", notebook),
        "description": sch.get("description", ""),
        "run": run_ref,
        "follow_latest": follow_latest is not None,
        "visibility": visibility,
        "author": author,
        "published": _now(),
    }
    with _locked() as data:
        check_name_free(slug, author, data["entries"])  # again under the lock (a concurrent publish)
        data["entries"][slug] = entry
    if make_snapshot == "background" and snapshot_state(d) not in ("ready", "building"):
        start_snapshot(d)
    _prune_quietly()
    return _entry_view(entry)


def check_name_free(slug: str, author: str, entries: dict | None = None) -> None:
    """Refuse ``slug`` if another author's dashboard has it: publishing under a taken name would
    replace that dashboard. The same author re-publishing under the name updates it."""
    prev = (_raw() if entries is None else entries).get(slug)
    if prev is not None and prev.get("author") != author:
        raise SatCO2Error(f"the dashboard name {slug!r} is taken by a dashboard of {prev.get('author')}; "
                          f"choose another name (--name).")


def unpublish(slug: str) -> None:
    with _locked() as data:
        if slug not in data["entries"]:
            raise SatCO2Error(f"no published dashboard named {slug!r}.")
        del data["entries"][slug]
    _prune_quietly()


#: a verified copy no published dashboard uses is removed only when it is older than this (seconds):
#: a viewer's live session may still read the run a follow-latest dashboard showed until its new run
COPY_GRACE_SECONDS = 24 * 3600


def _prune_quietly() -> None:
    try:
        prune_copies()
    except OSError as e:  # the (un)publication stands; the old copies go next time
        print(f"warning: could not remove superseded run copies: {e}", flush=True)


def prune_copies(grace_seconds: float = COPY_GRACE_SECONDS) -> list[Path]:
    """Remove the verified copies (:func:`verified_copy`) that no published dashboard shows any
    more (an unpublished dashboard, or the earlier runs of a follow-latest one), once they are older
    than ``grace_seconds`` and no snapshot is being built in them; returns the folders removed.
    Called by :func:`publish` and :func:`unpublish`, so the services' storage holds the runs that
    are shown plus at most a day of superseded ones, not every run ever published."""
    root = copies_dir()
    if not root.is_dir():
        return []
    keep = set()
    for e in _raw().values():
        v = _entry_view(e)
        if v.get("report_dir"):
            user, nb, rid = Path(v["report_dir"]).parts[-3:]
            keep.add((user, nb, rid))
    now = time.time()
    removed = []
    for d in sorted(root.glob("*/*/*")):
        key = d.relative_to(root).parts
        if key in keep or d.is_symlink() or not d.is_dir():
            continue
        if now - d.lstat().st_mtime < grace_seconds or snapshot_state(d) == "building":
            continue
        io.remove_tree(d)
        removed.append(d)
        for parent in (d.parent, d.parent.parent):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
    return removed


#: the order in which ``publish --examples`` starts the notebooks: the flagship first (the dashboard
#: a new user looks for), then the longest runs, so that two at a time finish soonest; the others
#: follow alphabetically
EXAMPLES_FIRST = ("pco2_flux", "chl_gapfill", "marginal_sea_trends")


def example_order(names) -> list[str]:
    """``names`` in the order :func:`publish_examples` starts them (:data:`EXAMPLES_FIRST`, then the rest)."""
    first = [n for n in EXAMPLES_FIRST if n in names]
    return first + sorted(n for n in names if n not in first)


def publish_examples(notebooks: list[str] | None = None, log=print, jobs: int = 2) -> list[dict]:
    """Run every notebook in ``notebooks/`` with its example parameters (:func:`params.example`:
    the defaults, with the lighter values of the ``example:`` mapping of its ``.params.yaml``) and
    publish it as a follow-latest dashboard, skipping notebooks that already have a published dashboard (``satco2 publish
    --examples``, started in the background by ``satco2 up``). A failing notebook is reported and
    skipped. Returns the entries published (in the order they were published).

    ``jobs`` notebooks run at a time (each in its own papermill kernel), in :func:`example_order`;
    each dashboard is published (live) as soon as its run has succeeded. The offline snapshots are
    built afterwards, ``jobs`` at a time, so they do not slow the runs; this waits for them (so
    stopping the publisher, as ``satco2 down`` does, stops them too)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from . import params
    from .execute import run

    names = notebooks or [p.name[: -len(".params.yaml")] for p in params.notebooks_dir().glob("*.params.yaml")]
    have = {e["notebook"] for e in _raw().values() if e.get("author") == reports.EXAMPLES_AUTHOR}
    todo = []
    for nb in example_order(names):
        if nb in have:
            log(f"{nb}: already published, skipped")
        else:
            todo.append(nb)
    out: list[dict] = []
    build_lock = threading.Lock()  # dashboards are built (Bokeh documents) one at a time in this process

    def one(nb: str) -> None:
        try:
            if reports.latest(nb, user=reports.EXAMPLES_AUTHOR) is None:
                values = params.example(nb)
                log(f"{nb}: running with its example parameters {values or '(the defaults)'} ...")
                run(nb, values, user=reports.EXAMPLES_AUTHOR)
            with build_lock:
                entry = publish(follow_latest=nb, author=reports.EXAMPLES_AUTHOR, slug=nb.lower(),
                                make_snapshot=False)
                out.append(entry)
            log(f"{nb}: published at /services/dashboards/d/{entry['slug']}")
        except SatCO2Error as e:
            log(f"{nb}: not published: {e}")

    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="example") as pool:
        list(pool.map(one, todo))
    for e in out:  # the offline snapshots: children of this process until they are written
        if snapshot_state(e["report_dir"]) in ("ready", "building"):
            continue
        while sum(p.poll() is None for p in BUILDERS) >= max(1, jobs):
            time.sleep(0.5)
        start_snapshot(e["report_dir"])
    for p in BUILDERS:
        p.wait()
    return out


if __name__ == "__main__":
    import sys

    sys.exit(_build_snapshot_main(sys.argv[1]))
