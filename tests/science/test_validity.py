"""The one validity-range mechanism (satco2.science.validity) and its users."""
import warnings

import numpy as np
import pytest

import satco2
from satco2.science import gas_exchange as ge
from satco2.science import validity


def test_check_counts_and_names_what_is_outside():
    with pytest.warns(satco2.ValidityWarning, match=r"src: x has 2 of 4 value\(s\) outside the validated range 0..10"):
        n = validity.check("src", "x", np.array([-1.0, 5.0, 11.0, np.nan, 3.0]), 0.0, 10.0)
    assert n == 2


def test_inside_and_nan_only_values_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validity.check("src", "x", np.array([0.0, 10.0, np.nan]), 0.0, 10.0) == 0
        assert validity.check("src", "x", np.array([np.nan, np.nan]), 0.0, 10.0) == 0
        assert validity.check("src", "x", np.array([]), 0.0, 10.0) == 0


def test_valid_decorator_keeps_ranges_and_warns_at_the_caller():
    @validity.valid(a=(0.0, 1.0))
    def f(a, b=0.0):
        return a

    assert f.validity == {"a": (0.0, 1.0)}
    with pytest.warns(satco2.ValidityWarning, match="f: a has 1 of 2") as rec:
        f(np.array([0.5, 2.0]), b=5.0)
    assert rec[0].filename == __file__


def test_fused_kernel_takes_its_coefficients_from_the_functions_constants(monkeypatch):
    """Each empirical coefficient is written once: changing the Schmidt-number and K0 constants
    changes the reference functions and the numba kernel alike."""
    rng = np.random.default_rng(1)
    t, s, u, dp = rng.uniform(5, 25, 50), rng.uniform(30, 35, 50), rng.uniform(2, 12, 50), rng.uniform(-50, 50, 50)
    before = ge.flux_fast(t, s, u, dp)
    monkeypatch.setattr(ge, "SC_W14_COEFFICIENTS", (1000.0, -40.0, 1.0, -0.01, 0.0))
    monkeypatch.setattr(ge, "K0_W74_COEFFICIENTS", (-60.0, 93.0, 23.0, 0.02, -0.02, 0.004))
    monkeypatch.setattr(ge, "K_COEFFICIENTS", {**ge.K_COEFFICIENTS, "W14": (0.3, 0.1, 600.0)})
    monkeypatch.setattr(ge, "_KERNELS", None)  # recompile with the changed constants
    ref = ge.flux_kernel(t, s, u, dp)
    np.testing.assert_allclose(ge.flux_fast(t, s, u, dp), ref, rtol=1e-12)
    assert not np.allclose(ref, before, rtol=1e-3)


def test_fused_kernels_check_the_functions_ranges():
    assert ge._FLUX_RANGES["t_C"] == ge.K0_W74.validity["t_C"]
    with pytest.warns(satco2.ValidityWarning, match="flux: t_C has 1 of 2"):
        ge.flux_fast(np.array([20.0, 45.0]), np.array([35.0, 35.0]), np.array([5.0, 5.0]), np.array([1.0, 1.0]))
    with pytest.warns(satco2.ValidityWarning, match="pco2_air: s has 1 of 1"):
        ge.pco2_air_fast(np.array([400.0]), np.array([101325.0]), np.array([20.0]), np.array([45.0]))
