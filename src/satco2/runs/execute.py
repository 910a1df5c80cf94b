"""One validated notebook run: :func:`run` (``satco2 run NOTEBOOK -p name value ...``).

1. The parameters are validated against ``notebooks/<name>.params.yaml`` (strict: unknown names
   are refused) before anything runs; a :class:`~satco2.runs.params.ParameterError` leaves no trace.
2. papermill executes the notebook in a subprocess (kernel ``python3`` of this environment; the
   notebook itself gets its Dask client from ``satco2.compute.get_client()``, i.e. the user's
   gateway cluster inside the hub) into ``<reports>/<user>/<name>/.tmp-<run-id>/`` with
   ``SATCO2_RUN_DIR``/``SATCO2_RUN_ID``/``SATCO2_RUN_NOTEBOOK`` set (see :mod:`satco2.runs.context`).
3. The executed notebook is exported to HTML (nbconvert); ``provenance.json`` records the
   environment lock hash (sha256 of ``environment/requirements.lock``), package version, git commit,
   Python, user, host, and the input products the notebook recorded; ``status.json`` the outcome.
4. The folder is sealed (no group/other write bits) and renamed to ``<reports>/<user>/<name>/<run-id>/``;
   a failed run is kept with ``status: failed``; only a successful one can become the user's latest.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from .. import SatCO2Error, __version__, config, io
from ..config import REPO_ROOT
from . import params as _params
from . import reports
from .context import INPUTS_FILE

LOCK_FILE = REPO_ROOT / "environment" / "requirements.lock"


class RunFailed(SatCO2Error):
    """The notebook raised while executing; the failed report is kept (``status.json``)."""

    def __init__(self, message: str, report: "Report"):
        super().__init__(message)
        self.report = report


@dataclass
class Report:
    """A finished run: its folder, id, notebook, status and validated parameters."""

    dir: Path
    run_id: str
    notebook: str
    status: str
    parameters: dict = field(default_factory=dict)
    error: str | None = None
    export_error: str | None = None  # why report.html could not be written (None: it was)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def notebook_path(notebook: str | os.PathLike) -> Path:
    """The ``.ipynb`` of a notebook name (in :func:`satco2.runs.params.notebooks_dir`) or path."""
    s = str(notebook)
    p = Path(s if s.endswith(".ipynb") else s + ".ipynb")
    if not (os.sep in s or "/" in s or s.endswith(".ipynb")):
        p = _params.notebooks_dir() / p
    if not p.is_file():
        raise SatCO2Error(f"notebook {p} does not exist.")
    return p.resolve()


def lock_hash() -> str | None:
    """sha256 of ``environment/requirements.lock`` (None when the file is absent)."""
    try:
        return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()
    except OSError:
        return None


def git_commit() -> str | None:
    """The repository's HEAD commit, if it is a git checkout and git is available."""
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _demo_manifest() -> dict | None:
    try:
        return json.loads((config.demo_root() / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return None


def _first_error(executed: Path) -> str | None:
    """``"Name: value"`` of the first error output in an executed notebook."""
    import nbformat

    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception:  # noqa: BLE001 - the notebook may be missing or half-written
        return None
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                return f"{o.get('ename')}: {o.get('evalue')}"
    return None


# report.html must render offline (no internet on many hubs): the kernel inlines Bokeh/Panel's
# JavaScript and CSS into the outputs, and the page template loads nothing from a CDN (nbconvert's
# lab template would fetch require.js, MathJax and Mermaid from cdnjs; the notebooks use none of them).
OFFLINE_KERNEL_ENV = {"PANEL_INLINE": "1", "BOKEH_RESOURCES": "inline"}
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _export_html(executed: Path, target: Path) -> None:
    """Write ``target`` (report.html) from the executed notebook: self-contained, no CDN.

    Outputs whose data bundle is empty (Panel's comm placeholders) are dropped first: nbconvert
    cannot represent them and warned about each one in every run.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs
                            if o.get("output_type") not in ("display_data", "execute_result") or o.get("data")]
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"satco2_report.html.j2": _OFFLINE_TEMPLATE})],
                            template_file="satco2_report.html.j2")
    body, _ = exporter.from_notebook_node(nb)
    io.write_text(target, body)


def run(notebook: str | os.PathLike, params: dict | None = None, *, user: str | None = None,
        timeout: float | None = None, kernel: str = "python3", check: bool = True,
        run_id: str | None = None, env: dict | None = None) -> Report:
    """Validate ``params`` and execute ``notebook`` with papermill into a new report folder.

    Parameters
    ----------
    notebook
        A name in ``notebooks/`` (``"example"``) or a path to an ``.ipynb`` with its
        ``.params.yaml`` beside it.
    params
        ``{name: value}``; values may be strings (as from the command line) and are typed by the
        schema; names not given take the schema defaults.
    user
        Whose reports folder the run goes into (default: ``$JUPYTERHUB_USER``, else the OS user).
        In root mode only that user's own account can write there, so the folder, not this
        argument, is what says who made the run.
    timeout
        Seconds allowed per cell (None: no limit).
    check
        Raise :class:`RunFailed` when the notebook fails (the failed report is kept either way).
    env
        Extra environment variables for the kernel.

    Returns
    -------
    Report
    """
    nb_file = notebook_path(notebook)
    name = nb_file.stem
    values = _params.validate(nb_file, params or {}, strict=True)
    for pname, spec in _params.declared(nb_file).items():  # paths absolute: the kernel's cwd differs
        if spec["type"] == "path" and values[pname]:
            values[pname] = str(Path(values[pname]).expanduser().resolve())
    title = _params.schema(nb_file).get("title", name)

    run_id = run_id or reports.new_run_id()
    user = reports.check_user(user or reports.current_user())
    nb_dir = reports.ensure_notebook_dir(name, user)
    final = nb_dir / run_id
    tmp = nb_dir / f".tmp-{run_id}"
    if final.exists() or tmp.exists():
        raise SatCO2Error(f"run id {run_id} already exists in {nb_dir}.")
    tmp.mkdir(mode=0o755)
    started = datetime.now(timezone.utc)
    io.write_json(tmp / "parameters.json", values, mode=reports.FILE_MODE)
    io.write_json(tmp / "status.json", {"status": "running", "started": started.isoformat()}, mode=reports.FILE_MODE)
    (tmp / "parameters.yaml").write_text(yaml.safe_dump(values, sort_keys=False))

    executed = tmp / "notebook.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(nb_file), str(executed), "-f", str(tmp / "parameters.yaml"),
           "-k", kernel, "--cwd", str(nb_file.parent), "--log-output", "--no-progress-bar"]
    if timeout:
        cmd += ["--execution-timeout", str(int(timeout))]
    kenv = {
        **config.environ(),
        **(env or {}),
        "SATCO2_RUN_DIR": str(tmp),
        "SATCO2_RUN_ID": run_id,
        "SATCO2_RUN_NOTEBOOK": name,
        "SATCO2_NOTEBOOKS_DIR": str(nb_file.parent),
        "PYTHONUNBUFFERED": "1",
        **OFFLINE_KERNEL_ENV,
    }
    status, error = "failed", None
    t0 = time.monotonic()
    try:
        with open(tmp / "run.log", "w") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=kenv, cwd=str(nb_file.parent))
        if proc.returncode == 0:
            status = "ok"
        else:
            error = _first_error(executed) or f"papermill exited with status {proc.returncode}"
    except BaseException as e:  # KeyboardInterrupt/SIGTERM: record the run as failed, then re-raise
        error = f"interrupted ({type(e).__name__})"
        _finish(tmp, final, name, run_id, title, user, values, started, t0, status, error, executed)
        raise
    export_error = _finish(tmp, final, name, run_id, title, user, values, started, t0, status, error, executed)
    report = Report(final, run_id, name, status, values, error, export_error)
    if status != "ok" and check:
        raise RunFailed(f"run {name}/{run_id} failed ({error}); the report is in {final}.", report)
    return report


def _write_report_html(tmp: Path, executed: Path) -> str | None:
    """Export report.html; on failure log it in run.log and return the one-line reason (the run
    itself is kept: its outputs are valid, only the HTML view is missing)."""
    if not executed.exists():
        return None
    try:
        _export_html(executed, tmp / "report.html")
    except Exception as e:  # noqa: BLE001 - an export problem must not lose the run
        reason = f"{type(e).__name__}: {' / '.join(str(e).split(chr(10))[:2])}"
        with open(tmp / "run.log", "a") as log:
            log.write(f"\nHTML export failed: {reason}\n")
        return reason
    return None


def _finish(tmp, final, name, run_id, title, user, values, started, t0, status, error, executed) -> str | None:
    export_error = _write_report_html(tmp, executed)
    inputs = io.read_json(tmp / INPUTS_FILE, [])
    finished = datetime.now(timezone.utc)
    provenance = {
        "notebook": name,
        "title": title,
        "run_id": run_id,
        "user": user,
        "host": socket.gethostname(),
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "parameters": values,
        "inputs": inputs,
        "environment": {
            "lock_file": str(LOCK_FILE.relative_to(REPO_ROOT)),
            "lock_sha256": lock_hash(),
            "satco2_version": __version__,
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "demo_manifest": _demo_manifest(),
    }
    io.write_json(tmp / "provenance.json", provenance, mode=reports.FILE_MODE)
    (tmp / "parameters.yaml").unlink(missing_ok=True)
    _seal(tmp)
    io.write_json(tmp / "status.json", {
        "status": status, "error": error, "started": started.isoformat(), "finished": finished.isoformat(),
        "seconds": round(time.monotonic() - t0, 3),
        "report_html": "failed" if export_error else ("ok" if executed.exists() else "none"),
        **({"export_error": export_error} if export_error else {}),
    }, mode=reports.FILE_MODE)
    io.move_into_place(tmp, final, replace=False)
    return export_error


def _seal(folder: Path) -> None:
    """Clear the group and other write bits of a finished run's folder and files: in a shared
    (root mode) reports folder they would let other users change or delete its content."""
    for root, _dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, f) for f in files)]:
            mode = os.lstat(name).st_mode
            if mode & 0o022 and not stat.S_ISLNK(mode):
                os.chmod(name, mode & 0o7755)
