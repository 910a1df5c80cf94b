"""The README's first lines work as typed: `import satco2` then `satco2.compute`, `satco2.catalog`
(lazy submodules), and the intake catalog opens from any working directory."""
from __future__ import annotations

import subprocess
import sys

import pytest

import satco2


def test_submodules_are_lazy_attributes(tmp_path):
    code = ("import sys, satco2; assert 'satco2.compute' not in sys.modules; "
            "print(satco2.compute.get_client.__name__, satco2.catalog.open.__name__, "
            "'satco2.compute' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.split() == ["get_client", "open", "True"], out.stderr[-800:]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        satco2.nope  # noqa: B018
    assert {"compute", "catalog", "runs"} <= set(dir(satco2))


def test_intake_catalog_opens_from_anywhere(tmp_path, monkeypatch, demo_store):
    monkeypatch.chdir(tmp_path)
    cat = satco2.catalog.intake()
    assert "global-sst-oisst-25km" in list(cat)
    ds = satco2.catalog.intake(source="demo", bbox=[121, 28, 124, 32])["global-sst-oisst-25km"].read()
    assert float(ds.lon.min()) >= 121 and float(ds.lat.max()) <= 32
