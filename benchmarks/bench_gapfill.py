"""Gap-filling benchmark: this DINEOF against pydineof, and the learned imputer against DINEOF.

One run, ratios printed side by side (``python -m benchmarks.bench_gapfill [--small]``):

1. DINEOF speed and accuracy: the same cube (demo chlorophyll of the Changjiang estuary box,
   log10), the same hidden pixels (50 % of the observed pixels, cloud-shaped masks from the data's
   own gaps), the same cross-validation points, the same maximum number of modes, temporal filter
   off: wall time of ``satco2.science.gapfill.DINEOF`` and ``pydineof.run_2D``, MAE (log10) on the
   hidden pixels, chosen number of modes. Target: >= 10x faster with equal or lower MAE.
2. Learned imputer vs DINEOF at missing rates 10-90 % (cloud protocol, and STIMP's random protocol
   at 50 %): MAE, PCC, CRPS; the relative MAE difference is printed for every rate, wins and
   losses alike. Target: MAE at 50 % at least 20 % below DINEOF.

The demo store must exist (``satco2 demo``); without it the benchmark says so and uses a
SYNTHETIC cube from ``satco2.testing.gapfill.chl_like_cube`` (labelled in the output).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np


def load_cube(small: bool):
    from satco2 import SatCO2Error, catalog
    from satco2.science import regions

    try:
        ds = catalog.open("global-chl-modis-aqua-4km", source="demo",
                          bbox=regions.bbox("changjiang_estuary"),
                          time=("2009-01", "2014-12") if small else ("2000-01", "2014-12"))
        da = ds["chlor_a"].load()
        label = f"demo changjiang_estuary {da.sizes['time']} months x {da.sizes['lat']}x{da.sizes['lon']}"
    except (SatCO2Error, OSError, KeyError) as e:
        from satco2.testing.gapfill import chl_like_cube, cloud_masks

        print(f"(no demo store: {e}; using a SYNTHETIC cube)")
        truth = chl_like_cube(nt=72 if small else 180, ny=30, nx=40, seed=0, noise=0.1)
        cover = np.random.default_rng(1).uniform(0.3, 0.7, truth.sizes["time"])
        da = truth.where(~cloud_masks(truth.shape, cover=cover, seed=2))
        label = "SYNTHETIC chl_like_cube"
    if small:
        da = da.isel(lat=slice(0, 20), lon=slice(0, 20))
        label += " (--small: 20x20 corner)"
    return da, label


def bench_dineof(da, nev: int, repeat: int = 3):
    """Both run ``repeat`` times, alternately, each under one BLAS thread (threadpoolctl): ours
    sets it itself (``blas_threads=1``, its default), pydineof gets the same limit around its call.
    The machine is shared, so the best time and the spread (min-max) of each are printed."""
    import pydineof
    from threadpoolctl import threadpool_info, threadpool_limits

    from satco2.science.gapfill import DINEOF
    from satco2.science.gapfill.dineof import cv_points_random, n_cv_points
    from satco2.science.gapfill.evaluate import mask_clouds

    observed = np.isfinite(da.values)
    hide = mask_clouds(observed, 0.5, np.random.default_rng(0))
    masked = da.where(~hide)
    nt = da.sizes["time"]
    X = np.log10(masked.values.reshape(nt, -1)).T
    X = X[np.isfinite(X).any(axis=1)]  # sea pixels, the order both use
    cv = cv_points_random(np.isfinite(X), n_cv_points(*X.shape), np.random.default_rng(1))
    truth = np.log10(da.values[hide])
    blas = ", ".join(sorted({f"{i['internal_api']} {i.get('version')}" for i in threadpool_info()
                             if i["user_api"] == "blas"}))
    print(f"matrix {X.shape[0]} sea pixels x {nt} months, {np.isfinite(X).mean():.0%} present; "
          f"BLAS: {blas}; 1 BLAS thread each; {repeat} alternate runs")

    t_ours, t_ref = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ours = DINEOF(nev=nev, cv=cv, blas_threads=1).fit(masked)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as log, threadpool_limits(limits=1, user_api="blas"):
            # integer time steps: pydineof casts datetimes to uint16 seconds (overflow); filter off
            ref = pydineof.run_2D(masked.assign_coords(time=np.arange(nt)), nev=nev, ncv=nev + 10,
                                  alpha=0.0, numit=0, clouds=cv)
        t_ref.append(time.perf_counter() - t0)
    p_ref = int(log.getvalue().split("Number of optimal EOF modes:")[1].split()[0])
    mae_ours = float(np.mean(np.abs(np.log10(ours.filled.values[hide]) - truth)))
    mae_ref = float(np.mean(np.abs(np.log10(ref.values[hide]) - truth)))
    ratios = np.array(t_ref) / np.array(t_ours)
    print(f"{'':28s}{'satco2 DINEOF':>16s}{'pydineof':>12s}{'ratio':>10s}")
    print(f"{'wall time, best (s)':28s}{min(t_ours):16.2f}{min(t_ref):12.2f}{min(t_ref) / min(t_ours):9.1f}x"
          "  (target >= 10x)")
    spread = lambda t: f"{min(t):.2f}-{max(t):.2f}"  # noqa: E731
    print(f"{'wall time, min-max (s)':28s}{spread(t_ours):>16s}{spread(t_ref):>12s}"
          f"{ratios.min():6.1f}-{ratios.max():.1f}x  (per-run ratios)")
    print(f"{'MAE hidden (log10)':28s}{mae_ours:16.4f}{mae_ref:12.4f}{mae_ours / mae_ref:10.3f}  (target <= 1)")
    print(f"{'modes (CV)':28s}{ours.attrs['gapfill_n_modes']:16d}{p_ref:12d}")
    return min(t_ref) / min(t_ours), mae_ours / mae_ref


def bench_learned(da, rates, steps: int, n_samples: int):
    from satco2.science.gapfill import DINEOF
    from satco2.science.gapfill.evaluate import evaluate_imputation
    from satco2.science.gapfill.learned import LearnedImputer

    methods = {"dineof": lambda: DINEOF(),
               "learned": lambda: LearnedImputer(steps=steps, n_samples=n_samples)}
    rows = []
    for protocol, rs in (("clouds", rates), ("stimp", (0.5,))):
        t = evaluate_imputation(da, methods, rates=rs, protocol=protocol)
        rows.append(t)
    import pandas as pd

    t = pd.concat(rows)
    print(f"{'protocol':9s}{'rate':>6s}{'MAE dineof':>12s}{'MAE learned':>13s}{'diff':>9s}"
          f"{'PCC d/l':>14s}{'CRPS d/l':>16s}{'s d/l':>14s}")
    out = {}
    for (protocol, rate), g in t.groupby(["protocol", "rate"], sort=False):
        d = g.set_index("method")
        rel = 1 - d.loc["learned", "mae"] / d.loc["dineof", "mae"]
        out[(protocol, rate)] = rel
        print(f"{protocol:9s}{rate:6.1f}{d.loc['dineof', 'mae']:12.4f}{d.loc['learned', 'mae']:13.4f}"
              f"{100 * rel:+8.1f}%{d.loc['dineof', 'pcc']:7.3f}/{d.loc['learned', 'pcc']:.3f}"
              f"{d.loc['dineof', 'crps']:8.4f}/{d.loc['learned', 'crps']:.4f}"
              f"{d.loc['dineof', 'seconds']:7.1f}/{d.loc['learned', 'seconds']:.1f}")
    print("diff = 1 - MAE_learned / MAE_dineof (positive: the learned model wins; target >= +20 % at 0.5)")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="a quick run on a smaller cube")
    ap.add_argument("--steps", type=int, default=None, help="training steps of the learned imputer")
    ap.add_argument("--repeat", type=int, default=3, help="alternate timed runs of each DINEOF")
    ap.add_argument("--part", choices=("all", "dineof", "learned"), default="all",
                    help="run only part 1 (dineof) or part 2 (learned)")
    a = ap.parse_args(argv)
    da, label = load_cube(a.small)
    print(f"cube: {label}")
    if a.part in ("all", "dineof"):
        print("\n-- 1. DINEOF vs pydineof (same cube, masks, CV points; 50 % hidden, cloud-shaped)")
        bench_dineof(da, nev=10 if a.small else 20, repeat=a.repeat)
    if a.part == "dineof":
        return
    print("\n-- 2. learned imputer vs DINEOF across missing rates")
    rates = (0.5,) if a.small else (0.1, 0.3, 0.5, 0.7, 0.9)
    bench_learned(da, rates, steps=a.steps or (40 if a.small else 600), n_samples=4 if a.small else 8)


if __name__ == "__main__":
    main()
