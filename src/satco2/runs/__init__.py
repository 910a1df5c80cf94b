"""Notebook runs: validated parameters, papermill execution, reports, publishing, schedules.

- :mod:`satco2.runs.params` - declared parameters (``notebooks/<name>.params.yaml``) and validation
- :mod:`satco2.runs.execute` - :func:`run`: one validated papermill run into ``reports/<nb>/<run-id>/``
- :mod:`satco2.runs.context` - what a running notebook calls: :func:`output_dir`, :func:`record_inputs`
- :mod:`satco2.runs.reports` - listing and reading reports, the ``latest`` pointer
- :mod:`satco2.runs.publish` - the published-dashboards registry and offline HTML snapshots
- :mod:`satco2.runs.schedule` - the schedules file read by the scheduler service
- :mod:`satco2.runs.cli` - ``satco2 run | publish | schedule | reports``

Heavy imports (papermill, panel) happen inside the functions that need them.
"""
from __future__ import annotations

from . import params
from .context import output_dir, record_inputs, run_info
from .params import ParameterError

__all__ = ["params", "ParameterError", "run", "output_dir", "record_inputs", "run_info"]


def __getattr__(name):  # lazy: keep `import satco2.runs` light for notebooks and the CLI
    if name == "run":
        from .execute import run

        return run
    raise AttributeError(name)
