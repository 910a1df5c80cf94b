"""Uncertainty of a regional air-sea CO2 budget: an ensemble over its sources, and who contributes.

Sources (dimensions of the ensemble, :data:`SOURCES`):

- ``k_param``: the gas-transfer parameterization (W14, W92, N00, H06 of
  :data:`satco2.science.gas_exchange.K_PARAMETERIZATIONS`);
- ``wind``: the wind product (e.g. CCMP, WindSat), each where possible as the second moment
  ⟨U²⟩ of the finest winds available (:func:`rms_wind`): k ∝ U² must be averaged as ⟨U²⟩, not
  ⟨U⟩², or monthly fluxes are biased low (Wanninkhof et al. 2002, "The effect of using
  time-averaged winds on regional air-sea CO2 fluxes", Geophys. Monogr. 127:351-356;
  Wanninkhof 2014, L&O Methods 12:351, eq. 4 written with ⟨U²⟩);
- ``xco2``: the atmospheric xCO2 record;
- ``draw``: Monte Carlo draws of the MeSAA end members from the uncertainties (1σ) the MeSAA
  configuration states (an ``uncertainty`` entry beside a ``value`` in ``catalogs/mesaa/*.yaml``,
  :func:`end_member_sigmas`), Gaussian and independent (:func:`draw_configs`). A configuration
  that states none gives one member (no draw): no uncertainty is invented.

:func:`ensemble_budgets` evaluates the crossed design (every wind × xCO2 × draw, all four k at
once) into a DataArray of period-mean budgets (Tg C yr-1); :func:`decompose` reports mean ± σ
(all members equally likely) and each source's first-order contribution Var(E[B | source])
(the variance of the means over that source's levels: Sobol' 1993, Math. Model. Comput.
Exp. 1:407, first-order index × Var(B)),
with the rest as ``interactions``.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from .. import SatCO2Error
from . import air_sea_flux

SOURCES = ("k_param", "wind", "xco2", "draw")
"""Dimensions of the budget ensemble (see the module docstring)."""

END_MEMBER_FIELDS = {
    "river.salinity": "s_river", "river.ta": "ta_river", "river.dic": "dic_river",
    "ocean.salinity": "s_ocean", "ocean.ta": "ta_ocean", "ocean.dic": "dic_ocean",
}
"""MeSAA configuration entries -> :class:`~satco2.science.mesaa.MesaaConfig` fields."""


def wind_second_moment(u: xr.DataArray, freq: str = "MS") -> xr.DataArray:
    """⟨U²⟩ (m2 s-2) over each period ``freq`` (pandas offset, default calendar months, labelled
    at the period start) of finer winds ``u`` (m s-1, dim ``time``)."""
    return (u ** 2).resample(time=freq).mean().assign_attrs(
        units="m2 s-2", long_name="second moment of the 10-m wind speed <U^2>")


def rms_wind(u: xr.DataArray, freq: str = "MS") -> xr.DataArray:
    """sqrt(⟨U²⟩) (m s-1) per period: the wind to give a k ∝ U² parameterization so that it uses
    ⟨U²⟩ (exact for W14, W92, H06; for N00's linear term it uses sqrt⟨U²⟩ ≥ ⟨U⟩)."""
    out = np.sqrt(wind_second_moment(u, freq))
    return out.assign_attrs({**u.attrs, "units": "m s-1",
                             "long_name": "root mean square 10-m wind speed sqrt(<U^2>)",
                             "cell_methods": f"time: root_mean_square (from {u.sizes['time']} finer steps)"})


def c2_factor(u: xr.DataArray, freq: str = "MS") -> xr.DataArray:
    """⟨U²⟩ / ⟨U⟩² per period (≥ 1): by how much a flux from the mean wind underestimates k ∝ U²
    (Wanninkhof et al. 2002)."""
    m = u.resample(time=freq).mean()
    return (wind_second_moment(u, freq) / m ** 2).assign_attrs(units="1")


def end_member_sigmas(cfg) -> dict[str, float]:
    """The 1σ uncertainties the MeSAA configuration states (``uncertainty`` next to ``value``),
    MesaaConfig field -> σ in the entry's units."""
    out = {}
    for entry, fld in END_MEMBER_FIELDS.items():
        u = cfg.provenance.get(entry, {}).get("uncertainty")
        if u is not None:
            try:
                out[fld] = float(u)
            except (TypeError, ValueError):
                raise SatCO2Error(f"MeSAA configuration {cfg.name}: the uncertainty of {entry} "
                                  f"is not a number ({u!r})") from None
            if out[fld] < 0:
                raise SatCO2Error(f"MeSAA configuration {cfg.name}: the uncertainty of {entry} is negative")
    return out


def draw_configs(cfg, n: int, seed: int = 0, sigmas: dict[str, float] | None = None) -> list:
    """``n`` MeSAA configurations with end members drawn from N(value, σ²), independently
    (``sigmas``: field -> σ, default :func:`end_member_sigmas`). Without any σ: ``[cfg]``.
    A draw whose ocean salinity does not exceed the river's is redrawn."""
    sig = end_member_sigmas(cfg) if sigmas is None else dict(sigmas)
    bad = [k for k in sig if k not in END_MEMBER_FIELDS.values()]
    if bad:
        raise SatCO2Error(f"unknown end-member fields {bad}; choose among {', '.join(END_MEMBER_FIELDS.values())}")
    if not sig or n < 1:
        return [cfg]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        new = {k: float(getattr(cfg, k) + rng.normal(0.0, s)) for k, s in sig.items()}
        c = dataclasses.replace(cfg, name=f"{cfg.name}+draw{len(out)}", **new)
        if c.s_ocean > c.s_river:
            out.append(c)
    return out


def ensemble_budgets(inputs: dict, configs: list, region: str | None = None,
                     resolution: float | None = None, bbox=None) -> xr.DataArray:
    """Period-mean regional budget (Tg C yr-1, + = source) of every member.

    ``inputs``: ``{wind name: {xco2 name: role -> DataArray}}`` (the inputs of
    :func:`satco2.science.air_sea_flux.compute_products`; put :func:`rms_wind` in ``"wind"`` where
    finer winds exist); ``configs``: MeSAA configurations (:func:`draw_configs`); ``region``:
    a region name (its cell fractions, :func:`satco2.science.air_sea_flux.region_weights`; None:
    every cell); ``resolution``, ``bbox``: the output grid, as in
    :func:`~satco2.science.air_sea_flux.compute_products` (give the run's, so that the members
    are computed on its grid). Returns a DataArray
    with dims ``wind, xco2, draw, k_param``."""
    winds = list(inputs)
    xco2s = list(next(iter(inputs.values())))
    out = None
    for a, w in enumerate(winds):
        for b, x in enumerate(xco2s):
            if x not in inputs[w]:
                raise SatCO2Error(f"the ensemble inputs of wind {w!r} have no xCO2 source {x!r}")
            for d, cfg in enumerate(configs):
                ds = air_sea_flux.compute_products(inputs[w][x], mesaa_config=cfg, resolution=resolution,
                                                  bbox=bbox)
                wt = air_sea_flux.region_weights(region, ds) if region else None
                s = air_sea_flux.regional_summary(ds, wt).budget.mean("time").compute()
                if out is None:
                    out = xr.DataArray(np.full((len(winds), len(xco2s), len(configs), s.sizes["k_param"]), np.nan),
                                       dims=("wind", "xco2", "draw", "k_param"),
                                       coords={"wind": winds, "xco2": xco2s, "draw": np.arange(len(configs)),
                                               "k_param": s.k_param.values})
                out[a, b, d, :] = s.values
    return out.assign_attrs(units="Tg C yr-1", long_name="regional budget, period mean",
                            end_member_configs=", ".join(c.name for c in configs))


def decompose(budgets: xr.DataArray) -> dict:
    """Mean ± σ of an ensemble (every member equally likely) and each source's first-order
    contribution to the variance: Var over the source's levels of the mean over the other
    dimensions (population variances); ``interactions`` = Var(B) − their sum. A source with one
    level contributes 0. Returns ``{"mean", "sigma", "variance", "contributions": {dim:
    {"variance", "sigma", "share"}}, "interactions"}``."""
    b = budgets
    if b.isnull().any():
        raise SatCO2Error("the budget ensemble has missing members (NaN)")
    var = float(b.var())
    contrib = {}
    for dim in b.dims:
        others = [d for d in b.dims if d != dim]
        v = float(b.mean(others).var()) if b.sizes[dim] > 1 else 0.0
        contrib[str(dim)] = {"variance": v, "sigma": float(np.sqrt(v)),
                             "share": v / var if var > 0 else 0.0}
    return {"mean": float(b.mean()), "sigma": float(np.sqrt(var)), "variance": var,
            "n_members": int(b.size), "contributions": contrib,
            "interactions": var - sum(c["variance"] for c in contrib.values())}
