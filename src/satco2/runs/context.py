"""What a running notebook calls: :func:`output_dir`, :func:`record_inputs`, :func:`run_info`.

``satco2 run`` (:func:`satco2.runs.execute.run`) starts the papermill kernel with these environment
variables, read here:

- ``SATCO2_RUN_DIR`` - the run's (temporary) report folder; data products go there
- ``SATCO2_RUN_ID`` - the run id (``20261123T183012Z-1a2b3c``)
- ``SATCO2_RUN_NOTEBOOK`` - the notebook name

Outside a run (a notebook opened interactively in JupyterLab) :func:`output_dir` is
``<reports_dir>/<user>/_interactive/<notebook or "interactive">/`` - inside the user's own reports
folder, which no other account can write - so the same code works, and :func:`record_inputs` writes
beside it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import SatCO2Error, config, io, safeio

INPUTS_FILE = "inputs.json"


def in_run() -> bool:
    """True inside a ``satco2 run`` execution."""
    return bool(config.env("SATCO2_RUN_DIR"))


def output_dir() -> Path:
    """Folder for the run's data products (the report folder itself); created if missing."""
    d = config.env("SATCO2_RUN_DIR")
    if d:
        p = Path(d)
        p.mkdir(parents=True, exist_ok=True)
        return p
    from .reports import ensure_notebook_dir  # runs.reports is not needed by a notebook's own run

    p = ensure_notebook_dir("_interactive") / safeio.check_name(config.env("SATCO2_RUN_NOTEBOOK", "interactive"))
    p.mkdir(exist_ok=True)
    if p.is_symlink() or not p.is_dir():
        raise SatCO2Error(f"{p} is not a folder of yours; remove it.")
    return p


def run_info() -> dict:
    """``{run_id, notebook, dir, interactive}`` of the current run."""
    return {
        "run_id": config.env("SATCO2_RUN_ID"),
        "notebook": config.env("SATCO2_RUN_NOTEBOOK"),
        "dir": str(output_dir()),
        "interactive": not in_run(),
    }


def _describe(item: Any, source: str | None) -> dict:
    if isinstance(item, str):
        return {"id": item, "source": source}
    if isinstance(item, dict):
        if "id" not in item:
            raise SatCO2Error(f"an input record needs an 'id' key, got keys {sorted(item)}.")
        return {"source": source, **item}
    attrs = getattr(item, "attrs", None)  # an xarray Dataset opened by satco2.catalog.open
    if isinstance(attrs, dict):
        pid = attrs.get("product_id") or attrs.get("id")
        if not pid:
            raise SatCO2Error("an input Dataset must carry a 'product_id' attribute to be recorded.")
        rec = {"id": pid, "source": attrs.get("source", source)}
        for k in ("version", "product_version", "generator_version", "synthetic", "date_modified"):
            if k in attrs:
                rec[k] = str(attrs[k])
        return rec
    raise SatCO2Error(f"cannot record {type(item).__name__} as an input: give a product id, a dict or a Dataset.")


def record_inputs(items, source: str | None = None) -> list[dict]:
    """Record the run's input products for its provenance: ``items`` are product ids, dicts
    ``{id, version, source, ...}`` or Datasets from ``satco2.catalog.open`` (their ``product_id``
    and version attributes are used). Repeated calls accumulate; returns all records so far."""
    if isinstance(items, (str, dict)) or hasattr(items, "attrs"):
        items = [items]
    new = [_describe(i, source) for i in items]
    f = output_dir() / INPUTS_FILE
    old = io.read_json(f, [])
    seen = {json.dumps(r, sort_keys=True) for r in old}
    allrec = old + [r for r in new if json.dumps(r, sort_keys=True) not in seen]
    io.write_json(f, allrec)
    return allrec
