"""A learned spatio-temporal imputer (PyTorch, CPU), lighter than STIMP's diffusion model.

STIMP (Zhang et al. 2025, Nat. Commun., doi:10.1038/s41467-025-62901-9) imputes with a
conditional denoising diffusion model and draws several imputations. This module keeps the idea
(a network that sees the observed pixels and their mask, trained by hiding observed pixels and
scoring the hidden ones; several imputations for an uncertainty) with a smaller architecture
that trains in minutes on 2 CPU cores:

- **input** per (time, lat, lon): the observed anomaly (0 where missing), the observation mask,
  the normalised per-pixel monthly climatology and a sea mask; anomalies are taken against the
  per-pixel calendar-month climatology of the *training* period only, scaled by one standard
  deviation of the training anomalies (no test-year statistics, a STIMP caveat);
- **network**: the ``window`` months of a sample are stacked as channels ("frames as channels")
  and mixed by a 3x3 convolution, then residual blocks of 3x3 convolutions (dilation 1 and 2
  alternating; GELU; element-wise dropout); a 1x1 output layer gives the anomaly of every month of
  the window. (3-D and factorised (2+1)-D convolutions were tried: several times slower on CPU
  with this torch build.) Torch uses one thread by default: on a shared 2-core machine more
  OpenMP threads were 7x slower;
- **training** (self-masking): windows of ``window`` months from the training period; a random
  fraction (10-90 %) of the observed pixels is hidden, half the time uniformly at random (STIMP's
  protocol) and half the time with the gap masks of other months (cloud-shaped); L1 loss on the
  hidden pixels; Adam; the checkpoint with the lowest loss on a *validation* period (the last
  ``val_fraction`` of the training period, never trained on) is kept, never one chosen on test data;
  a window's climatology is computed without its hidden pixels (:meth:`LearnedImputer._clim_without`),
  or a share of every hidden value, noise included, would reach the network;
- **several imputations**: Monte Carlo dropout (Gal and Ghahramani 2016, ICML): ``n_samples``
  stochastic passes; the point estimate is their median (as STIMP takes the median of its
  samples); each imputation is one pass plus a Gaussian draw of the validation residual error
  (proper imputations in Rubin's sense, which MC dropout alone is not: its spread was far smaller
  than its error); observed pixels keep their observed values;
- **error estimate** (log10 units): sqrt(MC-dropout variance + validation residual variance);
- **DINEOF base** (``base="dineof"``, default; issue 20): the network predicts a correction of the
  DINEOF fill, given as a fifth channel; it trains on ``base_runs`` DINEOF fills of copies with more
  pixels hidden, and its output layer starts at zero, so the step-0 checkpoint is DINEOF itself; a
  later checkpoint replaces it only if it is better than the base on both the cloud-shaped and
  the random validation hiding by more than ``min_gain_se`` standard errors of the window-paired
  error differences (``fallback``; a plain "lower validation error" let a checkpoint through that
  lost 31 % to its base on the test pixels of a real cube). ``base=None``: the climatology-based design above. The base is the
  mean of ``base_members`` DINEOF fills with different cross-validation draws
  (``DINEOF(members=...)``, bagging): on the real cubes most of the imputer's gain over one
  DINEOF fill comes from this mean, not from the network (docs/gapfill.md).

Weights are saved beside the run (``out_dir``), never downloaded; :meth:`LearnedImputer.load`
reuses them.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ... import SatCO2Error, io
from .base import FillOutput, GapFiller

WEIGHTS_FILE = "learned_imputer.pt"


def _torch():
    import torch  # imported on first use: importing torch costs seconds

    return torch


def _build_net(cin: int, window: int, hidden: int, blocks: int, dropout: float):
    torch = _torch()
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.conv = nn.Conv2d(hidden, hidden, 3, padding=d, dilation=d)
            self.act = nn.GELU()
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            return x + self.drop(self.act(self.conv(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Conv2d(cin * window, hidden, 3, padding=1)
            self.blocks = nn.Sequential(*[Block(1 + (i % 2)) for i in range(blocks)])
            self.out = nn.Conv2d(hidden, window, 1)
            nn.init.zeros_(self.out.weight)  # starts at the baseline (a correction of it)
            nn.init.zeros_(self.out.bias)

        def forward(self, x):  # x: (batch, channel, time, lat, lon) -> (batch, time, lat, lon)
            b, c, t, h, w = x.shape
            y = torch.nn.functional.gelu(self.inp(x.reshape(b, c * t, h, w)))
            return self.out(self.blocks(y))

    return Net()


def monthly_climatology(Y: np.ndarray, months: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per-pixel calendar-month mean of ``Y`` (time, ...) over the ``train`` time steps (NaN-aware),
    falling back to the pixel's training mean, then the overall training mean. Returns (12, ...)."""
    Yt = Y[train]
    overall = np.nanmean(Yt)
    with np.errstate(invalid="ignore"), _quiet():
        pix = np.nanmean(Yt, axis=0)
        pix = np.where(np.isfinite(pix), pix, overall)
        clim = np.stack([np.nanmean(Yt[months[train] == mth], axis=0) if (months[train] == mth).any()
                         else np.full(Y.shape[1:], np.nan) for mth in range(1, 13)])
    return np.where(np.isfinite(clim), clim, pix[None])


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *a):
        self._w.__exit__(*a)


class LearnedImputer(GapFiller):
    """Masked (2+1)-D convolutional imputer with MC-dropout imputations (see module docstring).

    Parameters
    ----------
    train_end : last time step used for training and normalisation (a date string such as
        "2011-12", or None for all steps; the imputation never sees hidden pixels either way).
    val_fraction : fraction (0-1) of the training period, at its end, used only for checkpoint
        selection and the residual error.
    window : months per training window; hidden : channels; blocks : residual blocks;
    dropout : dropout probability (also the MC-dropout sampling rate).
    steps : maximum optimiser steps; max_minutes : wall-clock training budget (minutes);
    batch : windows per step; lr : Adam learning rate.
    n_samples : number of imputations (MC-dropout passes).
    base, base_runs, base_members, dineof_options, fallback : the DINEOF base (module docstring):
        ``base_members`` DINEOF fills with different CV draws averaged (5; 1 = one fill);
        ``min_gain_se``: a trained checkpoint replaces the base only if, on each validation
        group, its mean error is below the base's by more than this many standard errors of the
        window-paired differences (2; 0 = any improvement).
    out_dir : folder where the weights and their metadata are written (``learned_imputer.pt``).
    threads : torch CPU threads; seed : seed of initialisation, masks and sampling.
    """

    name = "learned"

    def __init__(self, train_end: str | None = None, val_fraction: float = 0.15, window: int = 12,
                 hidden: int = 32, blocks: int = 4, dropout: float = 0.1, steps: int = 600,
                 max_minutes: float = 30.0, batch: int = 8, lr: float = 2e-3, n_samples: int = 8,
                 out_dir: str | os.PathLike | None = None, threads: int = 1, seed: int = 0,
                 eval_every: int = 25, transform: str = "log10", min_coverage: float = 0.0,
                 weights: str | os.PathLike | None = None, base: str | None = "dineof",
                 base_runs: int = 6, dineof_options: dict | None = None, fallback: bool = True,
                 base_members: int = 5, min_gain_se: float = 2.0):
        super().__init__(transform=transform, min_coverage=min_coverage)
        if base not in (None, "dineof"):
            raise SatCO2Error(f"unknown learned-imputer base {base!r}; choose None or 'dineof'")
        if base == "dineof" and base_runs < 2:
            raise SatCO2Error(f"base_runs must be at least 2, got {base_runs}")
        if not 0 <= val_fraction < 1:
            raise SatCO2Error(f"val_fraction must lie in [0, 1), got {val_fraction}")
        if window < 3:
            raise SatCO2Error(f"window must be at least 3 time steps, got {window}")
        if n_samples < 2:
            raise SatCO2Error(f"n_samples must be at least 2 (Rubin's rules need several), got {n_samples}")
        self.cfg = dict(train_end=train_end, val_fraction=val_fraction, window=window, hidden=hidden,
                        blocks=blocks, dropout=dropout, steps=steps, max_minutes=max_minutes,
                        batch=batch, lr=lr, n_samples=n_samples, seed=seed, eval_every=eval_every,
                        base=base, base_runs=base_runs, dineof_options=dict(dineof_options or {}),
                        fallback=fallback, base_members=int(base_members),
                        min_gain_se=float(min_gain_se))
        self.out_dir = Path(out_dir) if out_dir else None
        self.threads = threads
        self.weights = Path(weights) if weights else None

    # --------------------------------------------------------------------------------------
    def _prepare(self, X):
        ny, nx, sea = self.grid_
        n = X.shape[0]
        full = np.full((n, ny * nx), np.nan)
        full[:, sea] = X
        Y = full.reshape(n, ny, nx)
        t = pd.DatetimeIndex(self.time_values_) if np.issubdtype(np.asarray(self.time_values_).dtype,
                                                                np.datetime64) else None
        months = t.month.values if t is not None else (np.arange(n) % 12) + 1
        if self.cfg["train_end"] is not None:
            if t is None:
                raise SatCO2Error("train_end needs a datetime time axis")
            train = np.asarray(t <= pd.Timestamp(self.cfg["train_end"]) + pd.offsets.MonthEnd(0))
        else:
            train = np.ones(n, dtype=bool)
        if train.sum() < self.cfg["window"] + 2:
            raise SatCO2Error(f"the training period has {int(train.sum())} time steps; at least "
                              f"window + 2 = {self.cfg['window'] + 2} are needed")
        return Y, months, train, sea.reshape(ny, nx)

    def _inputs(self, Y, obs, clim_n, sea2d, scale, clim, base=None):
        a = np.where(obs, (Y - clim) / scale, 0.0)
        seaf = np.broadcast_to(sea2d, Y.shape).astype(np.float32)
        ch = [a, obs.astype(float), clim_n, seaf]
        if base is not None:  # the DINEOF fill, as an anomaly
            ch.append((base - clim) / scale)
        return np.stack(ch).astype(np.float32)  # (C, T, H, W)

    def _dineof_runs(self, Y, obs, sea2d, rng):
        """The DINEOF fill of the input (the base at inference) and of ``base_runs`` copies with
        more observed pixels hidden (rates spread over 10-90 %, cloud-shaped and random in turn):
        the network learns to correct DINEOF where DINEOF did not see the truth. Returns
        (final (T, H, W), fills (K, T, H, W), hidden masks (K, T, H, W))."""
        from .dineof import DINEOF

        ny, nx, sea = self.grid_
        n = Y.shape[0]
        gaps = ~obs & sea2d[None]

        def run(o):
            X = np.where(o, Y, np.nan).reshape(n, ny * nx)[:, sea]
            d = DINEOF(**{"seed": self.cfg["seed"], "members": self.cfg.get("base_members", 1),
                          **self.cfg["dineof_options"]})
            keep = np.isfinite(X).any(axis=0)
            d.grid_ = (ny, nx, sea)
            d.time_values_ = self.time_values_
            out = np.full(X.shape, np.nan)
            out[:, keep] = d._fill(X[:, keep], None).filled
            full = np.full((n, ny * nx), np.nan)
            full[:, sea] = out
            return full.reshape(n, ny, nx)

        final = run(obs)
        K = self.cfg["base_runs"]
        fills, hides = [], []
        for k, rate in enumerate(np.linspace(0.1, 0.9, K)):
            if k % 2 == 0:
                donors = rng.integers(0, n, size=(n, 8))
                h = np.zeros_like(obs)
                for j in range(8):  # other months' gaps until the rate is met
                    need = h.sum((1, 2)) < rate * obs.sum((1, 2))
                    h[need] |= gaps[donors[need, j]] & obs[need]
            else:
                h = (rng.random(obs.shape) < rate) & obs
            fills.append(run(obs & ~h))
            hides.append(h)
        return final, np.stack(fills), np.stack(hides)

    def _fill(self, X, times):
        torch = _torch()
        torch.set_num_threads(max(1, int(self.threads)))
        cfg = self.cfg
        rng = np.random.default_rng(cfg["seed"])
        torch.manual_seed(cfg["seed"])
        Y, months, train, sea2d = self._prepare(X)
        n = Y.shape[0]
        obs = np.isfinite(Y)
        clim = monthly_climatology(Y, months, train)[months - 1]  # (T, H, W)
        anom = np.where(obs, Y - clim, np.nan)
        with _quiet():
            scale = float(np.nanstd(anom[train])) or 1.0
            gmean = float(np.nanmean(Y[train]))
        clim = np.where(sea2d[None], clim, gmean)
        clim_n = (clim - gmean) / scale
        self._climatology_sums(Y, obs, months, train, gmean, sea2d)
        W = cfg["window"]
        use_base = cfg.get("base") == "dineof"
        net = _build_net(5 if use_base else 4, W, cfg["hidden"], cfg["blocks"], cfg["dropout"])
        info = {"train_steps_done": 0}
        gaps = ~obs & sea2d[None]
        base = runs = None
        if use_base:
            final, fills, hides = self._dineof_runs(Y, obs, sea2d, rng)
            base = np.where(np.isfinite(final), final, clim)
            runs = (np.where(np.isfinite(fills), fills, clim[None]), hides)
        use_net = True
        if self.weights is not None:
            state = torch.load(self.weights, weights_only=False)
            net.load_state_dict(state["state_dict"])
            sigma_res = state["meta"]["sigma_res"]
            use_net = state["meta"].get("use_net", True)
        else:
            sigma_res, info = self._train(net, Y, obs, sea2d, scale, train, gaps, rng, runs)
            use_net = info.get("use_net", True)
        if use_net:
            samples = self._predict(net, Y, obs, clim, clim_n, sea2d, scale, cfg["n_samples"], base)
        else:  # the fallback: the network did not beat its DINEOF base on the validation period
            samples = np.repeat(base[None], cfg["n_samples"], axis=0)
        point = np.median(samples, axis=0)
        point = np.where(obs, Y, point)
        err = np.sqrt(samples.var(axis=0, ddof=1) + sigma_res**2)
        err = np.where(obs, 0.0, err)
        # proper imputations (Rubin 1987): a draw of the network (MC dropout) plus a draw of its
        # residual error, so that the imputations spread as much as the error does (MC dropout
        # alone was under-dispersed: its CRPS equalled its MAE)
        samples = samples + rng.normal(0.0, sigma_res, size=samples.shape)
        samples = np.where(obs[None], Y[None], samples)
        ny, nx, sea = self.grid_
        flat = lambda a: a.reshape(a.shape[:-2] + (ny * nx,))[..., sea]  # noqa: E731
        info.update({"sigma_res": float(sigma_res), "n_samples": cfg["n_samples"],
                     "train_steps": int(train.sum()), "use_net": int(bool(use_net)),
                     "base": cfg.get("base") or "climatology"})
        self.net_ = net
        return FillOutput(filled=flat(point), error=flat(err), samples=flat(samples), info=info,
                          keeps_observed=True)

    def _climatology_sums(self, Y, obs, months, train, gmean, sea2d):
        """Training-period sums and counts per calendar month, from which :meth:`_clim_without`
        takes hidden pixels out."""
        tob = obs & train[:, None, None]
        sums = np.stack([np.where(tob & (months == m)[:, None, None], Y, 0.0).sum(0) for m in range(1, 13)])
        counts = np.stack([(tob & (months == m)[:, None, None]).sum(0) for m in range(1, 13)]).astype(float)
        self._clim_parts = (sums, counts, months, train, gmean, sea2d)

    def _clim_without(self, Y, s, h):
        """The per-pixel monthly climatology of window ``s:s+W`` computed without the pixels ``h``
        (W, H, W) hidden in it. A climatology that includes a hidden value hands the network a share
        of that value's noise (about 1/number of years observed): a leak that exists in training and
        validation but not when the gaps are real, which taught the network to rely on it. Same
        fall-backs as :func:`monthly_climatology`."""
        sums, counts, months, train, gmean, sea2d = self._clim_parts
        W = h.shape[0]
        hv = h & train[s:s + W, None, None]
        mw = months[s:s + W] - 1
        ds = np.zeros_like(sums)
        dc = np.zeros_like(counts)
        np.add.at(ds, mw, np.where(hv, Y[s:s + W], 0.0))
        np.add.at(dc, mw, hv)
        S, C = sums - ds, counts - dc
        pc = C.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            pix = np.where(pc > 0, S.sum(0) / pc, np.nan)
            overall = S.sum() / C.sum() if C.sum() else gmean
            pix = np.where(np.isfinite(pix), pix, overall)
            clim = np.where(C > 0, S / C, pix[None])[mw]
        return np.where(sea2d[None], clim, gmean)

    def _hide(self, o, gaps, rng):
        """Self-masking: hide a random 10-90 % of the observed pixels of a window ``o`` (T, H, W)."""
        rate = rng.uniform(0.1, 0.9)
        if rng.random() < 0.5:
            h = (rng.random(o.shape) < rate) & o
        else:
            donors = rng.integers(0, gaps.shape[0], size=o.shape[0])
            h = gaps[donors] & o
            # add more donors until the rate is met (cloud-shaped)
            for _ in range(6):
                if h.sum() >= rate * o.sum():
                    break
                h |= gaps[rng.integers(0, gaps.shape[0], size=o.shape[0])] & o
        return h

    def _train(self, net, Y, obs, sea2d, scale, train, gaps, rng, runs=None):
        torch = _torch()
        cfg = self.cfg
        W = cfg["window"]
        idx = np.flatnonzero(train)
        n_val = int(round(cfg["val_fraction"] * idx.size))
        if n_val and n_val < W:
            n_val = min(W, idx.size - W)
        tr_idx, val_idx = (idx[:-n_val], idx[-n_val:]) if n_val else (idx, idx[-W:])
        starts = np.arange(tr_idx[0], tr_idx[-1] - W + 2)
        if starts.size == 0:
            raise SatCO2Error("the training period is shorter than one window")
        # a fixed validation set: windows over the validation period with fixed hidden pixels
        vrng = np.random.default_rng(cfg["seed"] + 1)
        v0 = max(0, val_idx[-1] - W + 1) if val_idx.size < W else val_idx[0]
        val_windows = []
        for s in range(v0, max(v0, val_idx[-1] - W + 1) + 1, max(1, W // 2)):
            if runs is None:
                val_windows.append((s, self._hide(obs[s:s + W], gaps, vrng), None))
            else:  # every DINEOF run's hidden pixels: its base never saw them
                val_windows += [(s, runs[1][k, s:s + W], k) for k in range(runs[1].shape[0])]
        opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg["steps"]))

        gmean = self._clim_parts[4]

        def batch_tensors(items):
            xs, ts, ms = [], [], []
            for s, h, k in items:
                o = obs[s:s + W] & ~h
                cw = self._clim_without(Y, s, h)  # no hidden value in any input, climatology included
                b = None if k is None else runs[0][k, s:s + W]
                xs.append(self._inputs(Y[s:s + W], o, (cw - gmean) / scale, sea2d, scale, cw, b))
                ts.append(np.where(h, (np.nan_to_num(Y[s:s + W]) - (cw if b is None else b)) / scale, 0.0))
                ms.append(h)
            return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts).astype(np.float32)),
                    torch.from_numpy(np.stack(ms)))

        # validation groups: with a DINEOF base, each run's hiding kind (cloud-shaped: even runs,
        # random: odd runs) separately; a checkpoint must not be worse than the base on any group
        groups = np.array([0 if k is None else k % 2 for _, _, k in val_windows])

        def val_loss(per_group=False):
            net.eval()
            with torch.no_grad():
                x, t, m = batch_tensors(val_windows)
                e = (net(x) - t).abs()
                total = float(e[m].mean()) if m.any() else float("nan")
                if not per_group:
                    return total
                # per validation window: the mean error over its hidden pixels (NaN without any)
                mf = m.float()
                cnt = mf.sum(dim=(1, 2, 3)).numpy()
                per_w = np.where(cnt > 0, (e * mf).sum(dim=(1, 2, 3)).numpy() / np.maximum(cnt, 1), np.nan)
                return total, per_w

        def clearly_better(per_w, base_w):
            """On every validation group (cloud-shaped, random), the window-paired mean error
            difference to the base is below zero by more than ``min_gain_se`` standard errors."""
            if base_w is None:
                return True
            for j in np.unique(groups):
                d = (per_w - base_w)[groups == j]
                d = d[np.isfinite(d)]
                if d.size == 0:
                    continue
                se = d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else 0.0
                if not d.mean() + cfg.get("min_gain_se", 2.0) * se < 0:
                    return False
            return True

        best = (math.inf, None, 0)
        base_groups = None
        if cfg["fallback"]:  # step 0: the untrained network returns its base (zero output layer)
            v0, base_groups = val_loss(per_group=True)
            best = (v0, {k: p.detach().clone() for k, p in net.state_dict().items()}, 0)
        base_val = best[0]
        t0 = time.perf_counter()
        step = 0
        for step in range(1, cfg["steps"] + 1):
            net.train()
            items = []
            for s in rng.choice(starts, size=cfg["batch"]):
                if runs is None:
                    items.append((s, self._hide(obs[s:s + W], gaps, rng), None))
                else:
                    k = int(rng.integers(runs[1].shape[0]))
                    items.append((s, runs[1][k, s:s + W], k))
            x, t, m = batch_tensors(items)
            if not m.any():
                continue
            loss = (net(x) - t).abs()[m].mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            out_of_time = time.perf_counter() - t0 > 60 * cfg["max_minutes"]
            if step % cfg["eval_every"] == 0 or step == cfg["steps"] or out_of_time:
                v, vw = val_loss(per_group=True)
                if v < best[0] and clearly_better(vw, base_groups):
                    best = (v, {k: p.detach().clone() for k, p in net.state_dict().items()}, step)
            if out_of_time:
                break
        if best[1] is not None:
            net.load_state_dict(best[1])
        sigma_res = float(best[0] * scale * math.sqrt(math.pi / 2)) if math.isfinite(best[0]) else float(scale)
        info = {"train_steps_done": step, "best_step": best[2], "val_mae": float(best[0] * scale),
                "val_mae_base": float(base_val * scale), "train_seconds": time.perf_counter() - t0,
                "use_net": int(best[2] > 0 or not cfg["fallback"])}
        if self.out_dir is not None:
            self._save(net, {**info, "sigma_res": sigma_res, "config": self.cfg, "scale": scale})
        return sigma_res, info

    def _save(self, net, meta):
        torch = _torch()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with io.atomic_path(self.out_dir / WEIGHTS_FILE) as tmp:
            torch.save({"state_dict": net.state_dict(), "meta": meta}, tmp)
        io.write_json(self.out_dir / (WEIGHTS_FILE + ".json"), meta, indent=1)

    def _predict(self, net, Y, obs, clim, clim_n, sea2d, scale, n_samples, base=None):
        """MC-dropout imputations (n_samples, T, H, W) in transformed units; overlapping
        windows (stride window/2) are averaged."""
        torch = _torch()
        W = self.cfg["window"]
        n = Y.shape[0]
        starts = list(range(0, max(1, n - W + 1), max(1, W // 2)))
        if starts[-1] + W < n:
            starts.append(n - W)
        x = np.stack([self._inputs(Y[s:s + W], obs[s:s + W], clim_n[s:s + W], sea2d, scale,
                                   clim[s:s + W], None if base is None else base[s:s + W])
                      for s in starts])
        out = np.zeros((n_samples,) + Y.shape)
        count = np.zeros(Y.shape[0])
        net.train()  # dropout on: Monte Carlo dropout
        with torch.no_grad():
            xt = torch.from_numpy(x)
            for k in range(n_samples):
                p = net(xt).numpy()
                for j, s in enumerate(starts):
                    out[k, s:s + W] += p[j]
                    if k == 0:
                        count[s:s + W] += 1
        net.eval()
        out /= count[None, :, None, None]
        return (clim if base is None else base)[None] + scale * out

    @classmethod
    def load(cls, folder: str | os.PathLike, **overrides) -> LearnedImputer:
        """An imputer that reuses the weights saved in ``folder`` (no training)."""
        path = Path(folder) / WEIGHTS_FILE
        if not path.exists():
            raise SatCO2Error(f"no learned-imputer weights at {path}")
        meta = json.loads((Path(folder) / (WEIGHTS_FILE + ".json")).read_text())
        cfg = {"base_members": 1, **meta["config"], **overrides}  # weights older than base_members: one fill
        return cls(weights=path, **cfg)
