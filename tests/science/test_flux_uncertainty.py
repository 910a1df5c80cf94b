"""Budget uncertainty: <U^2>, end-member draws from stated uncertainties, the crossed ensemble on
the demo store, and the variance decomposition against a design with known contributions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import satco2
from satco2.analyses import pco2_flux
from satco2.science import air_sea_flux
from satco2.science import flux_uncertainty as fu
from satco2.science import mesaa, regions


def test_decompose_recovers_known_main_effects():
    """B = a[k] + b[wind] + c[draw] (additive): each contribution is the population variance of
    its effect, no interactions, sigma^2 = the sum; a one-level source contributes 0."""
    a = np.array([-0.3, 0.1, 0.0, 0.2])
    b = np.array([0.5, -0.5])
    c = np.random.default_rng(0).normal(0, 0.2, 16)
    B = (a[None, None, None, :] + b[:, None, None, None] + c[None, None, :, None]) - 1.0
    da = xr.DataArray(B, dims=("wind", "xco2", "draw", "k_param"))
    r = fu.decompose(da)
    assert r["mean"] == pytest.approx(-1.0 + a.mean() + b.mean() + c.mean())
    assert r["contributions"]["k_param"]["variance"] == pytest.approx(a.var())
    assert r["contributions"]["wind"]["variance"] == pytest.approx(b.var())
    assert r["contributions"]["draw"]["variance"] == pytest.approx(c.var())
    assert r["contributions"]["xco2"]["variance"] == 0.0
    assert r["interactions"] == pytest.approx(0.0, abs=1e-12)
    assert r["sigma"] == pytest.approx(np.sqrt(a.var() + b.var() + c.var()))
    # an interaction shows up as such
    da2 = da + xr.DataArray(np.outer([1, -1], [1, -1, 1, -1]) * 0.1, dims=("wind", "k_param"))
    assert fu.decompose(da2)["interactions"] == pytest.approx(0.01)


def test_wind_second_moment_by_hand():
    t = pd.date_range("2010-01-01", "2010-02-28", freq="6h")
    u = xr.DataArray(np.random.default_rng(1).gamma(4, 2, t.size), dims="time", coords={"time": t})
    m2 = fu.wind_second_moment(u)
    jan = u.sel(time="2010-01").values
    assert float(m2.sel(time="2010-01-01")) == pytest.approx((jan ** 2).mean())
    assert float(fu.rms_wind(u).sel(time="2010-01-01")) == pytest.approx(np.sqrt((jan ** 2).mean()))
    c2 = fu.c2_factor(u)
    assert (c2 > 1).all() and float(c2[0]) == pytest.approx((jan ** 2).mean() / jan.mean() ** 2)
    assert float(fu.c2_factor(u * 0 + 7.0)[0]) == pytest.approx(1.0)


@pytest.fixture()
def config_with_uncertainties(tmp_path):
    """The ecs MeSAA configuration with 1-sigma uncertainties on the ocean end member: TA 8.6
    umol kg-1 (the standard error of Lee et al. 2006 the config cites) and DIC 10 umol kg-1 (a
    TEST value, not a literature one)."""
    doc = yaml.safe_load((mesaa.config_dir() / "ecs.yaml").read_text())
    doc["end_members"]["ocean"]["ta"]["uncertainty"] = 8.6
    doc["end_members"]["ocean"]["dic"]["uncertainty"] = 10.0
    p = tmp_path / "ecs_unc.yaml"
    p.write_text(yaml.safe_dump(doc))
    return mesaa.load_config(p)


def test_draws_follow_the_stated_uncertainties(config_with_uncertainties):
    cfg = config_with_uncertainties
    assert fu.end_member_sigmas(cfg) == {"ta_ocean": 8.6, "dic_ocean": 10.0}
    draws = fu.draw_configs(cfg, 400, seed=3)
    ta = np.array([c.ta_ocean for c in draws])
    assert ta.mean() == pytest.approx(cfg.ta_ocean, abs=3 * 8.6 / 20) and ta.std() == pytest.approx(8.6, rel=0.15)
    assert {c.ta_river for c in draws} == {cfg.ta_river}  # no stated uncertainty: not drawn
    plain = mesaa.load_config("ecs")
    assert fu.draw_configs(plain, 10) == [plain]  # nothing stated, nothing invented
    with pytest.raises(satco2.SatCO2Error, match="unknown end-member fields"):
        fu.draw_configs(plain, 3, sigmas={"ta_sea": 1.0})


@pytest.mark.slow
def test_ensemble_on_the_demo_store(demo_store, config_with_uncertainties):
    """Two winds x one xCO2 record x 3 end-member draws x 4 k on the Changjiang estuary in
    July-August 2010: every source contributes, the parts add up to the variance. The demo's
    ECS footprint holds one wind product (CCMP); the second is a SYNTHETIC stand-in, CCMP x 1.1."""
    bbox, time = regions.bbox("changjiang_estuary"), ("2010-07", "2010-08")
    ccmp = pco2_flux.open_inputs(bbox=bbox, time=time, wind_product="ccmp")
    other = {**ccmp, "wind": (ccmp["wind"] * 1.1).assign_attrs(ccmp["wind"].attrs)}
    inputs = {"ccmp": {"noaa-gml": ccmp}, "ccmp_x1.1": {"noaa-gml": other}}
    draws = fu.draw_configs(config_with_uncertainties, 3, seed=1)
    b = fu.ensemble_budgets(inputs, draws, region="changjiang_estuary")
    assert b.dims == ("wind", "xco2", "draw", "k_param") and b.shape == (2, 1, 3, 4)
    assert np.isfinite(b).all()
    r = fu.decompose(b)
    c = r["contributions"]
    assert c["k_param"]["variance"] > 0 and c["wind"]["variance"] > 0 and c["draw"]["variance"] > 0
    assert c["xco2"]["variance"] == 0.0
    assert sum(v["variance"] for v in c.values()) + r["interactions"] == pytest.approx(r["variance"])
    # the central member equals the pco2_flux path (same inputs, k, configuration)
    ds = air_sea_flux.compute_products(inputs["ccmp"]["noaa-gml"], mesaa_config=draws[0])
    direct = air_sea_flux.regional_summary(ds, air_sea_flux.region_weights("changjiang_estuary", ds)).budget
    assert float(b.sel(wind="ccmp", draw=0, k_param="W14")[0]) == pytest.approx(
        float(direct.sel(k_param="W14").mean("time")), rel=1e-9)


@pytest.mark.slow
def test_a_pco2_flux_run_writes_its_budget_uncertainty(demo_store, tmp_path, config_with_uncertainties):
    """run_analysis writes pco2_flux_uncertainty.json over parameterization x wind product x xCO2
    record: the demo holds two winds for the region (CCMP and the ERA5 stand-in; WindSat is not in
    its ECS footprint, so it is listed as unavailable) and two xCO2 records (NOAA GML marine surface
    and Mauna Loa). The run's own member equals its regional summary; Mauna Loa's higher xCO2
    lowers the budget (more uptake); every source that varies contributes."""
    import json

    out = tmp_path / "run"
    out.mkdir()
    res = pco2_flux.run_analysis("changjiang_estuary", "2010-07", "2010-08", out)
    unc = json.loads((out / pco2_flux.UNCERTAINTY_FILE).read_text())
    k = res["summary"].budget.sel(region="changjiang_estuary").mean("time").values
    assert unc["n_members"] == 16 and unc["end_member_draws"] == 1 and unc["region"] == "changjiang_estuary"
    assert unc["levels"]["wind"] == ["ccmp", "era5"] and unc["levels"]["xco2"] == ["noaa-gml", "noaa-mlo"]
    assert unc["products"]["wind"]["era5"] == "extra-ssw-era5-25km"
    assert "windsat" in unc["unavailable"] and "global-ssw-windsat-25km" in unc["unavailable"]["windsat"]
    b = xr.DataArray(np.array(unc["budgets"]["values"]), dims=unc["budgets"]["dims"],
                     coords={d: unc["levels"][d] for d in ("wind", "xco2", "k_param")})
    np.testing.assert_allclose(b.sel(wind="ccmp", xco2="noaa-gml", draw=0).values, k, rtol=1e-6)
    assert (b.sel(xco2="noaa-mlo") < b.sel(xco2="noaa-gml")).all()
    c = unc["contributions"]
    assert c["k_param"]["variance"] > 0 and c["wind"]["variance"] > 0 and c["xco2"]["variance"] > 0
    assert c["draw"]["variance"] == 0.0
    assert unc["mean"] == pytest.approx(float(b.mean()), rel=1e-9)
    assert sum(v["variance"] for v in c.values()) + unc["interactions"] == pytest.approx(unc["variance"])
    # one wind and one record asked for: the four parameterizations of the run's summary
    inputs = pco2_flux.open_inputs(bbox=regions.bbox("changjiang_estuary"), time=("2010-07", "2010-08"))
    u1 = pco2_flux.budget_uncertainty(res["summary"].sel(region="changjiang_estuary"), inputs,
                                      mesaa.load_config("ecs"), "changjiang_estuary", "ccmp",
                                      bbox=regions.bbox("changjiang_estuary"), time=("2010-07", "2010-08"),
                                      winds=["ccmp"], xco2_records=["noaa-gml"])
    assert u1["n_members"] == 4 and u1["sigma"] == pytest.approx(float(np.std(k)), rel=1e-6)
    assert u1["contributions"]["k_param"]["share"] == pytest.approx(1.0)
    # stated end-member uncertainties: drawn and recomputed (3 draws x 4 k)
    u2 = pco2_flux.budget_uncertainty(None, inputs, config_with_uncertainties, "changjiang_estuary", "ccmp",
                                      n_draws=3)
    assert u2["n_members"] == 12 and u2["contributions"]["draw"]["variance"] > 0


@pytest.mark.slow
def test_members_are_computed_on_the_runs_grid(demo_store):
    """With ``resolution`` a run regrids onto the region's box (``bbox``); the ensemble members do
    the same, so its own member equals the run's budget even when the inputs extend beyond the box
    (before, the members were regridded over the inputs' extent: another grid)."""
    region, period = "changjiang_estuary", ("2010-07", "2010-07")
    bbox = regions.bbox(region)
    wider = (bbox[0] - 0.5, bbox[1] - 0.5, bbox[2] + 0.5, bbox[3] + 0.5)
    inputs = pco2_flux.open_inputs(bbox=wider, time=period)
    cfg = mesaa.load_config("ecs")
    ds = air_sea_flux.compute_products(inputs, mesaa_config=cfg, resolution=0.3, bbox=bbox)
    k = air_sea_flux.regional_summary(ds, air_sea_flux.region_weights(region, ds)).budget.mean("time").values
    unc = pco2_flux.budget_uncertainty(None, inputs, cfg, region, "ccmp", resolution=0.3, bbox=bbox,
                                       time=period, winds=["ccmp"], xco2_records=["noaa-gml", "noaa-mlo"])
    assert unc["levels"]["xco2"] == ["noaa-gml", "noaa-mlo"] and unc["n_members"] == 8
    b = np.array(unc["budgets"]["values"])  # (wind, xco2, draw, k_param)
    np.testing.assert_allclose(b[0, 0, 0], k, rtol=1e-6)
    with pytest.raises(satco2.SatCO2Error, match="unknown xCO2 record 'mlo'"):
        pco2_flux.budget_uncertainty(None, inputs, cfg, region, "ccmp", bbox=bbox, time=period, xco2_records=["mlo"])
