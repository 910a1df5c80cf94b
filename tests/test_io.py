"""satco2.io: atomic files, folders and Zarr stores, locks. Real processes, real renames, no mocks."""
from __future__ import annotations

import ctypes
import hashlib
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import filelock
import numpy as np
import pytest
import xarray as xr

from satco2 import io

CTX = mp.get_context("fork")
SRC = str(Path(io.__file__).parents[1])


def _payload(writer: int, i: int, size: int = 200_000) -> bytes:
    """A version whose every byte depends on (writer, i), with its length and digest in a header."""
    body = hashlib.sha256(f"{writer}-{i}".encode()).digest() * (size // 32)
    return f"{writer} {i} {len(body)} {hashlib.sha256(body).hexdigest()}\n".encode() + body


def _check_payload(data: bytes) -> tuple[int, int]:
    head, _, body = data.partition(b"\n")
    writer, i, n, digest = head.split()
    assert len(body) == int(n) and hashlib.sha256(body).hexdigest() == digest.decode(), "torn version"
    assert body == hashlib.sha256(writer + b"-" + i).digest() * (int(n) // 32)
    return int(writer), int(i)


def _leftovers(folder: Path, *keep: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n not in keep)


def _exchange_supported(folder: Path) -> bool:
    a, b = folder / "probe-a", folder / "probe-b"
    a.mkdir()
    b.mkdir()
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2(-100, bytes(a), -100, bytes(b), 2) == 0
    except AttributeError:
        return False
    finally:
        a.rmdir()
        b.rmdir()


# ----------------------------------------------------------------------------------------------
# files
def _write_files(target, writer, n):
    for i in range(n):
        io.write_bytes(target, _payload(writer, i))


def test_concurrent_file_writers_never_tear_and_readers_see_whole_versions(tmp_path):
    target = tmp_path / "state.bin"
    io.write_bytes(target, _payload(0, 0))
    procs = [CTX.Process(target=_write_files, args=(target, w, 60)) for w in (1, 2)]
    for p in procs:
        p.start()
    seen = set()
    while any(p.is_alive() for p in procs):
        seen.add(_check_payload(target.read_bytes()))  # never missing, never a mix
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert _check_payload(target.read_bytes()) in {(1, 59), (2, 59)}
    assert {w for w, _ in seen} >= {1, 2} or len(seen) > 1, "the reader saw no replacement at all"
    assert _leftovers(tmp_path, "state.bin") == []


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    io.write_json(target, {"v": 1})
    with pytest.raises(ValueError):
        io.write_json(target, {"v": float("nan")}, allow_nan=False)
    with pytest.raises(KeyboardInterrupt):
        with io.atomic_path(target) as tmp:
            tmp.write_text('{"v": 2')
            raise KeyboardInterrupt
    assert io.read_json(target) == {"v": 1}
    assert _leftovers(tmp_path, "a.json") == []


def test_a_killed_file_writer_leaves_the_old_version(tmp_path):
    target = tmp_path / "registry.json"
    io.write_json(target, {"version": "old"})
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {SRC!r})
        from satco2 import io
        with io.atomic_path({str(target)!r}) as tmp:
            with open(tmp, "w") as f:
                f.write('{{"version": "new", "half')
                f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert io.read_json(target) == {"version": "old"}
    stray = _leftovers(tmp_path, "registry.json")
    assert len(stray) == 1 and io.is_temporary(stray[0]) and stray[0].startswith(".registry.json.")


def test_modes_new_existing_explicit_and_while_writing(tmp_path):
    old = os.umask(0o027)
    try:
        new = io.write_text(tmp_path / "new.txt", "x")
        assert new.stat().st_mode & 0o777 == 0o640  # like open(): 0o666 minus the umask
        d = tmp_path / "tree"
        with io.atomic_dir(d) as t:
            assert t.stat().st_mode & 0o777 == 0o700  # private while it is filled
        assert d.stat().st_mode & 0o777 == 0o750
    finally:
        os.umask(old)
    kept = tmp_path / "kept.txt"
    kept.write_text("a")
    kept.chmod(0o604)
    io.write_text(kept, "b")
    assert kept.stat().st_mode & 0o777 == 0o604 and kept.read_text() == "b"
    secret = tmp_path / "secret"
    with io.atomic_path(secret, mode=0o644) as tmp:
        assert tmp.stat().st_mode & 0o777 == 0o600  # never readable by others under its temporary name
        tmp.write_text("s")
    assert secret.stat().st_mode & 0o777 == 0o644
    io.write_text(secret, "t", mode=0o600)
    assert secret.stat().st_mode & 0o777 == 0o600
    ro = io.write_text(tmp_path / "rule", "r", mode=0o440)  # a mode without owner write (sudoers)
    assert ro.stat().st_mode & 0o777 == 0o440 and ro.read_text() == "r"
    with io.atomic_dir(tmp_path / "tree", mode=0o755):
        pass
    assert (tmp_path / "tree").stat().st_mode & 0o777 == 0o755


def test_create_only_keeps_the_first_version(tmp_path):
    f = io.write_text(tmp_path / "cookie_secret", "first", mode=0o600, replace=False)
    with pytest.raises(FileExistsError):
        io.write_text(f, "second", mode=0o600, replace=False)
    assert f.read_text() == "first"
    d = tmp_path / "copy"
    with io.atomic_dir(d, replace=False) as t:
        (t / "a").write_text("first")
    with pytest.raises(FileExistsError):
        with io.atomic_dir(d, replace=False) as t:
            (t / "a").write_text("second")
    assert (d / "a").read_text() == "first"
    assert _leftovers(tmp_path, "cookie_secret", "copy") == []


def test_suffix_for_libraries_that_pick_the_format_from_the_name(tmp_path):
    with io.atomic_path(tmp_path / "dashboard.html", suffix=".html") as tmp:
        assert tmp.name.endswith(".tmp.html") and io.is_temporary(tmp)
        tmp.write_text("<html></html>")
    assert (tmp_path / "dashboard.html").read_text() == "<html></html>"
    assert not io.is_temporary("dashboard.html") and not io.is_temporary(".hidden")


def _append(path, writer, n):
    for i in range(n):
        io.append(path, json.dumps({"w": writer, "i": i, "pad": "x" * 300}) + "\n")


def test_append_keeps_every_record_whole(tmp_path):
    path = tmp_path / "usage.jsonl"
    procs = [CTX.Process(target=_append, args=(path, w, 200)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = path.read_text().splitlines()
    assert sorted((r["w"], r["i"]) for r in map(json.loads, lines)) == [(w, i) for w in range(3) for i in range(200)]
    assert path.stat().st_mode & 0o777 == 0o600
    (tmp_path / "link").symlink_to(path)
    with pytest.raises(OSError):
        io.append(tmp_path / "link", "x\n")


# ----------------------------------------------------------------------------------------------
# folders
N_FILES = 6


def _write_trees(target, writer, n):
    for i in range(n):
        with io.atomic_dir(target) as tmp:
            for k in range(N_FILES):
                (tmp / f"part{k}").write_bytes(_payload(writer, i, 20_000))


def test_concurrent_folder_writers_swap_whole_trees(tmp_path):
    target = tmp_path / "store.zarr"
    _write_trees(target, 0, 1)
    gap_free = _exchange_supported(tmp_path)
    procs = [CTX.Process(target=_write_trees, args=(target, w, 40)) for w in (1, 2)]
    for p in procs:
        p.start()
    whole, missing = 0, 0
    while any(p.is_alive() for p in procs):
        try:
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            missing += 1
            continue
        try:  # one tree, read through its descriptor: all its files carry one version
            versions = set()
            for k in range(N_FILES):
                with open(os.open(f"part{k}", os.O_RDONLY, dir_fd=fd), "rb") as f:
                    versions.add(_check_payload(f.read()))
            assert len(versions) == 1, f"a tree mixes versions {versions}"
            whole += 1
        except FileNotFoundError:
            pass  # the replaced tree is being removed under the reader: it never mixes
        finally:
            os.close(fd)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert whole > 0
    if gap_free:
        assert missing == 0, "the path was missing during a swap"
    last = {_check_payload((target / f"part{k}").read_bytes()) for k in range(N_FILES)}
    assert last in ({(1, 39)}, {(2, 39)})
    assert _leftovers(tmp_path, "store.zarr") == []


def test_a_killed_zarr_writer_leaves_the_old_store(tmp_path):
    target = tmp_path / "products.zarr"
    io.write_zarr(xr.Dataset({"v": ("x", np.arange(4.0))}), target, consolidated=True, zarr_format=3)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {SRC!r})
        import numpy as np, xarray as xr
        from satco2 import io
        with io.atomic_dir({str(target)!r}) as tmp:
            xr.Dataset({{"v": ("x", np.full(4, -1.0))}}).to_zarr(tmp, mode="w", zarr_format=3)
            print("written", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert xr.open_zarr(target)["v"].values.tolist() == [0.0, 1.0, 2.0, 3.0]
    stray = _leftovers(tmp_path, "products.zarr")
    assert len(stray) == 1 and io.is_temporary(stray[0])


def test_a_failing_zarr_computation_leaves_the_old_store(tmp_path):
    import dask.array as dsa

    target = tmp_path / "products.zarr"
    io.write_zarr(xr.Dataset({"v": ("x", np.arange(4.0))}), target)

    def boom(block):
        raise RuntimeError("worker lost")

    bad = xr.Dataset({"v": ("x", dsa.arange(4.0, chunks=2).map_blocks(boom, dtype=float))})
    with pytest.raises(RuntimeError, match="worker lost"):
        io.write_zarr(bad, target)
    assert xr.open_zarr(target)["v"].values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert _leftovers(tmp_path, "products.zarr") == []
    io.write_zarr(xr.Dataset({"v": ("x", np.arange(4.0) * 2)}), target)
    assert xr.open_zarr(target)["v"].values.tolist() == [0.0, 2.0, 4.0, 6.0]


def test_move_into_place_refuses_an_existing_folder(tmp_path):
    work, final = tmp_path / ".tmp-run", tmp_path / "run"
    work.mkdir()
    (work / "status.json").write_text("{}")
    io.move_into_place(work, final, replace=False)
    assert (final / "status.json").exists() and not work.exists()
    work.mkdir()
    with pytest.raises(FileExistsError):
        io.move_into_place(work, final, replace=False)
    assert work.is_dir()


# ----------------------------------------------------------------------------------------------
# locks
def _bump(path, n):
    for _ in range(n):
        with io.update_json(path, {"n": 0}) as data:
            data["n"] += 1


def test_update_json_serialises_concurrent_writers(tmp_path):
    path = tmp_path / "counter.json"
    procs = [CTX.Process(target=_bump, args=(path, 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert json.loads(path.read_text())["n"] == 100
    assert _leftovers(tmp_path, "counter.json", "counter.json.lock") == []


def test_update_json_writes_nothing_when_the_block_fails(tmp_path):
    path = tmp_path / "published.json"
    io.write_json(path, {"entries": {"a": 1}})
    with pytest.raises(LookupError):
        with io.update_json(path, {"entries": {}}) as data:
            data["entries"]["b"] = 2
            raise LookupError("refused")
    assert io.read_json(path) == {"entries": {"a": 1}}


def _hold(lockfile, ready, release):
    with io.lock(lockfile):
        ready.set()
        release.wait(30)


def test_lock_excludes_another_process(tmp_path):
    lockfile = tmp_path / ".lock"
    ready, release = CTX.Event(), CTX.Event()
    p = CTX.Process(target=_hold, args=(lockfile, ready, release))
    p.start()
    try:
        assert ready.wait(30)
        t0 = time.monotonic()
        with pytest.raises(filelock.Timeout):
            with io.lock(lockfile, timeout=0.3):
                pass
        assert time.monotonic() - t0 >= 0.3
    finally:
        release.set()
        p.join(30)
    with io.lock(lockfile, timeout=5):
        assert lockfile.exists()


def test_json_safe_makes_strict_json():
    import json

    import numpy as np

    obj = {"a": np.float32(1.5), "b": [np.nan, float("inf"), np.int64(3)], "c": (True, None, "x")}
    safe = io.json_safe(obj)
    assert safe == {"a": 1.5, "b": [None, None, 3], "c": [True, None, "x"]}
    assert type(safe["b"][2]) is int and type(safe["a"]) is float
    json.dumps(safe, allow_nan=False)


def test_remove_tree_never_follows_a_link_and_leaves_no_half(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep").write_text("x")
    link = tmp_path / "copy"
    link.symlink_to(target)
    io.remove_tree(link)  # the link goes, what it points to stays
    assert not link.exists() and (target / "keep").read_text() == "x"
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("y")
    io.remove_tree(tree)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"]
    io.remove_tree(tree)  # already gone: not an error
