"""Learned imputer (tiny training budgets) and the forecasts with Rubin's rules.
Fields are SYNTHETIC (satco2.testing.gapfill)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from satco2 import SatCO2Error
from satco2.science.gapfill import METHODS
from satco2.science.gapfill.evaluate import mask_stimp
from satco2.science.gapfill.forecast import FORECASTERS, forecast, forecast_skill, imputations_of
from satco2.testing.gapfill import chl_like_cube, cloud_masks, low_rank_cube

pytest.importorskip("torch")
from satco2.science.gapfill.learned import WEIGHTS_FILE, LearnedImputer  # noqa: E402


@pytest.fixture(scope="module")
def cube():
    truth = low_rank_cube(nt=48, ny=16, nx=16, rank=3, seed=4, noise=0.02)
    mask = cloud_masks(truth.shape, cover=0.3, seed=5)
    return truth, truth.where(~mask)


def test_learned_imputer_learns_and_saves(cube, tmp_path):
    truth, obs = cube
    hide = mask_stimp(np.isfinite(obs.values), 0.5, np.random.default_rng(0))
    masked = obs.where(~hide)
    model = LearnedImputer(transform="none", steps=150, n_samples=4, out_dir=tmp_path, seed=1)
    ds = model.fit(masked)
    assert METHODS["learned"] is LearnedImputer
    # several imputations, observations kept bit for bit, spread only in the gaps
    assert ds.sizes["sample"] == 4
    seen = np.isfinite(masked.values)
    np.testing.assert_array_equal(ds.filled.values[seen], masked.values[seen])
    assert (ds.samples.std("sample").values[~seen] > 0).mean() > 0.9
    # proper imputations: they spread as much as the stated error (MC dropout alone is too narrow)
    spread = ds.samples.std("sample", ddof=1).values[~seen]
    assert 0.7 < np.sqrt(np.mean(spread**2)) / np.sqrt(np.mean(ds.error.values[~seen] ** 2)) < 1.3
    assert (ds.error.values[~seen] > 0).all() and (ds.error.values[seen] == 0).all()
    # it learned something: better than the monthly climatology it starts from
    t = truth.values[hide]
    mae = np.abs(ds.filled.values[hide] - t).mean()
    months = pd.DatetimeIndex(masked.time.values).month.values
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):  # empty months of some pixels
        clim = np.stack([np.nanmean(masked.values[months == m], axis=0) for m in range(1, 13)])[months - 1]
        clim = np.where(np.isfinite(clim), clim, np.nanmean(masked.values, axis=0))
    assert mae < 0.9 * np.abs(clim[hide] - t).mean()
    # weights beside the run, written atomically, and reusable without training
    assert (tmp_path / WEIGHTS_FILE).exists() and not list(tmp_path.glob("*.part"))
    again = LearnedImputer.load(tmp_path, transform="none", n_samples=3).fit(masked)
    assert again.attrs["gapfill_train_steps_done"] == 0
    mae2 = np.abs(again.filled.values[hide] - t).mean()
    assert mae2 < 1.1 * mae


def test_training_climatology_leaves_out_the_hidden_pixels(cube):
    """In training, a window's climatology (an input, and the baseline of the target anomalies)
    equals the climatology of the data with the window's hidden pixels removed: no share of a
    hidden value reaches the network."""
    from satco2.science.gapfill.learned import monthly_climatology

    _, obs = cube
    Y = obs.values
    o = np.isfinite(Y)
    months = pd.DatetimeIndex(obs.time.values).month.values
    train = np.arange(Y.shape[0]) < 40
    sea2d = np.ones(Y.shape[1:], bool)
    imp = LearnedImputer()
    imp._climatology_sums(Y, o, months, train, float(np.nanmean(Y[train])), sea2d)
    rng = np.random.default_rng(3)
    for s in (0, 20, 30):
        h = (rng.random((12,) + Y.shape[1:]) < 0.5) & o[s:s + 12]
        Yh = Y.copy()
        Yh[s:s + 12][h] = np.nan
        ref = monthly_climatology(Yh, months, train)[months - 1][s:s + 12]
        np.testing.assert_allclose(imp._clim_without(Y, s, h), ref, rtol=1e-12)
        # the climatology of the full data differs where pixels were hidden in the training period
        full = monthly_climatology(Y, months, train)[months - 1][s:s + 12]
        assert not np.allclose(full, ref)


def test_learned_imputer_errors(cube):
    _, obs = cube
    with pytest.raises(SatCO2Error, match="n_samples"):
        LearnedImputer(n_samples=1)
    with pytest.raises(SatCO2Error, match="training period"):
        LearnedImputer(transform="none", train_end="2000-06", steps=1).fit(obs)
    with pytest.raises(SatCO2Error, match="no learned-imputer weights"):
        LearnedImputer.load("/nonexistent")


def test_forecasters_on_known_signals():
    t = pd.date_range("2000-01", periods=72, freq="MS")
    months = t.month.values
    season = np.sin(2 * np.pi * months / 12)[:, None]
    f, v = FORECASTERS["climatology"](season, months, 24, months[-1])
    np.testing.assert_allclose(f[:, 0], np.sin(2 * np.pi * (np.arange(1, 25) % 12) / 12), atol=1e-12)
    np.testing.assert_allclose(v, 0, atol=1e-20)
    hist = season + np.arange(72)[:, None] / 100
    f, _ = FORECASTERS["persistence"](hist, months, 13, months[-1])
    np.testing.assert_allclose(f[:12, 0], hist[-12:, 0])
    np.testing.assert_allclose(f[12, 0], hist[-12, 0])
    # a persistent anomaly in the last years: the damped-anomaly forecast keeps most of it
    rng = np.random.default_rng(0)
    red = np.zeros(72)
    for i in range(1, 72):
        red[i] = 0.95 * red[i - 1] + 0.1 * rng.standard_normal()
    hist = season + red[:, None]
    fd, vd = FORECASTERS["damped_anomaly"](hist, months, 12, months[-1])
    fc, vc = FORECASTERS["climatology"](hist, months, 12, months[-1])
    assert np.all(vd <= vc + 1e-12)
    assert abs(fd[0, 0] - fc[0, 0]) > 0.0


def test_forecast_rubin_and_skill():
    truth = chl_like_cube(nt=72, ny=8, nx=8, seed=3, noise=0.05)
    obs = truth.where(~cloud_masks(truth.shape, cover=0.3, seed=1))
    ds = METHODS["dineof"](nev=6).fit(obs)
    imps = imputations_of(ds, n=5)
    assert imps.shape == (5, 72, 8, 8)
    gap = ~np.isfinite(obs.values)
    assert np.ptp(imps, axis=0)[gap].min() > 0 and np.ptp(imps, axis=0)[~gap].max() == 0
    fc = forecast(imps, truth.time.values, 12)
    assert (fc["total"] >= fc["within"]).all() and (fc["upper"] > fc["lower"]).all()
    assert str(fc["time"][0].date()) == "2006-01-01"
    skill = forecast_skill(imps, truth.time.values, np.log10(obs.values), issue_index=47, years=2)
    assert set(skill.lead_year) == {1, 2} and len(skill) == 6
    # errors of the order of the injected noise (0.05 dex) plus the 0.01 dex/yr trend
    assert (skill.mae < 0.1).all() and (skill.coverage > 0.6).all()
    with pytest.raises(SatCO2Error, match="forecaster"):
        forecast(imps, truth.time.values, 12, method="analogue")


def test_forecast_variance_follows_the_calendar_month():
    """The stated variance of the climatology and damped-anomaly forecasts is the anomaly
    variance of the forecast's calendar month (one variance for all months would be too narrow
    in variable months and too wide in calm ones)."""
    rng = np.random.default_rng(0)
    nt = 240
    months = (np.arange(nt) % 12) + 1
    sd = np.where(months == 1, 0.3, 0.1)[:, None]
    hist = 1.0 + np.sin(2 * np.pi * months / 12)[:, None] + sd * rng.standard_normal((nt, 50))
    for name in ("climatology", "damped_anomaly"):
        f, v = FORECASTERS[name](hist, months, 12, issue_month=12)  # leads: Jan..Dec
        assert v.shape == (12, 50)
        assert np.median(np.sqrt(v[0])) == pytest.approx(0.3, rel=0.15), name
        assert np.median(np.sqrt(v[6])) == pytest.approx(0.1, rel=0.15), name
