"""Reading files that other accounts control: no link is followed, every owner is checked.

The dashboards and scheduler services read run folders that hub users write. A user could plant a
symbolic link (``run.log -> /etc/shadow``), swap a folder for a link between a check and a use, or
put a FIFO where a file is expected. Every function here walks paths one component at a time with
``openat(..., O_NOFOLLOW)`` relative to the folder opened before, checks the owner of what it opened
(``fstat`` on the open descriptor, so the check and the use are the same object) and refuses
anything that is not a plain folder or a regular file. Nothing here trusts a name in a JSON file.

Why hand-written: the standard library's ``shutil.copytree`` and ``pathlib`` follow links or check
them by path (a race); no maintained package offers ``openat``-based walking for Python.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from . import SatCO2Error, io

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

#: largest file :func:`read_file` returns (a run's log or JSON; products are copied, not read)
MAX_READ = 64 * 1024 * 1024


class UntrustedPath(SatCO2Error):
    """A path is a link, not a plain folder or file, has an unexpected owner, or is missing."""


def check_name(part: str) -> str:
    """``part`` as one path component (no ``/``, not ``.`` or ``..``, no NUL)."""
    if not part or part in (".", "..") or "/" in part or "\0" in part:
        raise UntrustedPath(f"{part!r} is not a plain file or folder name.")
    return part


def open_dir(root: str | os.PathLike, parts=(), owner: int | None = None) -> int:
    """A descriptor of ``root/parts[0]/parts[1]/...`` opened without following any link below
    ``root`` (``root`` itself is configuration, trusted); with ``owner``, each opened folder must
    belong to that uid. Close it with ``os.close``."""
    try:
        fd = os.open(root, DIR_FLAGS & ~os.O_NOFOLLOW)
    except OSError as e:
        raise UntrustedPath(f"{root} cannot be opened ({e.strerror}).") from None
    try:
        for part in parts:
            check_name(part)
            try:
                nfd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                raise UntrustedPath(f"{part} in {root} is not a plain folder ({e.strerror}).") from None
            os.close(fd)
            fd = nfd
            if owner is not None and os.fstat(fd).st_uid != owner:
                raise UntrustedPath(f"{part} in {root} does not belong to the expected account.")
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(dir_fd: int, name: str, owner: int | None = None) -> int:
    """A descriptor of the regular file ``name`` in the folder ``dir_fd`` (no link, no FIFO, no
    device); with ``owner``, it must belong to that uid."""
    check_name(name)
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        raise UntrustedPath(f"{name} is not a plain file ({e.strerror}).") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (owner is not None and st.st_uid != owner):
        os.close(fd)
        raise UntrustedPath(f"{name} is not a plain file of the expected account.")
    return fd


def read_file(dir_fd: int, name: str, owner: int | None = None, limit: int = MAX_READ) -> bytes:
    """The bytes of the regular file ``name`` in ``dir_fd`` (see :func:`open_file`)."""
    fd = open_file(dir_fd, name, owner)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UntrustedPath(f"{name} is larger than {limit} bytes.")
    return data


def copy_tree(src_fd: int, dest: str | os.PathLike, owner: int | None = None) -> Path:
    """Copy the folder ``src_fd`` into a new folder ``dest``, refusing links and special files
    anywhere below it (and, with ``owner``, anything not owned by that uid). The copy is written
    into a temporary sibling and renamed into place (:func:`satco2.io.atomic_dir`), so ``dest`` is
    whole or absent; when ``dest`` already exists (a concurrent copy finished first) it is kept
    and this copy discarded."""
    dest = Path(dest)
    try:
        with io.atomic_dir(dest, mode=0o755, replace=False) as tmp:
            _copy_into(src_fd, tmp, owner)
    except FileExistsError:
        if not dest.is_dir():
            raise
    return dest


def _copy_into(src_fd: int, dest: Path, owner: int | None) -> None:
    """Copy the folder ``src_fd`` into the existing empty folder ``dest``."""
    for entry in os.scandir(src_fd):
        name = entry.name
        st = entry.stat(follow_symlinks=False)
        if owner is not None and st.st_uid != owner:
            raise UntrustedPath(f"{name} does not belong to the run's author.")
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, DIR_FLAGS, dir_fd=src_fd)
            try:
                if owner is not None and os.fstat(sub).st_uid != owner:
                    raise UntrustedPath(f"{name} does not belong to the run's author.")
                (dest / name).mkdir(mode=0o755)
                _copy_into(sub, dest / name, owner)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            fd = open_file(src_fd, name, owner)
            with os.fdopen(fd, "rb") as src, open(dest / name, "xb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        else:
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a plain file or folder"
            raise UntrustedPath(f"{name} is {kind}.")
