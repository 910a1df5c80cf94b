"""MeSAA: the Mechanistic Semi-Analytical Algorithm for sea-surface pCO2 (Bai et al. 2015).

Bai, Y., Cai, W.-J., He, X., et al. (2015), J. Geophys. Res. Oceans 120,
doi:10.1002/2014JC010632: surface pCO2 is the sum of a thermodynamic + mixing term and a
biological term (structure as restated by Chen et al. 2017, Cont. Shelf Res. 151:94-110)::

    pCO2 = pCO2_mix(SST, SSS) + dpCO2_bio(Chl)                                     [µatm]
    f_r  = (S_oc - S) / (S_oc - S_r)                       river fraction (conservative mixing)
    TA   = f_r TA_r + (1 - f_r) TA_oc,  DIC likewise                               [µmol kg-1]
    pCO2_mix = CO2SYS(TA, DIC, S, SST)                     through PyCO2SYS (a dependency)

End members, carbonate constants and the bio term are per-region configuration
(``catalogs/mesaa/<region>.yaml``, every number with its citation or a ``needs_citation`` flag):
Bai et al. (2015)'s own values were not found, so the defaults are SUBSTITUTEs (see
docs/pco2-flux.md). :func:`fit_end_members` and :func:`fit_bio_term` re-tune a region from data.

Speed: the mixing term depends on (S, T) only once the end members are fixed, so it is tabulated
once with PyCO2SYS on a fine (S, T) grid and interpolated bilinearly in ln pCO2
(:class:`MixingTable`; the look-up-table approach of Lü et al. 2018 for the Pearl River). The
exact per-pixel PyCO2SYS path is :func:`pco2_mix_exact`; a test bounds their difference.

The bio term is pluggable: :data:`BIO_TERMS` maps a form name to ``f(chl, **coefficients)``.
Everything on xarray objects is lazy (``xr.apply_ufunc(..., dask="parallelized")``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .. import SatCO2Error, config, io
from . import validity

# ----------------------------------------------------------------------------------------------
# configuration


@dataclass
class MesaaConfig:
    """Values of one region's MeSAA configuration (units: µmol kg-1, µatm, PSS-78, °C, mg m-3)."""

    name: str
    s_river: float
    ta_river: float
    dic_river: float
    s_ocean: float
    ta_ocean: float
    dic_ocean: float
    bio_form: str
    bio_coefficients: dict[str, float]
    opt_k_carbonic: int = 4
    validity: dict[str, tuple[float, float]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def as_attrs(self) -> dict[str, Any]:
        """Flat, netCDF-safe attributes describing this configuration (for provenance)."""
        out = {
            "mesaa_region_config": self.name,
            "mesaa_end_member_river": f"S={self.s_river} TA={self.ta_river} DIC={self.dic_river}",
            "mesaa_end_member_ocean": f"S={self.s_ocean} TA={self.ta_ocean} DIC={self.dic_ocean}",
            "mesaa_bio_term": f"{self.bio_form} {self.bio_coefficients}",
            "mesaa_opt_k_carbonic": int(self.opt_k_carbonic),
        }
        flagged = sorted(k for k, v in self.provenance.items() if v.get("needs_citation"))
        if flagged:
            out["mesaa_needs_citation"] = ", ".join(flagged)
        return out


def config_dir() -> Path:
    return config.catalog_dir() / "mesaa"


def _leaf(node, key: str, prov: dict, where: str):
    if not isinstance(node, dict) or "value" not in node:
        raise SatCO2Error(f"MeSAA config {where}: entry {key!r} needs a 'value'")
    if not (node.get("citation") or node.get("needs_citation")):
        raise SatCO2Error(
            f"MeSAA config {where}: entry {key!r} has neither a citation nor needs_citation: true"
        )
    prov[key] = {k: v for k, v in node.items() if k != "value"}
    return node["value"]


def load_config(region_or_path: str | Path = "ecs", **overrides) -> MesaaConfig:
    """Read ``catalogs/mesaa/<region>.yaml`` (or a YAML path) into a :class:`MesaaConfig`.

    ``overrides`` replace fields by name (e.g. ``ta_ocean=2280``, ``bio_coefficients={...}``) and
    are recorded in the provenance as ``user override``.
    """
    p = Path(region_or_path)
    if not p.suffix:
        p = config_dir() / f"{region_or_path}.yaml"
    if not p.is_file():
        have = sorted(x.stem for x in config_dir().glob("*.yaml"))
        raise SatCO2Error(f"no MeSAA configuration {str(region_or_path)!r}; available: {have}")
    try:
        doc = config.load_yaml(p, "MeSAA configuration")
        prov: dict[str, Any] = {}
        em, bio, val = doc["end_members"], doc["bio"], doc.get("validity", {})
        kw = {}
        for side, tag in (("river", "river"), ("ocean", "ocean")):
            kw[f"s_{tag}"] = float(_leaf(em[side]["salinity"], f"{side}.salinity", prov, p.name))
            kw[f"ta_{tag}"] = float(_leaf(em[side]["ta"], f"{side}.ta", prov, p.name))
            kw[f"dic_{tag}"] = float(_leaf(em[side]["dic"], f"{side}.dic", prov, p.name))
        coefs = {k: float(_leaf(v, f"bio.{k}", prov, p.name)) for k, v in bio["coefficients"].items()}
        opt = int(_leaf(doc["carbonate"]["opt_k_carbonic"], "opt_k_carbonic", prov, p.name))
        validity = {k: tuple(float(x) for x in _leaf(v, f"validity.{k}", prov, p.name))
                    for k, v in val.items()}
        cfg = MesaaConfig(name=doc.get("name", p.stem), bio_form=bio["form"], bio_coefficients=coefs,
                          opt_k_carbonic=opt, validity=validity, provenance=prov, **kw)
    except (KeyError, TypeError, ValueError) as e:
        raise SatCO2Error(f"MeSAA configuration {p} is malformed ({type(e).__name__}: {e})") from None
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise SatCO2Error(f"unknown MeSAA configuration field {k!r}")
        setattr(cfg, k, v)
        cfg.provenance[k] = {"citation": "user override"}
    if cfg.bio_form not in BIO_TERMS:
        raise SatCO2Error(f"MeSAA bio term form {cfg.bio_form!r} is not one of {sorted(BIO_TERMS)}")
    if not cfg.s_ocean > cfg.s_river:
        raise SatCO2Error("MeSAA ocean end-member salinity must exceed the river end member's")
    return cfg


# ----------------------------------------------------------------------------------------------
# carbonate chemistry and mixing


def carbonate_pco2(ta, dic, s, t_C, opt_k_carbonic: int = 4):
    """pCO2 (µatm) of seawater from TA and DIC (µmol kg-1), salinity and temperature (°C) with
    PyCO2SYS (Humphreys et al. 2022, GMD 15:15-43); ``opt_k_carbonic`` picks K1, K2.

    Uses PyCO2SYS's minimal solver path (``salts.assemble``, ``equilibria.assemble``,
    ``solve.get.pHfromTATC``, the same calls as ``PyCO2SYS.minimal``) with its defaults
    (total scale, Uppström borate, Dickson KSO4, CODATA 2018 R), then
    pCO2 = [CO2*] / K0 / fugacity factor; a test checks equality with ``PyCO2SYS.sys``.
    About 5x faster than ``sys``, which also computes every other output.
    """
    from PyCO2SYS import equilibria, salts, solve

    ta, dic, s, t = np.broadcast_arrays(*(np.asarray(x, float) for x in (ta, dic, s, t_C)))
    out = np.full(ta.shape, np.nan)
    ok = np.isfinite(ta) & np.isfinite(dic) & np.isfinite(s) & np.isfinite(t)
    if ok.any():
        S, T, A, C = s[ok], t[ok], ta[ok] * 1e-6, dic[ok] * 1e-6
        totals = salts.assemble(S, 0.0, 0.0, 0.0, 0.0, opt_k_carbonic, 1)
        k = equilibria.assemble(T, 0.0, totals, 1, opt_k_carbonic, 1, 1, 3,
                                pressure_atmosphere=1.0, opt_pressured_kCO2=0)
        H = 10.0 ** -solve.get.pHfromTATC(A, C, totals, k)
        co2 = C * H**2 / (H**2 + k["K1"] * H + k["K1"] * k["K2"])
        out[ok] = co2 / k["K0"] / k["FugFac"] * 1e6
    return out


def mix(s, cfg: MesaaConfig):
    """Conservative two-end-member mixing: (TA, DIC) in µmol kg-1 at salinity ``s``."""
    s = np.asarray(s, float)
    fr = (cfg.s_ocean - s) / (cfg.s_ocean - cfg.s_river)
    return fr * cfg.ta_river + (1 - fr) * cfg.ta_ocean, fr * cfg.dic_river + (1 - fr) * cfg.dic_ocean


def pco2_mix_exact(sst, sss, cfg: MesaaConfig):
    """Thermodynamic + mixing pCO2 (µatm), one PyCO2SYS solve per value (slow reference path)."""
    ta, dic = mix(sss, cfg)
    return carbonate_pco2(ta, dic, sss, sst, cfg.opt_k_carbonic)


class MixingTable:
    """ln pCO2_mix tabulated on an (S, T) grid with PyCO2SYS, interpolated bilinearly.

    Grid: S from the river to the ocean end member (clipped into it: salinities outside the
    mixing line are evaluated at its end) in ``ds`` steps, T from ``t_range`` in ``dt`` steps.
    """

    def __init__(self, cfg: MesaaConfig, ds: float = 0.25, dt: float = 0.25,
                 t_range: tuple[float, float] = (-2.0, 40.0)):
        self.s = np.arange(cfg.s_river, cfg.s_ocean + ds / 2, ds)
        self.s[-1] = cfg.s_ocean
        self.t = np.arange(t_range[0], t_range[1] + dt / 2, dt)
        S, T = np.meshgrid(self.s, self.t, indexing="ij")
        self.lnp = np.log(pco2_mix_exact(T.ravel(), S.ravel(), cfg)).reshape(S.shape)

    def __call__(self, sst, sss):
        sst = np.asarray(sst, float)
        sss = np.asarray(sss, float)
        s = np.clip(sss, self.s[0], self.s[-1])
        t = np.clip(sst, self.t[0], self.t[-1])
        fi = (s - self.s[0]) / (self.s[1] - self.s[0])
        fj = (t - self.t[0]) / (self.t[1] - self.t[0])
        bad = ~(np.isfinite(fi) & np.isfinite(fj))
        fi = np.where(bad, 0.0, fi)
        fj = np.where(bad, 0.0, fj)
        i = np.clip(np.floor(fi).astype(np.intp), 0, self.s.size - 2)
        j = np.clip(np.floor(fj).astype(np.intp), 0, self.t.size - 2)
        wi, wj = fi - i, fj - j
        L = self.lnp
        v = ((1 - wi) * (1 - wj) * L[i, j] + wi * (1 - wj) * L[i + 1, j]
             + (1 - wi) * wj * L[i, j + 1] + wi * wj * L[i + 1, j + 1])
        out = np.exp(v)
        out[bad] = np.nan
        return out


_TABLES: dict[tuple, MixingTable] = {}


def mixing_table(cfg: MesaaConfig) -> MixingTable:
    """The (cached) :class:`MixingTable` of a configuration's end members and constants."""
    key = (cfg.s_river, cfg.ta_river, cfg.dic_river, cfg.s_ocean, cfg.ta_ocean, cfg.dic_ocean,
           cfg.opt_k_carbonic)
    if key not in _TABLES:
        _TABLES[key] = MixingTable(cfg)
    return _TABLES[key]


# ----------------------------------------------------------------------------------------------
# biological term (pluggable)


def bio_log10(chl, a: float, b: float):
    """dpCO2_bio = a + b log10(Chl), µatm (Chl in mg m-3). Form SUBSTITUTE: Bai et al. (2015)
    parameterize the bio term with Chl (doi:10.1002/2014JC010632, abstract) but its form was not
    found in the material read."""
    return a + b * np.log10(np.asarray(chl, float))


def bio_linear(chl, a: float, b: float):
    """dpCO2_bio = a + b Chl, µatm (Chl in mg m-3)."""
    return a + b * np.asarray(chl, float)


def bio_none(chl):
    """No biological term (thermodynamics + mixing only), µatm."""
    return np.zeros_like(np.asarray(chl, float))


BIO_TERMS = {"log10": bio_log10, "linear": bio_linear, "none": bio_none}
"""Biological-term forms, name -> ``f(chl [mg m-3], **coefficients) -> dpCO2 [µatm]``."""

_BIO_DESIGN = {
    "log10": lambda chl: np.column_stack([np.ones_like(chl), np.log10(chl)]),
    "linear": lambda chl: np.column_stack([np.ones_like(chl), chl]),
}


FITTABLE_BIO_TERMS = tuple(_BIO_DESIGN)
"""Bio-term forms that :func:`fit_bio_term` can fit (linear least squares)."""


def fit_bio_term(pco2_obs, pco2_mix_values, chl, form: str = "log10") -> dict[str, float]:
    """Least-squares coefficients of the bio term ``form`` from match-ups: the residual
    pCO2_obs - pCO2_mix (µatm) regressed on Chl (mg m-3); returns ``{"a": ..., "b": ...}``."""
    if form not in _BIO_DESIGN:
        raise SatCO2Error(f"bio term form {form!r} cannot be fitted; choose one of {sorted(_BIO_DESIGN)}")
    y = np.asarray(pco2_obs, float) - np.asarray(pco2_mix_values, float)
    chl = np.asarray(chl, float)
    ok = np.isfinite(y) & np.isfinite(chl) & (chl > 0)
    if ok.sum() < 3:
        raise SatCO2Error(f"fitting the bio term needs at least 3 valid match-ups, got {int(ok.sum())}")
    X = _BIO_DESIGN[form](chl[ok])
    (a, b), *_ = np.linalg.lstsq(X, y[ok], rcond=None)
    return {"a": float(a), "b": float(b)}


TA_LEE06_RANGES = {"t_C": (20.0, np.inf), "s": (31.0, 38.0)}
"""Where Lee et al. (2006) zone 1 holds: SST >= 20 °C, S 31-38."""


def ta_LEE06_subtropics(s, t_C):
    """Surface total alkalinity, µmol kg-1, of Lee et al. (2006), GRL 33 L19605, zone 1
    ((sub)tropics): TA = 2305 + 58.66 dS + 2.32 dS^2 - 1.41 dT + 0.040 dT^2, dS = S - 35,
    dT = SST - 20 °C; valid for SST >= 20 °C and S 31-38 (±8.6 µmol kg-1). Used to choose the
    Kuroshio end member's TA of the ECS configuration (coefficients [S], see ecs.yaml)."""
    s, t = np.asarray(s, float), np.asarray(t_C, float)
    validity.check_all("ta_LEE06_subtropics", TA_LEE06_RANGES, stacklevel=2, s=s, t_C=t)
    ds, dt = s - 35.0, t - 20.0
    return 2305.0 + 58.66 * ds + 2.32 * ds**2 - 1.41 * dt + 0.040 * dt**2


def fit_end_members(s, ta, dic, s_range: tuple[float, float] = (10.0, 25.0),
                    s_ocean: float | None = None) -> dict[str, float]:
    """End members from the conservative part of the mixing line.

    Wang B. et al. (2011, J. Mar. Sci. 29(3), abstract) found TA and DIC conservative against S only
    for S 10-25 in the Changjiang estuary, deviating near S 0, at 25-28 and near 30: regress TA and
    DIC (µmol kg-1) on S within ``s_range`` and extrapolate to S = 0 (river) and to ``s_ocean``.
    Returns ``ta_river, dic_river`` (intercepts) and, if ``s_ocean`` is given, ``ta_ocean,
    dic_ocean``, plus the slopes and the number of samples used.
    """
    s, ta, dic = (np.asarray(x, float) for x in (s, ta, dic))
    ok = np.isfinite(s) & np.isfinite(ta) & np.isfinite(dic) & (s >= s_range[0]) & (s <= s_range[1])
    if ok.sum() < 3:
        raise SatCO2Error(
            f"fitting end members needs at least 3 samples with S in {s_range}, got {int(ok.sum())}"
        )
    bt, at = np.polyfit(s[ok], ta[ok], 1)
    bd, ad = np.polyfit(s[ok], dic[ok], 1)
    out = {"ta_river": float(at), "dic_river": float(ad), "s_river": 0.0,
           "ta_slope": float(bt), "dic_slope": float(bd), "n": int(ok.sum())}
    if s_ocean is not None:
        out.update(s_ocean=float(s_ocean), ta_ocean=float(at + bt * s_ocean),
                   dic_ocean=float(ad + bd * s_ocean))
    return out


# ----------------------------------------------------------------------------------------------
# the algorithm


def pco2_mesaa_np(sst, sss, chl, cfg: MesaaConfig, table: MixingTable | None = None):
    """MeSAA pCO2 (µatm) on numpy arrays: SST (°C), SSS (PSS-78), Chl (mg m-3).

    Returns an array stacked on a new last axis: [pCO2_mix, dpCO2_bio, pCO2]. Values outside the
    configured validity ranges raise a :class:`satco2.ValidityWarning`.
    """
    validity.check_all(f"MeSAA ({cfg.name})", cfg.validity, range_name="configured validity range",
                       stacklevel=2, sst=sst, sss=sss, chl=chl)
    table = table or mixing_table(cfg)
    p_mix = table(sst, sss)
    chl = np.asarray(chl, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bio = BIO_TERMS[cfg.bio_form](np.where(chl > 0, chl, np.nan), **cfg.bio_coefficients)
    return np.stack([p_mix, bio, p_mix + bio], axis=-1)


def pco2_mesaa(sst, sss, chl, cfg: MesaaConfig | str = "ecs"):
    """MeSAA on xarray DataArrays (lazy when dask-backed): returns a Dataset with
    ``pco2_mix``, ``dpco2_bio`` and ``pco2sw`` (µatm), with CF attributes.

    The mixing table is built eagerly with numpy (no dask compute); the per-pixel work is one
    ``xr.apply_ufunc(..., dask="parallelized")``.
    """
    import xarray as xr

    if isinstance(cfg, str):
        cfg = load_config(cfg)
    table = mixing_table(cfg)
    sst, sss, chl = xr.broadcast(sst, sss, chl)
    out = xr.apply_ufunc(
        pco2_mesaa_np, sst, sss, chl,
        kwargs={"cfg": cfg, "table": table},
        output_core_dims=[["component"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"component": 3}},
    )
    attrs = {"units": "uatm", "source": "MeSAA (Bai et al. 2015) via satco2.science.mesaa"}
    ds = xr.Dataset({
        "pco2_mix": out.isel(component=0).assign_attrs(
            long_name="sea-surface pCO2 from thermodynamics and two-end-member mixing", **attrs),
        "dpco2_bio": out.isel(component=1).assign_attrs(
            long_name="biological pCO2 change parameterized by chlorophyll", **attrs),
        "pco2sw": out.isel(component=2).assign_attrs(
            standard_name="surface_partial_pressure_of_carbon_dioxide_in_sea_water",
            long_name="sea-surface pCO2 (MeSAA)", **attrs),
    })
    ds.attrs.update(cfg.as_attrs())
    return ds


# ----------------------------------------------------------------------------------------------
# fitting a region to a user's own cruise match-ups

FITTABLE_END_MEMBERS = ("ta_river", "dic_river", "ta_ocean", "dic_ocean")
"""End-member fields :func:`fit_matchups` can fit to pCO2 match-ups."""


@dataclass
class MatchupFit:
    """Result of :func:`fit_matchups`: the fitted configuration, the fitted values with their
    standard errors, in-sample statistics of the fit and of the base configuration, and the
    cross-validation (per held-out block and pooled), pCO2 statistics in µatm."""

    config: MesaaConfig
    fitted: dict[str, float]
    stderr: dict[str, float]
    stats: dict[str, float]
    baseline: dict[str, float]
    cv: list[dict[str, float]]
    cv_summary: dict[str, float]
    source: str
    base_name: str


def _stats(pred, obs) -> dict[str, float]:
    d = np.asarray(pred, float) - np.asarray(obs, float)
    d = d[np.isfinite(d)]
    return {"n": int(d.size), "bias": float(d.mean()) if d.size else np.nan,
            "rmse": float(np.sqrt((d**2).mean())) if d.size else np.nan}


def _matchup_columns(matchups):
    """(sst, sss, pco2, chl or None, time or None) arrays from a match-up table."""
    cols = {c.lower(): c for c in matchups.columns}

    def pick(*names):
        return next((cols[n] for n in names if n in cols), None)

    sst, sss = pick("sst", "temperature"), pick("sss", "salinity")
    pco2 = pick("pco2sw", "pco2", "pco2_obs", "obs_pco2sw")
    chl = pick("chl", "chlor_a", "model_chlor_a", "chla")
    if sst is None or sss is None or pco2 is None:
        raise SatCO2Error("the match-ups need columns sst, sss and pco2sw (or pco2); they have "
                          f"{', '.join(map(str, matchups.columns))}")
    t = pick("time")
    arr = [np.asarray(matchups[c], float) for c in (sst, sss, pco2)]
    ch = np.asarray(matchups[chl], float) if chl else None
    tt = np.asarray(matchups[t]) if t else None
    return (*arr, ch, tt)


def fit_matchups(matchups, base: MesaaConfig | str = "ecs", fit=("dic_river", "dic_ocean"),
                 bio_form: str | None = None, folds: int = 5, source: str = "",
                 s_ocean: float | None = None, name: str | None = None) -> MatchupFit:
    """Fit MeSAA end members and the biological term to in-situ pCO2 match-ups.

    ``matchups``: a table with ``sst`` (°C), ``sss``, ``pco2sw`` (µatm) and, to fit a bio term,
    ``chl`` (or ``chlor_a``, mg m-3); ``time`` orders the cross-validation blocks. The model is
    MeSAA itself, pCO2 = CO2SYS(mix(SSS), SST) + dpCO2_bio(Chl) (:func:`pco2_mix_exact`), fitted by
    non-linear least squares (``scipy.optimize.least_squares``) over the end-member fields ``fit``
    (of :data:`FITTABLE_END_MEMBERS`; with pCO2 alone TA and DIC of one end member are nearly
    degenerate, so the default fits the DIC end members with TA kept from ``base``) and the bio
    coefficients of ``bio_form`` (default ``log10`` when Chl is given, else ``none``).
    Standard errors come from the Jacobian at the optimum (residual variance, n - p dof).

    ``s_ocean``: the ocean end member's salinity (default: the base configuration's, raised to
    the highest match-up salinity so that every sample lies on the mixing line).
    Cross-validation: the match-ups (in time order when given) are cut into ``folds`` contiguous
    blocks; each block is predicted by a fit to the others and by the unfitted ``base``.
    The fitted configuration's validity ranges are the ranges of the match-ups.
    """
    from dataclasses import replace

    from scipy.optimize import least_squares

    base_cfg = load_config(base) if isinstance(base, str) else base
    fit = tuple(fit)
    bad = [f for f in fit if f not in FITTABLE_END_MEMBERS]
    if bad:
        raise SatCO2Error(f"cannot fit {', '.join(bad)}; the end members that can be fitted are {FITTABLE_END_MEMBERS}")
    sst, sss, obs, chl, time = _matchup_columns(matchups)
    if bio_form is None:
        bio_form = "log10" if chl is not None else "none"
    if bio_form != "none" and bio_form not in _BIO_DESIGN:
        raise SatCO2Error(f"bio term form {bio_form!r} cannot be fitted; choose one of {sorted(_BIO_DESIGN) + ['none']}")
    if bio_form != "none" and chl is None:
        raise SatCO2Error(f"fitting the {bio_form} bio term needs a chl (or chlor_a) column in the match-ups")
    ok = np.isfinite(sst) & np.isfinite(sss) & np.isfinite(obs)
    if chl is not None and bio_form != "none":
        ok &= np.isfinite(chl) & (chl > 0)
    n = int(ok.sum())
    nbio = 0 if bio_form == "none" else 2
    if n < len(fit) + nbio + 3:
        raise SatCO2Error(f"{n} valid match-ups are too few to fit {len(fit) + nbio} parameters")
    sst, sss, obs = sst[ok], sss[ok], obs[ok]
    chl = chl[ok] if chl is not None else np.ones(n)
    order = np.argsort(time[ok], kind="stable") if time is not None else np.arange(n)
    so = float(s_ocean) if s_ocean is not None else max(base_cfg.s_ocean, float(np.ceil(sss.max() * 10) / 10))
    base_fit = replace(base_cfg, s_ocean=so)
    if not so > base_fit.s_river:
        raise SatCO2Error("the ocean end member's salinity must exceed the river end member's")

    def make(x):
        em = dict(zip(fit, x[:len(fit)]))
        coefs = {"a": float(x[len(fit)]), "b": float(x[len(fit) + 1])} if nbio else {}
        return replace(base_fit, bio_form=bio_form, bio_coefficients=coefs, **em)

    def predict(c, idx):
        p = pco2_mix_exact(sst[idx], sss[idx], c)
        return p + (BIO_TERMS[c.bio_form](chl[idx], **c.bio_coefficients) if nbio else 0.0)

    x0 = np.array([getattr(base_fit, f) for f in fit] + [0.0] * nbio, float)
    scale = np.array([100.0] * len(fit) + [10.0] * nbio)

    def solve(idx):
        r = least_squares(lambda x: predict(make(x), idx) - obs[idx], x0, x_scale=scale, method="trf")
        if not r.success:
            raise SatCO2Error(f"the MeSAA fit to the match-ups did not converge ({r.message})")
        return r

    allidx = np.arange(n)
    res = solve(allidx)
    names = list(fit) + (["a", "b"] if nbio else [])
    dof = max(n - len(names), 1)
    s2 = float(res.fun @ res.fun) / dof
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac) * s2
        se = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        se = np.full(len(names), np.nan)
    cfg = make(res.x)
    cv, pred_cv, pred_base = [], np.full(n, np.nan), np.full(n, np.nan)
    k = int(max(2, min(folds, n // 3)))
    for i, block in enumerate(np.array_split(order, k)):
        train = np.setdiff1d(allidx, block)
        r = solve(train)
        pred_cv[block] = predict(make(r.x), block)
        pred_base[block] = predict(base_cfg, block) if base_cfg.bio_form == "none" or chl is not None \
            else pco2_mix_exact(sst[block], sss[block], base_cfg)
        cv.append({"fold": i, **_stats(pred_cv[block], obs[block]),
                   "baseline_rmse": _stats(pred_base[block], obs[block])["rmse"]})
    pooled = _stats(pred_cv, obs)
    base_all = _stats(pred_base, obs)
    summary = {"folds": k, "rmse": pooled["rmse"], "bias": pooled["bias"], "n": pooled["n"],
               "baseline_rmse": base_all["rmse"], "baseline_bias": base_all["bias"]}
    validity = {"sss": (float(np.floor(sss.min() * 10) / 10), float(np.ceil(sss.max() * 10) / 10)),
                "sst": (float(np.floor(sst.min() * 10) / 10), float(np.ceil(sst.max() * 10) / 10))}
    if nbio:
        validity["chl"] = (float(chl.min()), float(chl.max()))
    cfg = replace(cfg, name=name or f"{base_cfg.name}-fitted", validity=validity,
                  provenance=dict(base_cfg.provenance))
    return MatchupFit(config=cfg, fitted=dict(zip(names, map(float, res.x))), stderr=dict(zip(names, map(float, se))),
                      stats=_stats(predict(cfg, allidx), obs), baseline=base_all, cv=cv, cv_summary=summary,
                      source=source or "user match-ups", base_name=base_cfg.name)


def write_config(fit: MatchupFit, path, title: str | None = None) -> Path:
    """Write a fitted region configuration (the ``catalogs/mesaa/<region>.yaml`` layout) with the
    provenance of every value: fitted values cite the match-ups, the method, their standard
    error and the cross-validated RMSE; values kept from the base configuration keep its
    citation; validity ranges are the match-ups' ranges. :func:`load_config` reads it back."""
    import datetime as _dt

    c, prov = fit.config, fit.config.provenance
    when = _dt.date.today().isoformat()
    cvtxt = (f"{fit.cv_summary['folds']}-block cross-validated RMSE {fit.cv_summary['rmse']:.1f} uatm "
             f"(base {fit.base_name}: {fit.cv_summary['baseline_rmse']:.1f} uatm)")

    def leaf(key, value, units=None, prov_key=None):
        if key in fit.fitted:
            node = {"value": round(float(value), 4), "status": "FITTED",
                    "citation": f"fitted to {fit.source} (n = {fit.stats['n']}) by satco2.science.mesaa.fit_matchups "
                                f"on {when}",
                    "how": f"non-linear least squares of MeSAA pCO2 on the match-ups; standard error "
                           f"{fit.stderr[key]:.3g}; {cvtxt}"}
        else:
            p = prov.get(prov_key or key, {})
            node = {"value": float(value) if not isinstance(value, list) else value,
                    **{k: v for k, v in p.items() if k in ("status", "citation", "needs_citation", "how")}}
            if not (node.get("citation") or node.get("needs_citation")):
                node["needs_citation"] = True
            node["how"] = (node.get("how", "") + f" Kept from the base configuration {fit.base_name}.").strip()
        if units:
            node["units"] = units
        return node

    so = {"value": float(c.s_ocean), "citation": f"highest salinity of the match-ups ({fit.source}) or the base "
                                                  f"configuration's, whichever is larger (fit_matchups)"}
    doc = {
        "name": c.name,
        "title": title or f"MeSAA fitted to {fit.source}",
        "status": "FITTED",
        "fit": {"source": fit.source, "date": when, "base": fit.base_name, "n": fit.stats["n"],
                "rmse_uatm": round(fit.stats["rmse"], 2), "bias_uatm": round(fit.stats["bias"], 2),
                "cross_validation": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in fit.cv_summary.items()},
                "fitted": {k: round(v, 4) for k, v in fit.fitted.items()},
                "stderr": {k: round(v, 4) for k, v in fit.stderr.items()}},
        "carbonate": {"opt_k_carbonic": {**leaf("opt_k_carbonic", c.opt_k_carbonic), "value": int(c.opt_k_carbonic)}},
        "end_members": {
            "river": {"salinity": leaf("s_river", c.s_river, prov_key="river.salinity"),
                      "ta": leaf("ta_river", c.ta_river, "umol kg-1", "river.ta"),
                      "dic": leaf("dic_river", c.dic_river, "umol kg-1", "river.dic")},
            "ocean": {"salinity": so,
                      "ta": leaf("ta_ocean", c.ta_ocean, "umol kg-1", "ocean.ta"),
                      "dic": leaf("dic_ocean", c.dic_ocean, "umol kg-1", "ocean.dic")},
        },
        "bio": {"form": c.bio_form,
                "coefficients": {k: leaf(k, v, "uatm", f"bio.{k}") for k, v in c.bio_coefficients.items()}},
        "validity": {k: {"value": list(v), "citation": f"range of the match-ups the configuration was fitted on ({fit.source})"}
                     for k, v in c.validity.items()},
    }
    return io.write_text(path, "# MeSAA configuration fitted to a user's match-ups by satco2.science.mesaa.fit_matchups.\n"
                        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
