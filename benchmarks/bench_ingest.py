"""Ingest benchmark: ``satco2 ingest`` vs ``xr.open_mfdataset(...).to_zarr(...)`` on the same files.

The files are SYNTHETIC L3m-format NetCDF4 (``satco2.testing.writers.write_l3m``: OBPG
layout, float32 chlor_a-like field, zlib level 4, ~40 % fill) at the real MODIS 4 km grid
(4320 x 8640), written to a temporary folder, at least 1 GB in total by default. Printed: wall
time, the ratio (target >= 2x) and input MB/s of the ingest and of two references (the
researcher's one-liner with defaults: zarr chunks = the NetCDF chunks 256 x 512, zstd; and the
same one-liner with the mirror's chunks and blosc lz4 codec), in interleaved rounds (best and
spread; ``benchmarks._measure``: >= 3 rounds, 5 under 2 s; load average and thread
settings printed at the start and the end), and the disk's raw sequential read speed (``dd iflag=direct`` of a file of the same size
written in the same run, so the page cache does not flatter it). The input files sit in the
page cache for every path alike (they were just written or read).

    python -m benchmarks.bench_ingest            # full: >= 1 GB at 4 km (the lead runs this)
    python -m benchmarks.bench_ingest --small    # quick check: 3 files at 1/4 resolution
    python -m benchmarks.bench_ingest --inputs DIR --repeat 3   # keep/reuse the input files
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
    from satco2.testing.writers import write_l3m

    files = []
    for i in range(n):
        start = pd.Timestamp("2010-01-01") + pd.DateOffset(months=i)
        end = start + pd.offsets.MonthEnd(0)
        name = f"AQUA_MODIS.{start:%Y%m%d}_{end:%Y%m%d}.L3m.MO.CHL.chlor_a.4km.nc"
        path = folder / name
        files.append(path if path.exists() else write_l3m(path, nlat=nlat, seed=i))
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


def _reference(files, out: Path, matched: bool) -> None:
    """What a researcher would otherwise write: ``open_mfdataset(...).to_zarr(...)`` (dask's
    default threaded scheduler). ``matched``: the same output chunks and codec as the mirror."""
    import xarray as xr

    from satco2.catalog.ingest import _even_chunk

    kw = {}
    if matched:
        with xr.open_dataset(files[0], engine="netcdf4") as first:
            kw = {"chunks": {"time": 1, **{d: _even_chunk(first.sizes[d]) for d in ("lat", "lon")}}}
    ds = xr.open_mfdataset([str(f) for f in files], combine="nested", concat_dim="time",
                           engine="netcdf4", parallel=False, **kw)
    enc = {}
    if matched:
        from zarr.codecs import BloscCodec

        enc = {"chlor_a": {"compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]}}
    ds[["chlor_a"]].to_zarr(out, mode="w", encoding=enc)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="3 files at 1/4 of the 4 km grid")
    ap.add_argument("--nlat", type=int, default=None, help="rows of the grid (default 4320; --small 1080)")
    ap.add_argument("--gb", type=float, default=1.0, help="total size of the input files (full run)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed interleaved rounds (default: 3, or 5 if a round takes under 2 s)")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary folder)")
    ap.add_argument("--inputs", default=None,
                    help="keep the input files in this folder and reuse them in later runs")
    args = ap.parse_args(argv)

    import statistics
    import warnings

    warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
    warnings.filterwarnings("ignore", message=".*specified chunks separate the stored chunks.*")

    from benchmarks import _measure
    from satco2.catalog.ingest import SPATIAL_CHUNK, ingest

    _measure.conditions("start")

    work = Path(tempfile.mkdtemp(prefix="satco2-bench-ingest-", dir=args.dir))
    try:
        nlat = args.nlat or (1080 if args.small else 4320)
        src = Path(args.inputs) / f"l3m-{nlat}" if args.inputs else work / "src"
        src.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if args.small:
            files = make_files(src, 3, nlat)
        else:  # add files until the input reaches --gb
            files = make_files(src, 1, nlat)
            per = files[0].stat().st_size
            need = int(args.gb * 1e9 // per) + 1
            files += make_files(src, need, nlat)[1:]
        total = sum(f.stat().st_size for f in files)
        print(f"input: {len(files)} SYNTHETIC L3m files {nlat} x {2 * nlat} float32 (zlib 4 + shuffle, "
              f"256 x 512 chunks), {total / 1e9:.2f} GB (ready in {time.perf_counter() - t0:.0f} s)", flush=True)
        print(f"mirror chunks 1 x {nlat // -(-nlat // SPATIAL_CHUNK)} x {2 * nlat // -(-2 * nlat // SPATIAL_CHUNK)}, "
              "blosc lz4 + shuffle; lat flipped to ascending; fill and valid range -> NaN", flush=True)
        from satco2.catalog.readers.hdf5_chunks import inflater

        print(f"ingest inflates with {inflater()[0]} (the references: netCDF4-python's zlib)", flush=True)

        runs = {
            "satco2 ingest": lambda out: ingest("global-chl-modis-aqua-4km", files, root=str(out), progress=False),
            "open_mfdataset.to_zarr, defaults": lambda out: _reference(files, out / "ref.zarr", False),
            "open_mfdataset.to_zarr, same chunks+codec": lambda out: _reference(files, out / "ref.zarr", True),
        }
        # warm every path (imports, registry, zarr event loop) on one file into scratch stores
        ingest("global-chl-modis-aqua-4km", files[:1], root=str(work / "warm"), progress=False)
        _reference(files[:1], work / "warm.zarr", True)
        shutil.rmtree(work / "warm")
        shutil.rmtree(work / "warm.zarr")

        def timed(name):
            def run(r):
                out = work / f"out-{r}"
                out.mkdir()
                try:
                    runs[name](out)
                finally:
                    shutil.rmtree(out)
            return run

        # interleaved rounds: load from other jobs hits all paths alike
        res = _measure.interleaved({k: timed(k) for k in runs}, args.repeat)
        times = {k: v.wall for k, v in res.items()}
        cpus = {k: v.cpu for k, v in res.items()}

        raw = [raw_read_speed(work, min(total, 2 * 2**30)) for _ in range(2)]
        mb = total / 2**20
        best = {k: min(v) for k, v in times.items()}
        print(f"\n{'':42s}  best s  (spread)      MB/s   CPU s (min)")
        for name, v in times.items():
            spread = f"{min(v):.1f}-{max(v):.1f}" if len(v) > 1 else "-"
            print(f"{name:42s} {best[name]:7.1f}  ({spread:>11s})  {mb / best[name]:7.1f}  {min(cpus[name]):7.1f}")
        ours = best["satco2 ingest"]
        for name in list(runs)[1:]:
            print(f"ratio {name} / satco2 ingest: {best[name] / ours:5.2f}x (target >= 2x; "
                  f"per round {', '.join(f'{a / b:.2f}' for a, b in zip(times[name], times['satco2 ingest']))})")
        print(f"disk raw sequential read (dd, O_DIRECT): {max(raw):.0f} MB/s (runs: "
              f"{', '.join(f'{x:.0f}' for x in raw)}); ingest reaches {100 * mb / ours / max(raw):.1f} % of it "
              f"(median of rounds: {mb / statistics.median(times['satco2 ingest']):.0f} MB/s)")
        _measure.conditions("end")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
