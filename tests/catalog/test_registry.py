"""The product registry: schema, one entry per row of the data table, fixed analysis ids."""
from __future__ import annotations

import copy
import csv

import pytest
import yaml

from satco2 import SatCO2Error, catalog
from satco2.catalog import registry

# docs/developers.md: ids and variables the analyses rely on
CONTRACT = {
    "global-sst-oisst-25km": ({"sst"}, "degC"),
    "global-sss-smos-25km": ({"sss"}, "1"),
    "global-ssw-ccmp-25km": ({"wind_speed"}, "m s-1"),
    "global-chl-modis-aqua-4km": ({"chlor_a"}, "mg m-3"),
    "global-par-modis-aqua-4km": ({"par"}, "einstein m-2 d-1"),
    "global-acd-modis-aqua-4km": ({"a_cdom_443"}, "m-1"),
    "global-npp-modis-vgpm-9km": ({"npp"}, "mg C m-2 d-1"),
    "global-rrs-modis-aqua-4km": ({"Rrs_412", "Rrs_443", "Rrs_488", "Rrs_547", "Rrs_667"}, "sr-1"),
    "extra-kd490-modis-aqua-4km": ({"Kd_490"}, "m-1"),
    "extra-sdd-modis-aqua-4km": ({"sdd"}, "m"),
    "extra-xco2-noaa-gml": ({"xco2"}, "1e-6"),
    "extra-slp-ncep-reanalysis": ({"slp"}, "Pa"),
    "extra-bathymetry-demo": ({"depth"}, "m"),
    "extra-currents-ecs-model": ({"u", "v"}, "m s-1"),
}


@pytest.fixture(scope="module")
def table(shared_data):
    with open(shared_data.parent / "table1-products.csv") as f:
        return list(csv.DictReader(f))


def test_registry_validates_against_schema():
    with open(registry.registry_path()) as f:
        doc = yaml.safe_load(f)
    registry.validate(doc)


def test_schema_rejects_broken_entries():
    with open(registry.registry_path()) as f:
        doc = yaml.safe_load(f)
    bad = copy.deepcopy(doc)
    del bad["products"][0]["licence"]
    with pytest.raises(SatCO2Error, match="licence"):
        registry.validate(bad)
    bad = copy.deepcopy(doc)
    bad["products"][1]["id"] = bad["products"][0]["id"]
    with pytest.raises(SatCO2Error, match="duplicate"):
        registry.validate(bad)
    bad = copy.deepcopy(doc)
    bad["products"][0]["upstream"]["urls"]["daily"] = "oceandata/no-scheme.nc"
    with pytest.raises(SatCO2Error, match="invalid"):
        registry.validate(bad)


def _matches(entry, row) -> bool:
    r = entry.raw
    return (
        r["group"] == row["group"] and r["region"] == row["region"]
        and r["parameter"] == row["parameter"] and r["long_name"] == row["long_name"]
        and r["bbox"] == [float(row["lon_min"]), float(row["lat_min"]),
                          float(row["lon_max"]), float(row["lat_max"])]
        and r["resolution"] == row["resolution"]
        and r["time_coverage"] == {"start": row["time_start"] or None, "end": row["time_end"] or None}
        and r["frequencies"] == row["frequencies"].split(";")
        and r["sensor"] == row["sensor"] and r["origin"] == row["origin"]
        and r["producer"] == row["producer"]
    )


def test_every_table_row_has_exactly_one_matching_entry(table):
    entries = catalog.products()
    assert len(table) == 55
    for i, row in enumerate(table, start=2):
        hits = [e for e in entries if _matches(e, row)]
        assert len(hits) == 1, f"table line {i}: {len(hits)} entries match {row}"
        e = hits[0]
        assert e["table_row"] == i
        # id rule: <group>-<parameter>-<sensor>-<resolution>, lower case
        res = row["resolution"].replace(" ", "").replace("1.8km", "1800m")
        assert e.id == f"{row['group'].lower()}-{row['parameter'].lower()}-{e['sensor_short']}-{res}"
    table_entries = [e for e in entries if e["group"] != "extra"]
    assert len(table_entries) == 55
    assert all(e["group"] == "extra" and e["table_row"] is None for e in entries if e not in table_entries)


def test_contract_ids_and_variables():
    for pid, (names, units) in CONTRACT.items():
        e = catalog.get(pid)
        assert set(e.variables) == names, pid
        assert {v["units"] for v in e.variables.values()} == {units}, pid


def test_every_entry_has_access_and_mirror():
    for e in catalog.products():
        up = e["upstream"]
        assert up["reader"] and up["format"] and up["archive"]
        assert e["mirror"]["path"] == f"{e.id}.zarr"
        if up["urls"]:
            for freq, url in up["urls"].items():
                assert freq in e["frequencies"] or freq == "hourly", (e.id, freq)
        else:
            assert up.get("notes"), f"{e.id}: no URL and no note saying why"
    obpg = catalog.get("global-chl-modis-aqua-4km")["upstream"]["urls"]["monthly"]
    assert obpg == ("https://oceandata.sci.gsfc.nasa.gov/getfile/AQUA_MODIS.{start:%Y%m%d}_{end:%Y%m%d}"
                    ".L3m.MO.CHL.chlor_a.4km.nc")


def test_get_and_search():
    with pytest.raises(SatCO2Error, match="did you mean global-chl-modis-aqua-4km"):
        catalog.get("global-chl-modis-aqua")
    hits = [p.id for p in catalog.search("salinity smos")]
    assert hits == ["global-sss-smos-25km"]
    assert len(catalog.search("goci")) == 18
    assert catalog.search("no such thing at all") == []


def test_registry_resolution_of_demo_model_currents_matches_the_store(demo_store):
    """extra-currents-ecs-model describes the demo's own model grid: the registry states it."""
    import numpy as np

    from satco2.catalog import store

    p = registry.get("extra-currents-ecs-model")
    value, unit = p["resolution"].split()
    assert unit == "deg"
    assert p["resolution_m"] == pytest.approx(float(value) * 111_000, rel=0.01)
    scale = store.read_manifest(demo_store)["generators"]["ecs_ocean"]["scale"]
    ds = catalog.open("extra-currents-ecs-model", source="demo")
    for c in ("lat", "lon"):
        step = np.diff(ds[c].values)
        np.testing.assert_allclose(step, float(value) / scale, rtol=1e-6)


def test_sdd_entry_names_the_optics_module():
    from satco2.science import optics

    notes = registry.get("extra-sdd-modis-aqua-4km")["upstream"]["notes"]
    for fn in ("sdd_from_rrs", "sdd_from_kd490"):
        assert f"{fn}" in notes and callable(getattr(optics, fn))
    assert "satco2.science.optics" in notes
