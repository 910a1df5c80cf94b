"""Catalogs generated from the registry: intake 2 (``catalogs/intake/satco2.yaml``) and a static
STAC catalog (``catalogs/stac/``). ``satco2 catalog generate`` writes both; tests regenerate them
in a temporary folder and fail when the committed files drift from the registry.

- intake 2: one native :class:`intake.readers.entry.Catalog` whose entries use
  :class:`satco2.catalog.intake_reader.SatCO2Reader`; catalog-level user parameters ``source``,
  ``bbox`` and ``time``: ``intake.from_yaml_file(path)(source="mirror", bbox=[...])["<id>"].read()``.
- STAC 1.1 (pystac, core fields only so it validates offline against pystac's bundled schemas):
  a root Catalog, one Collection per product (extent, licence text, providers, keywords,
  summaries of variables/units, links ``via`` to the upstream archive templates, an asset for the
  mirror store under the default mirror root).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import config, io
from . import registry

INTAKE_FILE = Path("intake") / "satco2.yaml"
STAC_DIR = Path("stac")
STAC_FIXED_TIME = "2026-01-01T00:00:00Z"  # deterministic output (no wall-clock time in files)


def intake_catalog():
    """The intake 2 Catalog of every registry entry."""
    from intake.readers import entry, user_parameters as up

    from .intake_reader import SatCO2Reader

    cat = entry.Catalog(
        user_parameters={
            "source": up.OptionsUserParameter(
                options=["demo", "mirror", "upstream"], default="demo",
                description="where the bytes come from: demo (embedded), mirror (Zarr under the "
                "mirror root) or upstream (the archive)"),
            "bbox": up.SimpleUserParameter(
                default=None, description="[lon_min, lat_min, lon_max, lat_max] in degrees, or None"),
            "time": up.SimpleUserParameter(
                default=None, description="[start, end] dates (YYYY-MM or YYYY-MM-DD), or None"),
        },
        metadata={"title": "SatCO2 Hub products", "generated_from": "catalogs/products.yaml",
                  "generator": "satco2 catalog generate"},
    )
    for p in registry.products():
        r = p.raw
        md = {
            "title": r["long_name"], "parameter": r["parameter"], "group": r["group"],
            "region": r["region"], "sensor": r["sensor"], "producer": r["producer"],
            "resolution": r["resolution"], "bbox": list(r["bbox"]),
            "time_coverage": dict(r["time_coverage"]), "frequencies": list(r["frequencies"]),
            "variables": {k: {kk: vv for kk, vv in v.items() if kk != "source_name"}
                          for k, v in r["variables"].items()},
            "licence": r["licence"], "citation": r["citation"],
            "upstream": {"archive": r["upstream"]["archive"], "urls": dict(r["upstream"]["urls"])},
        }
        reader = SatCO2Reader(product_id=p.id, from_source="{source}", select_bbox="{bbox}",
                              select_time="{time}", metadata=md)
        cat.add_entry(reader, name=p.id)
        cat.aliases[p.id] = p.id  # so that list(cat) names every product
    return cat


def _month(s, end=False):
    if not s:
        return None
    if s == "present":
        return None
    t = pd.Timestamp(s)
    if end:
        t = t + pd.offsets.MonthEnd(0) + pd.Timedelta(hours=23, minutes=59, seconds=59)
    return t.to_pydatetime().replace(tzinfo=__import__("datetime").timezone.utc)


def stac_catalog():
    """The pystac Catalog (not yet saved) of every registry entry."""
    import pystac

    root = pystac.Catalog(
        id="satco2-products",
        description="SatCO2 Hub products: every row of the platform's data table plus the extras "
        "the analyses need. Generated from catalogs/products.yaml by `satco2 catalog generate`.",
        title="SatCO2 Hub products",
    )
    for p in registry.products():
        r = p.raw
        start, end = _month(r["time_coverage"]["start"]), _month(r["time_coverage"]["end"], end=True)
        providers = [pystac.Provider(name=r["producer"], roles=[pystac.ProviderRole.PRODUCER])]
        if r["origin"] != r["producer"]:
            providers.append(pystac.Provider(name=r["origin"], roles=[pystac.ProviderRole.LICENSOR]))
        providers.append(pystac.Provider(name=r["upstream"]["archive"], roles=[pystac.ProviderRole.HOST]))
        col = pystac.Collection(
            id=p.id,
            title=r["long_name"],
            description=f"{r['long_name']} ({r['parameter']}) from {r['sensor']}, {r['resolution']}, "
            f"{', '.join(r['frequencies'])}; region {r['region']}. Citation: {r['citation']}. "
            f"Licence: {r['licence'].rstrip('.')}.",
            extent=pystac.Extent(
                pystac.SpatialExtent([list(r["bbox"])]),
                pystac.TemporalExtent([[start, end]]),
            ),
            license="other",
            providers=providers,
            keywords=[r["parameter"], r["sensor"], r["group"], *r["variables"]],
            summaries=pystac.Summaries({k: v for k, v in {
                "variables": list(r["variables"]),
                "units": sorted({v["units"] for v in r["variables"].values()}),
                "standard_names": sorted({v["standard_name"] for v in r["variables"].values() if "standard_name" in v}),
                "frequencies": list(r["frequencies"]),
                "resolution": [r["resolution"]],
            }.items() if v}),
            extra_fields={"satco2:reader": r["upstream"]["reader"], "satco2:table_row": r["table_row"]},
        )
        for freq, url in r["upstream"]["urls"].items():
            col.add_link(pystac.Link(rel="via", target=url, media_type="application/x-netcdf",
                                     title=f"upstream {freq} files (URL template: {{start}}, {{end}}, {{time}})"))
        col.add_asset("mirror", pystac.Asset(
            href=f"../../../data/mirror/{r['mirror']['path']}", media_type="application/vnd+zarr",
            roles=["data"], title="Zarr mirror under the default mirror root (satco2 ingest)"))
        root.add_child(col)
    return root


def write_intake(out_dir: Path | None = None) -> Path:
    out_dir = Path(out_dir) if out_dir else config.catalog_dir()
    path = out_dir / INTAKE_FILE
    with io.atomic_path(path) as tmp:
        intake_catalog().to_yaml_file(str(tmp))
        text = tmp.read_text()
        tmp.write_text("# GENERATED by `satco2 catalog generate` from catalogs/products.yaml: do not edit.\n" + text)
    return path


def write_stac(out_dir: Path | None = None) -> Path:
    import pystac

    out_dir = Path(out_dir) if out_dir else config.catalog_dir()
    target = out_dir / STAC_DIR

    with io.atomic_dir(target) as tmp:
        cat = stac_catalog()
        cat.normalize_hrefs(str(tmp) + "/")
        cat.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return target / "catalog.json"


def generate(out_dir: Path | None = None) -> list[Path]:
    """Write the intake and STAC catalogs under ``out_dir`` (default: config.catalog_dir())."""
    path = registry.registry_path()
    registry.validate(config.load_yaml(path, "product registry"), f"the product registry {path}")
    return [write_intake(out_dir), write_stac(out_dir)]
