"""Evaluation harness: masks, metrics against hand computations, Rubin's rules, the loop."""
from __future__ import annotations

import math

import numpy as np
import pytest

from satco2 import SatCO2Error
from satco2.science.gapfill import DINEOF
from satco2.science.gapfill.evaluate import (
    MASKS, crps_ensemble, crps_gaussian, evaluate_imputation, mae, pcc, rubin,
)
from satco2.testing.gapfill import chl_like_cube, cloud_masks


def test_rubin_against_hand_computation():
    # three imputations of one quantity: estimates 1, 2, 3 with variances 0.1, 0.2, 0.3
    r = rubin([1.0, 2.0, 3.0], [0.1, 0.2, 0.3])
    # by hand: Q = 2, W = 0.2, B = ((1-2)^2 + 0 + (3-2)^2) / 2 = 1, T = 0.2 + (1 + 1/3) * 1
    assert r["mean"] == pytest.approx(2.0)
    assert r["within"] == pytest.approx(0.2)
    assert r["between"] == pytest.approx(1.0)
    assert r["total"] == pytest.approx(0.2 + 4 / 3)
    # nu = (m - 1) (1 + 1/r)^2 with r = (1 + 1/m) B / W = 6.6667 -> 2 * 1.15^2 = 2.645
    assert r["df"] == pytest.approx(2 * 1.15**2)
    from scipy import stats

    half = stats.t.ppf(0.975, 2.645) * math.sqrt(0.2 + 4 / 3)
    assert r["upper"] == pytest.approx(2 + half) and r["lower"] == pytest.approx(2 - half)
    # arrays along an axis, and B = 0 falls back to the normal quantile
    r2 = rubin(np.ones((4, 3)), np.full((4, 3), 0.25))
    np.testing.assert_allclose(r2["upper"], 1 + 1.959964 * 0.5, rtol=1e-6)
    with pytest.raises(SatCO2Error, match="at least 2"):
        rubin([1.0], [0.1])


def test_crps_check_values():
    # Gaussian CRPS at the mean with sigma 1: 2 phi(0) - 1/sqrt(pi) = 0.2336950
    assert crps_gaussian(0.0, 1.0, 0.0) == pytest.approx(2 / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi))
    # scaling: CRPS(mu, s, y) = s CRPS(0, 1, (y - mu)/s); sigma 0 -> absolute error
    assert crps_gaussian(1.0, 2.0, 3.0) == pytest.approx(2 * crps_gaussian(0.0, 1.0, 1.0))
    assert crps_gaussian(1.0, 0.0, 3.0) == pytest.approx(2.0)
    # ensemble {0, 1} and y = 0: E|X-y| = 0.5, E|X-X'| = 0.5 -> 0.5 - 0.25 = 0.25
    assert crps_ensemble(np.array([[0.0], [1.0]]), np.array([0.0])) == pytest.approx(0.25)
    # a large ensemble at the normal quantiles approaches the closed form
    from scipy import stats

    ens = stats.norm.ppf((np.arange(4000) + 0.5) / 4000)[:, None]
    assert crps_ensemble(ens, np.array([0.5])) == pytest.approx(crps_gaussian(0, 1, 0.5), abs=2e-3)
    # fair CRPS (Ferro 2014 eq. 6), ensemble {0, 1}, y = 0: 0.5 - (1 / (2 * 2 * 1)) * 2 = 0
    assert crps_ensemble(np.array([[0.0], [1.0]]), np.array([0.0]), fair=True) == pytest.approx(0.0)
    # 8 members drawn from N(0, 1): the fair score is unbiased for the Gaussian's CRPS, the
    # standard one is too high by E|X - X'| / (2 m) = (2 / sqrt(pi)) / 16 = 0.0705
    draws = np.random.default_rng(0).standard_normal((8, 200_000))
    y = np.full(draws.shape[1], 0.5)
    assert crps_ensemble(draws, y, fair=True) == pytest.approx(crps_gaussian(0, 1, 0.5), abs=3e-3)
    assert crps_ensemble(draws, y) - crps_gaussian(0, 1, 0.5) == pytest.approx(1 / (8 * math.sqrt(math.pi)), abs=3e-3)


def test_metrics():
    assert mae([1, 2], [2, 4]) == 1.5
    assert pcc([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert np.isnan(pcc([1, 1], [1, 2]))


@pytest.mark.parametrize("protocol", sorted(MASKS))
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_masks_hide_the_requested_fraction(protocol, rate):
    observed = ~cloud_masks((24, 20, 20), cover=np.linspace(0.05, 0.6, 24), seed=1)
    observed[:, :4, :4] = False  # land
    hide = MASKS[protocol](observed, rate, np.random.default_rng(0))
    assert not (hide & ~observed).any()
    assert hide.sum() / observed.sum() == pytest.approx(rate, abs=0.03)
    if protocol == "clouds":
        # cloud-shaped: hidden pixels have mostly hidden or gap neighbours (not salt-and-pepper)
        h = hide[:, 5:-1, 5:-1]
        nb = hide[:, 4:-2, 5:-1] | ~observed[:, 4:-2, 5:-1]
        assert (h & nb).sum() / max(h.sum(), 1) > 0.6


def test_evaluate_imputation_loop():
    truth = chl_like_cube(nt=36, ny=12, nx=12, seed=2)
    cube = truth.where(~cloud_masks(truth.shape, cover=0.2, seed=3))
    table = evaluate_imputation(cube, {"dineof": lambda: DINEOF(nev=8)}, rates=(0.2, 0.6))
    assert list(table["rate"]) == [0.2, 0.6]
    assert (table["mae"] > 0).all() and (table["pcc"] > 0.8).all()
    assert (table["crps"] <= table["mae"] + 1e-12).all()  # a spread never hurts a Gaussian CRPS much
    with pytest.raises(SatCO2Error, match="protocol"):
        evaluate_imputation(cube, {}, protocol="uniform")
    with pytest.raises(SatCO2Error, match="between 0 and 1"):
        evaluate_imputation(cube, {}, rates=(1.0,))


def test_noise_floor_against_a_noise_free_reference():
    """With the noise-free field as reference, ``floor`` is the MAE of the noise itself at the
    hidden pixels (sigma * sqrt(2 / pi) for Gaussian noise, here sigma = 0.1 dex) and no method
    beats it; ``mae_ref`` is the error against the signal."""
    sigma = 0.1
    noisy = chl_like_cube(nt=48, ny=14, nx=14, seed=4, noise=sigma)
    clean = chl_like_cube(nt=48, ny=14, nx=14, seed=4, noise=0.0)
    mask = cloud_masks(noisy.shape, cover=0.3, seed=5)
    table = evaluate_imputation(noisy.where(~mask), {"dineof": lambda: DINEOF(nev=8)}, rates=(0.5,),
                                reference=clean)
    row = table.iloc[0]
    n_hidden = 0.5 * (~mask).sum()
    # the sample mean of |N(0, sigma^2)| over n points: standard error sigma sqrt(1 - 2/pi) / sqrt(n)
    assert abs(row["floor"] - sigma * np.sqrt(2 / np.pi)) < 4 * sigma * 0.6 / np.sqrt(n_hidden)
    assert row["mae"] > row["floor"]
    assert row["mae_ref"] < row["mae"]
    with pytest.raises(SatCO2Error, match="reference has shape"):
        evaluate_imputation(noisy, {}, rates=(0.5,), reference=clean.isel(time=slice(0, 10)))


@pytest.mark.parametrize("policy", ["exclude", "nearest"])
def test_pixels_that_lose_every_observation_are_counted_never_nan(policy):
    """Pixels whose few observations are all hidden are dropped by the filler (as land): the
    score is never NaN; the table counts the unfilled points and says whether they were given
    the nearest filled pixel's value (and scored) or left out of every method's score."""
    truth = chl_like_cube(nt=36, ny=12, nx=12, seed=2)
    cube = truth.where(~cloud_masks(truth.shape, cover=0.2, seed=3))
    sparse = np.zeros(cube.shape, dtype=bool)
    sparse[:, 1:11, 10] = True  # ten pixels of column 10 ...
    sparse[5, 1:11, 10] = False  # ... observed once only
    cube = cube.where(~sparse)
    cube[5, 1:11, 10] = truth[5, 1:11, 10]
    table = evaluate_imputation(cube, {"a": lambda: DINEOF(nev=4), "b": lambda: DINEOF(nev=2)},
                                rates=(0.9,), unfilled=policy)
    for col in ("mae", "rmse", "bias", "pcc", "crps", "crps_fair"):
        assert np.isfinite(table[col]).all(), col
    assert (table["n_unfilled"] > 0).all() and (table["unfilled"] == policy).all()
    if policy == "exclude":
        assert (table["n_fallback"] == 0).all()
        assert (table["n_excluded"] == table["n_unfilled"]).all()
    else:
        assert (table["n_fallback"] == table["n_unfilled"]).all() and (table["n_excluded"] == 0).all()
    assert (table["n_scored"] == table["n_hidden"] - table["n_excluded"]).all()
    with pytest.raises(SatCO2Error, match="unfilled-point policy"):
        evaluate_imputation(cube, {}, rates=(0.5,), unfilled="zero")
