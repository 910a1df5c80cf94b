"""report.html export: failures are reported (status.json, run.log, CLI), and the export works in
the interpreter hub users run (root mode: Debian's python3.11 with the venv's packages)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from packaging.specifiers import SpecifierSet

from satco2.runs import execute
from satco2.testing.offline import external_references, is_external


def _nb(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    c = nbformat.v4.new_code_cell("1 + 1", execution_count=1)
    c.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1),
                 nbformat.v4.new_output("display_data", {})]  # Panel leaves such empty outputs
    nb.cells = [nbformat.v4.new_markdown_cell("# A title"), c]
    nbformat.write(nb, path)
    return path


def test_export_writes_offline_html_without_warnings(tmp_path, recwarn):
    execute._export_html(_nb(tmp_path / "n.ipynb"), tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "A title" in html and external_references(html) == []
    assert "require.min.js" not in html and "mathjax" not in html.lower().split("</head>")[0]
    assert not [w for w in recwarn if "not able to be represented" in str(w.message)]


def test_failed_export_is_logged_and_returned(tmp_path, monkeypatch):
    (tmp_path / "run.log").write_text("$ papermill ...\n")
    nb = _nb(tmp_path / "notebook.ipynb")

    def broken(executed, target):
        raise ValueError("Invalid character 'i' position 0\n  line 1:\nimg:not([alt])")

    monkeypatch.setattr(execute, "_export_html", broken)
    reason = execute._write_report_html(tmp_path, nb)
    assert reason == "ValueError: Invalid character 'i' position 0 /   line 1:"
    assert "HTML export failed: ValueError: Invalid character" in (tmp_path / "run.log").read_text()
    assert not (tmp_path / "report.html").exists()


def test_failed_export_reaches_status_and_report(tmp_path, monkeypatch):
    """_finish records the failure in status.json and returns it (run() puts it on the Report)."""
    import time
    from datetime import datetime, timezone

    tmp, final = tmp_path / ".tmp-x", tmp_path / "x"
    tmp.mkdir()
    (tmp / "run.log").write_text("")
    nb = _nb(tmp / "notebook.ipynb")
    monkeypatch.setattr(execute, "_export_html", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    err = execute._finish(tmp, final, "example", "x", "t", "u", {}, datetime.now(timezone.utc),
                          time.monotonic(), "ok", None, nb)
    st = json.loads((final / "status.json").read_text())
    assert err == "OSError: disk full" and st["status"] == "ok"
    assert st["report_html"] == "failed" and st["export_error"] == "OSError: disk full"


def _users_python() -> str | None:
    """The system interpreter that hub.userpython builds hub users' python from (None if absent)."""
    return shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/local/bin:/usr/bin:/bin")


def test_every_package_supports_the_users_python():
    """Each installed distribution's Requires-Python admits the system python hub users run
    (soupsieve 4.x needs >= 3.11.5 and broke report.html on Debian's 3.11.2)."""
    py = _users_python()
    if py is None:
        pytest.skip("no system python of this minor version: hub users run the venv's own")
    version = subprocess.run([py, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    bad = [f"{d.metadata['Name']} {d.version} ({d.metadata['Requires-Python']})"
           for d in metadata.distributions()
           if d.metadata.get("Requires-Python")
           and version not in SpecifierSet(d.metadata["Requires-Python"], prereleases=True)]
    assert bad == [], f"not installable for python {version}: {bad}"


def test_export_selectors_work_in_the_users_python(tmp_path):
    """The nbconvert selector that failed for hub users compiles in their interpreter."""
    py = _users_python()
    if py is None:
        pytest.skip("no system python of this minor version")
    site = sysconfig.get_paths()["purelib"]
    code = (f"import site; site.addsitedir({site!r}); import soupsieve; "
            "soupsieve.compile('img:not([alt])'); print('ok')")
    out = subprocess.run([py, "-I", "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-500:]


@pytest.mark.parametrize("url,external", [
    ("https://cdn.bokeh.org/bokeh/release/bokeh-3.9.2.min.js", True), ("//cdn.x/y.css", True),
    ("http://127.0.0.1:8000/static/x.js", False), ("/services/dashboards/static/x.js", False),
    ("data:text/css;base64,AA==", False), ("wss://example.org/ws", True), ("static/x.js", False),
])
def test_is_external(url, external):
    assert is_external(url) is external


def test_external_references_finds_loads_not_links():
    html = ('<link rel="stylesheet" href="https://cdn.x/a.css"><script src="//cdn.y/b.js"></script>'
            '<style>@import url("https://fonts.example/c.css");</style><a href="https://docs.x/">docs</a>'
            '<script src="/static/own.js"></script><img src="data:image/png;base64,AA">')
    assert external_references(html) == ["https://cdn.x/a.css", "//cdn.y/b.js",
                                         '@import url("https://fonts.example/c.css']
