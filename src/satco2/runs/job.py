"""One scheduled run, in its own process, as the schedule's owner: ``python -m satco2.runs.job``.

Started by the scheduler service (:mod:`satco2.services.scheduler`): in root mode through the one
sudo rule ``satco2 up`` installs (the service account may run exactly this command as a member of
``satco2-users``, never as root), otherwise directly. The schedule comes on standard input as JSON
``{"id", "notebook", "notebook_path", "params", "owner", "env"}``: nothing is read from the
services' state, which the owner's account cannot read. A notebook of the hub is found by name; a
``~/...`` notebook is resolved in the owner's own home, as the owner, so a schedule can never run a
file its owner could not run. The run lands in the owner's reports folder; the last line printed is
``{"report": <folder> | null, "status": ..., "error": ...}``, which the service checks (the folder
must be a trusted run of the owner) before it records the result and refreshes a dashboard.

Exit status 0 on success, 1 when the notebook failed, 2 on a user-facing error.
"""
from __future__ import annotations

import json
import os
import pwd
import sys
from pathlib import Path

from .. import SatCO2Error, config

#: environment the service may hand to a run (besides ``SATCO2_*`` and ``DASK_GATEWAY__*``)
PASSED_ENV = {"JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL"}


def _notebook(spec: dict) -> Path:
    from .execute import notebook_path
    from .schedule import home_notebook

    nb = str(spec.get("notebook_path") or spec["notebook"])
    if home_notebook(nb):
        home = Path(os.path.expanduser("~")).resolve()
        p = Path(os.path.expanduser(nb)).resolve()
        if home not in p.parents:
            raise SatCO2Error(f"notebook {nb} is not inside your home folder.")
        return notebook_path(p)
    return notebook_path(Path(nb).stem if "/" not in nb else nb)


def run_spec(spec: dict) -> int:
    from .execute import run

    config.set_env({k: str(v) for k, v in (spec.get("env") or {}).items()
                    if k in PASSED_ENV or k.startswith(("SATCO2_", "DASK_GATEWAY__"))})
    owner = str(spec["owner"])
    config.set_env({"JUPYTERHUB_USER": owner})
    result = {"report": None, "status": "error", "error": None}
    try:
        if config.isolation() == "root" and pwd.getpwuid(os.geteuid()).pw_name != owner:
            raise SatCO2Error(f"a scheduled run of {owner} must run as that account.")
        os.chdir(os.path.expanduser("~"))
        rep = run(_notebook(spec), spec.get("params") or {}, user=owner, check=False)
        result.update(report=str(rep.dir), status=rep.status, error=rep.error)
        print(f"{rep.notebook}/{rep.run_id}: {rep.status}" + (f" ({rep.error})" if rep.error else ""))
        code = 0 if rep.ok else 1
    except (SatCO2Error, OSError) as e:
        result["error"] = str(e)
        print(f"error: {e}", file=sys.stderr)
        code = 2
    print(json.dumps(result), flush=True)
    return code


def main() -> int:
    try:
        spec = json.loads(sys.stdin.read())
    except ValueError:
        print("error: the scheduled run's specification on standard input is not JSON.", file=sys.stderr)
        return 2
    return run_spec(spec)


if __name__ == "__main__":
    sys.exit(main())
