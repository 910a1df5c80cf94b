"""Generated intake 2 and STAC catalogs: no drift from the registry, parameters take effect,
STAC validates; CLI list/show/search."""
from __future__ import annotations

import json
import intake
import pystac
import pytest

from satco2 import SatCO2Error, catalog, config
from satco2.catalog import generate
from satco2.catalog.cli import drift


def test_committed_catalogs_match_the_registry():
    assert drift() == [], "run `satco2 catalog generate` and commit catalogs/intake and catalogs/stac"


def test_drift_is_detected(tmp_path):
    generate.generate(tmp_path)
    assert drift(tmp_path) == []
    p = tmp_path / "stac" / "global-sst-oisst-25km" / "collection.json"
    d = json.loads(p.read_text())
    d["title"] = "edited by hand"
    p.write_text(json.dumps(d))
    (tmp_path / "stac" / "stray").mkdir()
    (tmp_path / "stac" / "stray" / "collection.json").write_text("{}")
    assert drift(tmp_path) == ["stac/global-sst-oisst-25km/collection.json", "stac/stray/collection.json"]


def test_intake_catalog_lists_every_product_and_parameters_take_effect(demo_store):
    cat = intake.from_yaml_file(str(config.catalog_dir() / "intake" / "satco2.yaml"))
    assert sorted(cat) == sorted(catalog.ids())
    full = cat["global-sst-oisst-25km"].read()
    sub = cat(bbox=[120, 25, 125, 30], time=["2010-03", "2010-05"])["global-sst-oisst-25km"].read()
    assert sub.sizes["time"] == 3 and full.sizes["time"] > 3
    assert float(sub.lon.min()) >= 120 and float(sub.lat.max()) <= 30
    assert sub.sizes["lon"] < full.sizes["lon"]
    with pytest.raises(SatCO2Error, match="no mirror"):
        cat(source="mirror")["global-sst-oisst-25km"].read()
    md = cat.entries["global-chl-modis-aqua-4km"].metadata
    assert md["variables"]["chlor_a"]["units"] == "mg m-3"
    assert md["upstream"]["urls"]["monthly"].startswith("https://oceandata.sci.gsfc.nasa.gov/getfile/")


def test_stac_catalog_validates_and_mirrors_the_registry():
    root = pystac.read_file(str(config.catalog_dir() / "stac" / "catalog.json"))
    root.validate_all()  # core STAC 1.1 schemas bundled with pystac: offline
    cols = {c.id: c for c in root.get_children()}
    assert sorted(cols) == sorted(catalog.ids())
    for p in catalog.products():
        c = cols[p.id]
        c.validate()
        assert c.extent.spatial.bboxes[0] == list(p.bbox)
        assert c.summaries.get_list("variables") == list(p.variables)
        vias = sorted(link.href for link in c.links if link.rel == "via")
        assert vias == sorted(p["upstream"]["urls"].values())


def test_cli_list_show_search():
    from typer.testing import CliRunner

    from satco2.cli import app

    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, ["catalog", *args])

    r = run("list")
    assert r.exit_code == 0
    ids = [line.split()[0] for line in r.stdout.splitlines()]
    assert ids == catalog.ids()
    r = run("show", "global-npp-modis-vgpm-9km")
    assert r.exit_code == 0 and "reader: vgpm_hdf" in r.stdout and "mg C m-2 d-1" in r.stdout
    r = run("search", "salinity", "smap")
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["global-sss-smap-25km"]
    r = run("show", "nope")
    assert isinstance(r.exception, SatCO2Error) and "unknown product id 'nope'" in str(r.exception)
