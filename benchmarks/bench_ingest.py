"""Ingest benchmark: ``satco2 ingest`` vs ``xr.open_mfdataset(...).to_zarr(...)`` on the same files.

The files are SYNTHETIC L3m-format NetCDF4 (``satco2.catalog.readers.l3m.write_l3m``: OBPG
layout, float32 chlor_a-like field, zlib level 4, ~40 % fill) at the real MODIS 4 km grid
(4320 x 8640), written to a temporary folder, at least 1 GB in total by default. Printed: wall
time of both, the ratio (target >= 2x), input MB/s of both, and the disk's raw sequential read
speed (``dd iflag=direct`` of a file of the same size written in the same run, so the page cache
does not flatter it).

    python -m benchmarks.bench_ingest            # full: >= 1 GB at 4 km (the lead runs this)
    python -m benchmarks.bench_ingest --small    # quick check: 3 files at 1/4 resolution
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd


def make_files(folder: Path, n: int, nlat: int) -> list[Path]:
    from satco2.catalog.readers.l3m import write_l3m

    files = []
    for i in range(n):
        start = pd.Timestamp("2010-01-01") + pd.DateOffset(months=i)
        end = start + pd.offsets.MonthEnd(0)
        name = f"AQUA_MODIS.{start:%Y%m%d}_{end:%Y%m%d}.L3m.MO.CHL.chlor_a.4km.nc"
        files.append(write_l3m(folder / name, nlat=nlat, seed=i))
    return files


def raw_read_speed(folder: Path, nbytes: int) -> float:
    """MB/s of a sequential O_DIRECT read (dd) of a fresh file of ``nbytes``."""
    path = folder / "raw.bin"
    block = os.urandom(8 * 2**20)
    with open(path, "wb") as f:
        for _ in range(max(1, nbytes // len(block))):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    size = path.stat().st_size
    t0 = time.perf_counter()
    r = subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=8M", "iflag=direct"],
                       capture_output=True, text=True)
    if r.returncode != 0:  # filesystems without O_DIRECT (tmpfs): plain read
        t0 = time.perf_counter()
        subprocess.run(["dd", f"if={path}", "of=/dev/null", "bs=8M"], capture_output=True, check=True)
    dt = time.perf_counter() - t0
    path.unlink()
    return size / 2**20 / dt


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="3 files at 1/4 of the 4 km grid")
    ap.add_argument("--gb", type=float, default=1.0, help="total size of the input files (full run)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder)")
    args = ap.parse_args(argv)

    import xarray as xr

    from satco2.ingest import ingest

    work = Path(tempfile.mkdtemp(prefix="satco2-bench-ingest-", dir=args.dir))
    try:
        src = work / "src"
        src.mkdir()
        nlat = 1080 if args.small else 4320
        t0 = time.perf_counter()
        if args.small:
            files = make_files(src, 3, nlat)
        else:  # add files until the input reaches --gb
            files = make_files(src, 1, nlat)
            per = files[0].stat().st_size
            need = int(args.gb * 1e9 // per) + 1
            files += make_files(src, need, nlat)[1:]
        total = sum(f.stat().st_size for f in files)
        print(f"input: {len(files)} SYNTHETIC L3m files {nlat} x {2 * nlat}, {total / 1e9:.2f} GB "
              f"(written in {time.perf_counter() - t0:.0f} s)", flush=True)

        # warm both paths (imports, registry, zarr event loop) on one file into scratch stores
        ingest("global-chl-modis-aqua-4km", files[:1], root=str(work / "warm"), progress=False)
        xr.open_mfdataset([str(files[0])], combine="nested", concat_dim="time",
                          engine="netcdf4").to_zarr(work / "warm.zarr", mode="w")
        shutil.rmtree(work / "warm")
        shutil.rmtree(work / "warm.zarr")

        t0 = time.perf_counter()
        rep = ingest("global-chl-modis-aqua-4km", files, root=str(work / "mirror"), progress=False)
        t_ours = time.perf_counter() - t0
        assert rep.n_time == len(files)

        t0 = time.perf_counter()
        ds = xr.open_mfdataset([str(f) for f in files], combine="nested", concat_dim="time",
                               engine="netcdf4", parallel=False)
        ds[["chlor_a"]].to_zarr(work / "reference.zarr", mode="w")
        t_ref = time.perf_counter() - t0

        raw = raw_read_speed(work, min(total, 2 * 2**30))
        mb = total / 2**20
        print(f"satco2 ingest                      : {t_ours:8.1f} s  {mb / t_ours:8.1f} MB/s")
        print(f"xr.open_mfdataset(...).to_zarr(...): {t_ref:8.1f} s  {mb / t_ref:8.1f} MB/s")
        print(f"ratio (reference / ingest)         : {t_ref / t_ours:8.2f}x  (target >= 2x)")
        print(f"disk raw sequential read (dd)      : {raw:8.1f} MB/s; ingest reaches "
              f"{100 * mb / t_ours / raw:.1f} % of it")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
