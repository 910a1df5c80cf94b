"""Driving a hub user's JupyterLab in chromium (Playwright) the way a researcher does: log in,
open a notebook, *Run > Run All Cells*, wait until every cell ran, save, look at the outputs.

    from satco2.testing.lab import login, open_notebook, run_all, canvases, contents

    page = browser.new_page()
    login(page, hub.url, "alice", "alice-password")          # the login form; waits for the file list
    open_notebook(page, hub.url, "alice", "notebooks/example.ipynb")
    run_all(page)                                           # the menu; waits for every cell's [n]
    nb = contents(hub.url, "alice", token, "notebooks/example.ipynb")   # the saved notebook (nbformat dict)
    errors(nb)                                              # ["NameError: ..."] of error outputs
    canvases(page)                                          # [{"w":.., "h":.., "colours": ..}] of every plot canvas

Bokeh draws into canvases inside shadow roots; Playwright's CSS locators pierce them.
"""
from __future__ import annotations

import re
import time

import requests

#: JupyterLab's file browser showing at least one entry: the user can open a notebook
FILE_LIST = ".jp-DirListing-content .jp-DirListing-item"


def login(page, hub_url: str, user: str, password: str, timeout: float = 180) -> float:
    """Log in through the hub's form and wait for JupyterLab's file list; return the seconds from
    the click on *Sign in* to the visible list."""
    page.goto(f"{hub_url}hub/login", timeout=60_000)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    t0 = time.perf_counter()
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_selector(FILE_LIST, state="visible", timeout=timeout * 1000)
    return time.perf_counter() - t0


def open_notebook(page, hub_url: str, user: str, path: str, timeout: float = 120) -> None:
    """Open ``path`` (relative to the user's home) in JupyterLab, alone (``?reset``: the tabs of the
    previous visit are not restored), and wait for its kernel to be idle."""
    page.goto(f"{hub_url}user/{user}/lab/tree/{path}?reset", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=timeout * 1000)
    wait_kernel_idle(page, timeout)


#: the status bar's kernel item once the notebook's kernel has started and is idle
#: ("Python 3 (ipykernel) | Idle"; "No Kernel | Initializing" before)
KERNEL_IDLE = re.compile(r"\(ipykernel\)\s*\|\s*Idle")


def wait_kernel_idle(page, timeout: float = 120) -> None:
    """Wait until the status bar says the current notebook's kernel is started and idle."""
    page.locator(".jp-StatusBar-Widget", has_text=KERNEL_IDLE).first.wait_for(timeout=timeout * 1000)


def _prompts(page) -> list[str]:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()


def run_all(page, timeout: float = 600) -> float:
    """*Run > Run All Cells* from the menu bar, then wait until every code cell ran (``[n]:``) or
    one failed (JupyterLab then stops) and the kernel is idle; save the notebook (Ctrl+S).
    Returns the seconds it took."""
    t0 = time.perf_counter()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = t0 + timeout
    failed = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    while True:
        page.wait_for_timeout(1000)
        prompts = _prompts(page)
        ran = all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts)
        busy = any("*" in p for p in prompts)
        if (ran or (not busy and page.locator(failed).count())) and \
                page.locator(".jp-StatusBar-Widget", has_text=KERNEL_IDLE).count():
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"Run All did not finish within {timeout:.0f} s (prompts {prompts})")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    return time.perf_counter() - t0


def contents(hub_url: str, user: str, token: str, path: str) -> dict:
    """The notebook at ``path`` as saved on the user's server (the Jupyter contents API)."""
    r = requests.get(f"{hub_url}user/{user}/api/contents/{path}", headers={"Authorization": f"token {token}"},
                     params={"content": "1"}, timeout=60)
    r.raise_for_status()
    return r.json()["content"]


def put_notebook(hub_url: str, user: str, token: str, path: str, nb: dict) -> None:
    """Save ``nb`` (an nbformat dict) at ``path`` on the user's server, as the user."""
    r = requests.put(f"{hub_url}user/{user}/api/contents/{path}", headers={"Authorization": f"token {token}"},
                     json={"type": "notebook", "format": "json", "content": nb}, timeout=60)
    r.raise_for_status()


def with_parameters(nb: dict, values: dict) -> dict:
    """``nb`` with lines assigning ``values`` appended to its cell tagged ``parameters`` (what a
    researcher does before running it)."""
    import copy

    nb = copy.deepcopy(nb)
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell["source"] = src.rstrip("\n") + "\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    return nb


def errors(nb: dict) -> list[str]:
    """``ename: evalue`` of every error output of a saved notebook, and code cells that never ran."""
    out = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "code":
            continue
        if c.get("execution_count") is None:
            out.append(f"cell {i} did not run")
        out += [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for o in c.get("outputs", [])
                if o.get("output_type") == "error"]
    return out


#: JavaScript: position, size and number of distinct colours (sampled) of a canvas (-1 unreadable)
_CANVAS_JS = """c => {
  const r = c.getBoundingClientRect();
  const w = c.width, h = c.height, box = [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)];
  if (!w || !h) return {w, h, box, colours: 0};
  let data;
  try { data = c.getContext('2d').getImageData(0, 0, w, h).data; } catch (e) { return {w, h, box, colours: -1}; }
  const seen = new Set();
  const step = Math.max(1, Math.floor(w * h / 20000)) * 4;
  for (let i = 0; i < data.length && seen.size < 64; i += step)
    seen.add((data[i] << 24) | (data[i+1] << 16) | (data[i+2] << 8) | data[i+3]);
  return {w, h, box, colours: seen.size};
}"""


def canvases(page, scope: str = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea") -> list[dict]:
    """Every plot in the current notebook's outputs: ``{"w", "h", "box", "colours"}``, where a
    plot's canvas layers (Bokeh draws a plot on a primary canvas under a transparent overlay one,
    at the same place) are merged and ``colours`` is the most any layer has; a blank plot has one
    or two colours. A WebGL layer (vtk.js's 3-D views) cannot be read from a page script:
    ``colours`` is -1 (unknown) for the plot it belongs to, whatever its overlay layers hold; check
    such a plot on a screenshot."""
    loc = page.locator(scope).locator("canvas")
    plots: dict[tuple, dict] = {}
    for i in range(loc.count()):
        c = loc.nth(i).evaluate(_CANVAS_JS)
        key = tuple(c["box"])
        if key in plots:
            old = plots[key]["colours"]
            plots[key]["colours"] = -1 if -1 in (old, c["colours"]) else max(old, c["colours"])
        else:
            plots[key] = c
    return list(plots.values())


def images(page, scope: str = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea") -> int:
    """Number of image outputs (matplotlib PNGs) in the current notebook's outputs."""
    return page.locator(f"{scope} img").count()
