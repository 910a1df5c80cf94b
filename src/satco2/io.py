"""Atomic writes and file locks: every file, JSON document, folder and Zarr store the package writes.

One temporary sibling, then one rename; nothing else in the package renames a file into place.

Files (:func:`write_bytes`, :func:`write_text`, :func:`write_json`, :func:`atomic_path`,
:class:`PendingFile`)
    The content goes into a new temporary file in the target's folder, named
    ``.<name>.<random>.tmp`` (``tempfile.mkstemp``: never a fixed name, so two writers never share
    one; hidden and ending in ``.tmp``, so it never passes for data). It is flushed and fsync'ed,
    gets its final mode, and is renamed over the target with ``os.replace``: at every instant the
    target is the complete old file or the complete new one, and a reader that opens it reads one
    version whole. Concurrent writers of one target each replace it whole; the last rename wins.
    The folder is fsync'ed after the rename, so the new name survives a power cut
    (``fsync=False`` skips both fsyncs: many small files that can be rewritten, e.g. Zarr chunks).

    ``replace=False`` creates the target only if it is absent (``renameat2(RENAME_NOREPLACE)``,
    else a hard link): :class:`FileExistsError` when it exists, which is left untouched (the first
    of concurrent writers wins; a secret generated twice is never swapped under a reader).

Folders (:func:`atomic_dir`, :func:`write_zarr`, :func:`move_into_place`)
    The tree is written into a temporary sibling folder ``.<name>.<random>.tmp``
    (``tempfile.mkdtemp``) and swapped in. On Linux (``renameat2(RENAME_EXCHANGE)``, supported by
    ext4, xfs, btrfs and tmpfs) the new and the old tree exchange names in one step, and the old
    tree, now under the temporary name, is removed afterwards: there is no instant at which the
    path is missing or names a partial tree. Where the exchange is not available (another system
    or file system) the old tree is first renamed aside, then the new one renamed in: between
    those two ``rename`` calls (microseconds) the path is missing, and a reader gets
    :class:`FileNotFoundError`, never a partial tree. Concurrent writers each swap in a whole tree;
    the last wins and every replaced tree is removed.

    What a reader sees: the tree that the path names when it resolves the path. A reader that
    reads the files of a tree one by one *by path* while a replacement happens can get files of
    both versions (an ``xarray`` Dataset opened lazily before a replacement reads the new chunks
    with the old metadata): open the store again after a replacement, as the services do per
    request. Files inside a tree are not fsync'ed one by one.

Modes and owners
    ``mode=None`` behaves like writing the file in place: an existing regular target keeps its
    permission bits, a new one gets ``0o666`` (folders ``0o777``) minus the process umask. An
    explicit ``mode`` is exact (no umask). The temporary file or folder is ``0o600``/``0o700``
    while it is written, so a secret is never readable by others, not even under its temporary
    name; the final mode is set before the rename. The owner is the writing process's account,
    as for any new file: an old file's owner is never copied (root rewriting a file in a user's
    folder must not hand the user a file root wrote); callers that need another owner ``chown``
    the path inside :func:`atomic_path`/:func:`atomic_dir`.

Failures
    Any exception (``KeyboardInterrupt`` included) removes the temporary file or folder and leaves
    the target as it was. A writer killed outright (``SIGKILL``, power cut) leaves the target
    intact and, at worst, a hidden ``.<name>.<random>.tmp`` beside it (:func:`is_temporary`).

Locks (:func:`lock`, :func:`update_json`)
    ``filelock.FileLock`` (a maintained library: ``flock`` on Unix, one code path on every
    platform, timeouts) on a separate lock file that is never removed. The lock is per open file,
    so it serialises threads of one process as well as processes; it is not reentrant (taking it
    twice in one thread waits forever).

Appends (:func:`append`)
    One ``write`` on a descriptor opened with ``O_APPEND``: each record lands whole at the end,
    even with several writers (the usage ledger).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import numbers
import os
import re
import shutil
import stat
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import filelock

TEMP_SUFFIX = ".tmp"
#: ``tempfile`` draws 8 characters of ``[a-z0-9_]`` for the random part
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError):  # not Linux/glibc: the portable fallbacks below
    _renameat2 = None


# ----------------------------------------------------------------------------------------------
# helpers
def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named like one of this module's temporaries (``.<name>.<random>.tmp``,
    possibly followed by one more suffix such as ``.html`` or ``.old``)."""
    return _TEMP_NAME.match(Path(path).name) is not None


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # not thread-safe; only where /proc is missing
    os.umask(old)
    return old


def _final_mode(path: Path, mode: int | None, is_dir: bool) -> int:
    if mode is not None:
        return mode
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and (stat.S_ISDIR(st.st_mode) if is_dir else stat.S_ISREG(st.st_mode)):
        return stat.S_IMODE(st.st_mode)
    return (0o777 if is_dir else 0o666) & ~_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder: the rename is done anyway
        pass
    finally:
        os.close(fd)


def _rename2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False when the system or file system lacks it (EINVAL,
    ENOSYS), :class:`OSError` for any other failure."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(e, os.strerror(e), str(src), None, str(dst))


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` only if ``dst`` does not exist (:class:`FileExistsError`)."""
    if _rename2(src, dst, _RENAME_NOREPLACE):
        return
    if src.is_dir():
        try:
            os.rename(src, dst)  # fails on an existing non-empty folder (an empty one is replaced)
        except OSError as e:
            if e.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(errno.EEXIST, "exists", str(dst)) from None
            raise
        return
    os.link(src, dst)  # FileExistsError when it exists
    os.unlink(src)


def _swap_in(new: Path, path: Path) -> None:
    """Put the tree ``new`` at ``path``, whole, and remove whatever was there (see module doc)."""
    for _ in range(1000):  # each retry means another writer swapped in between: it ends quickly
        try:
            exchanged = _rename2(new, path, _RENAME_EXCHANGE)
        except FileNotFoundError:  # nothing at path (yet)
            try:
                _rename_noreplace(new, path)
                return
            except FileExistsError:
                continue  # a concurrent writer created it first: exchange with theirs
        if exchanged:
            _remove(new)  # the old tree, now under the temporary name
            return
        # no exchange on this system or file system: old aside, then new in
        aside = new.with_name(new.name + ".old")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            aside = None
        try:
            _rename_noreplace(new, path)
            return
        except FileExistsError:
            continue
        finally:
            if aside is not None:
                _remove(aside)
    raise OSError(errno.EBUSY, "too many concurrent replacements", str(path))


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


# ----------------------------------------------------------------------------------------------
# files
class PendingFile:
    """A new version of ``path`` being written: write to :attr:`tmp` (an empty file, created
    here), then :meth:`commit` (fsync, mode, rename) or :meth:`discard`. As a context manager it
    commits on normal exit and discards on an exception. For writers that a library drives and
    that outlive one block (e.g. a streaming Parquet writer); otherwise use :func:`atomic_path`.

    ``suffix`` is added after ``.tmp`` (``".html"`` for a library that picks the format from the
    name);
    ``mode``, ``fsync`` and ``replace`` as in the module docstring."""

    def __init__(self, path: str | os.PathLike, *, mode: int | None = None, fsync: bool = True,
                 replace: bool = True, suffix: str = ""):
        self.path = Path(path)
        self.mode, self.fsync, self.replace = mode, fsync, replace
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                   suffix=TEMP_SUFFIX + suffix)
        os.close(fd)
        self.tmp = Path(tmp)
        self.done = False

    def commit(self) -> Path:
        if self.done:
            return self.path
        try:
            fd = os.open(self.tmp, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                if self.fsync:
                    os.fsync(fd)
                os.fchmod(fd, _final_mode(self.path, self.mode, is_dir=False))
            finally:
                os.close(fd)
            if self.replace:
                os.replace(self.tmp, self.path)
            else:
                _rename_noreplace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        self.done = True
        if self.fsync:
            _fsync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        self.done = True
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def atomic_path(path: str | os.PathLike, *, mode: int | None = None, fsync: bool = True,
                replace: bool = True, suffix: str = "") -> PendingFile:
    """``with atomic_path(target) as tmp:`` write ``tmp`` (an empty file, any way you like: a
    library's ``to_csv(tmp)``, ``netCDF4.Dataset(tmp, "w")``, a check such as ``visudo -cf tmp``
    that raises to refuse it); on leaving the block it replaces ``target`` (see the module doc)."""
    return PendingFile(path, mode=mode, fsync=fsync, replace=replace, suffix=suffix)


def write_bytes(path: str | os.PathLike, data: bytes, *, mode: int | None = None, fsync: bool = True,
                replace: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path, mode=mode, fsync=fsync, replace=replace) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8", mode: int | None = None,
               fsync: bool = True, replace: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    return write_bytes(path, text.encode(encoding), mode=mode, fsync=fsync, replace=replace)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2, sort_keys: bool = False,
               default=str, allow_nan: bool = True, newline: bool = False, mode: int | None = None,
               fsync: bool = True) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (``json.dumps`` options; ``newline`` adds a
    final line break); returns ``path``."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, default=default, allow_nan=allow_nan)
    return write_text(path, text + ("\n" if newline else ""), mode=mode, fsync=fsync)


def json_safe(obj: Any) -> Any:
    """``obj`` made strict JSON, recursively: NaN/inf -> ``None``, numpy scalars -> Python numbers,
    tuples -> lists (for :func:`write_json` with ``allow_nan=False``)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj) if math.isfinite(obj) else None
    return obj


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """The parsed JSON file at ``path``, or ``default`` when it does not exist."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default


def append(path: str | os.PathLike, data: bytes | str, *, mode: int = 0o600) -> None:
    """Append ``data`` (one record) to ``path`` in a single ``write`` (``O_APPEND``); the file is
    created with ``mode`` and a link at ``path`` is refused."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------
# folders
@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, mode: int | None = None, replace: bool = True) -> Iterator[Path]:
    """``with atomic_dir(target) as tmp:`` fill the new, empty folder ``tmp``; on leaving the block
    it becomes ``target`` (the old tree swapped out and removed, see the module doc). With
    ``replace=False`` an existing ``target`` is kept, the new tree discarded and
    :class:`FileExistsError` raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX))
    try:
        yield tmp
        os.chmod(tmp, _final_mode(path, mode, is_dir=True))
        if replace:
            _swap_in(tmp, path)
        else:
            _rename_noreplace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def remove_tree(path: str | os.PathLike) -> None:
    """Remove the folder ``path`` so that no reader ever sees it half-removed: it is first renamed
    to a temporary name beside it (gone from ``path`` in one step), then deleted. Links are not
    followed (a link at ``path`` is removed itself); a missing ``path`` is not an error."""
    path = Path(path)
    if path.is_symlink() or not path.exists():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    for _ in range(100):
        aside = Path(tempfile.mktemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX + ".old"))
        try:
            _rename_noreplace(path, aside)
        except FileNotFoundError:
            return  # removed by someone else meanwhile
        except FileExistsError:
            continue  # the drawn name appeared meanwhile: draw another
        shutil.rmtree(aside, ignore_errors=True)
        return
    raise OSError(errno.EBUSY, "could not find a free temporary name", str(path))


def move_into_place(src: str | os.PathLike, dest: str | os.PathLike, *, replace: bool = True) -> Path:
    """Rename the finished folder ``src`` (same file system) to ``dest`` with the folder semantics
    of the module doc (``replace=False``: :class:`FileExistsError` if ``dest`` exists, ``src``
    left as it is). For a folder that had to have its own name while it was written (a run's
    ``.tmp-<run-id>``); otherwise use :func:`atomic_dir`."""
    src, dest = Path(src), Path(dest)
    if replace:
        _swap_in(src, dest)
    else:
        _rename_noreplace(src, dest)
    return dest


#: zarr-python 3 notices that every store written here triggers and nobody can act on
_ZARR_NOTICES = (".*[Cc]onsolidated metadata.*", ".*FixedLengthUTF32.*", ".*Zarr V3 specification.*")


def write_zarr(ds, path: str | os.PathLike, *, mode: int | None = None, **to_zarr) -> Path:
    """Write the ``xarray.Dataset`` ``ds`` as a new Zarr store at ``path`` atomically
    (``ds.to_zarr(tmp, mode="w", **to_zarr)`` in :func:`atomic_dir`); returns ``path``. zarr's
    notices about consolidated metadata and string types outside the v3 specification are
    silenced here."""
    with atomic_dir(path, mode=mode) as tmp:
        with warnings.catch_warnings():
            for msg in _ZARR_NOTICES:
                warnings.filterwarnings("ignore", message=msg)
            ds.to_zarr(tmp, mode="w", **to_zarr)
    return Path(path)


# ----------------------------------------------------------------------------------------------
# locks
def lock(path: str | os.PathLike, timeout: float = -1) -> filelock.FileLock:
    """An exclusive inter-process lock on the lock file ``path`` (created if missing, kept after):
    ``with io.lock(root / ".lock"): ...``; ``timeout`` seconds (negative: wait forever) before
    :class:`filelock.Timeout`."""
    import filelock  # on first use: ~15 ms that a process writing one file need not pay

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(path, timeout=timeout)


@contextlib.contextmanager
def update_json(path: str | os.PathLike, empty: Any, *, mode: int | None = None) -> Iterator[Any]:
    """Read-modify-write the JSON file ``path`` under :func:`lock` on ``<path>.lock``: yields its
    content (``empty`` when it is missing), written back atomically when the block ends without
    an exception (and left unchanged otherwise)."""
    path = Path(path)
    with lock(path.with_name(path.name + ".lock")):
        data = read_json(path, None) or empty
        yield data
        write_json(path, data, mode=mode)
