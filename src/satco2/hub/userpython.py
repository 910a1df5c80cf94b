"""An interpreter for other system users (root mode) that sees the project venv's packages.

The project venv's ``python`` may be a symlink into a folder only root can enter (pyenv under
``/root``), so processes run as hub users (single-user servers, kernels, gateway schedulers and
workers) could not start it. :func:`user_python` returns the venv's python when every user can
execute it; otherwise it creates ``.venv/.users-python`` from the system ``python3.X`` (same minor
version, so the same extension-module ABI) with a ``.pth`` hook that adds the project venv's
site-packages (including its editable install of ``satco2``).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

from .. import SatCO2Error


def _others_can_run(path: Path) -> bool:
    path = path.resolve()
    if not os.stat(path).st_mode & stat.S_IXOTH:
        return False
    for parent in path.parents:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    return True


def user_python(venv_python: str | None = None) -> str:
    """Path of a python every system user can run with the project venv's packages importable."""
    venv_python = Path(venv_python or sys.executable)
    if _others_can_run(venv_python):
        return str(venv_python)
    venv = Path(sys.prefix)
    target = venv / ".users-python"
    py = target / "bin" / "python"
    site = sysconfig.get_paths()["purelib"]
    hook = target / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "satco2-project-venv.pth"
    line = f"import site; site.addsitedir({site!r})\n"
    if py.exists() and hook.exists() and hook.read_text() == line and (target / "bin" / "satco2").exists():
        return str(py)
    base = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/local/bin:/usr/bin:/bin")
    if not base or not _others_can_run(Path(base)):
        raise SatCO2Error(
            f"root mode needs a python{sys.version_info.major}.{sys.version_info.minor} that every user "
            f"can run, and the venv's interpreter {venv_python.resolve()} is not readable by other users."
        )
    subprocess.run([base, "-m", "venv", "--without-pip", "--clear", str(target)], check=True,
                   capture_output=True)
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(line)
    _copy_scripts(venv / "bin", target / "bin", py)
    for p in [target, *target.rglob("*")]:
        mode = os.stat(p, follow_symlinks=False).st_mode
        if not stat.S_ISLNK(mode):
            os.chmod(p, stat.S_IMODE(mode) | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
    return str(py)


def _copy_scripts(src: Path, dst: Path, python: Path) -> None:
    """Console scripts of the venv (``satco2``, ``papermill``, ``jupyter``...) re-pointed at
    ``python``, so a user's terminal can run them too."""
    venv_python = str(src / "python")
    for script in src.iterdir():
        if not script.is_file() or script.is_symlink() or (dst / script.name).exists():
            continue
        try:
            with open(script, "rb") as f:
                head = f.readline()
        except OSError:
            continue
        if head.startswith(b"#!") and head[2:].strip().decode(errors="replace") in (
            venv_python, str(src / "python3"), str(src / "python3.11")
        ):
            body = script.read_bytes().split(b"\n", 1)[1]
            out = dst / script.name
            out.write_bytes(b"#!" + str(python).encode() + b"\n" + body)
            os.chmod(out, 0o755)
