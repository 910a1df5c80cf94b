"""notebooks/doc_transport.ipynb executed with papermill on the (synthetic) demo store, and its
dashboard rebuilt from the report folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from satco2 import SatCO2Error

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def doc_demo(tmp_path_factory):
    """A private demo store holding only the ecs_ocean generator's products."""
    from satco2 import demo

    root = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    mp.setenv("SATCO2_DEMO_ROOT", str(root))
    mp.setenv("SATCO2_REPORTS_DIR", str(tmp_path_factory.mktemp("reports")))
    demo.build(only="ecs_ocean", root=root)
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def report(doc_demo):
    import satco2.runs

    return satco2.runs.run("doc_transport", {"start": "2010-01", "end": "2010-04"}, timeout=600)


@pytest.mark.slow
def test_notebook_runs_and_recovers_injected_fluxes(report, doc_demo):
    import xarray as xr

    assert report.ok
    d = report.dir
    summary = xr.open_zarr(d / "doc_transport_summary.zarr").load()
    truth = json.loads((doc_demo / "ecs" / "truth" / "doc_transport.json").read_text())
    k = truth["time"].index("2010-01")
    for name in ("taiwan_strait", "kuroshio_200m", "north_32n"):
        want = np.asarray(truth["sections"][name]["doc_tgc_per_year"][k:k + 4])
        got = summary["doc"].sel(section=name).values
        np.testing.assert_allclose(got, want, rtol=0.06, atol=0.02 * np.abs(want).mean())
    assert list(summary["published"].values) == [30.65, 18.75, -52.75]


@pytest.mark.slow
def test_dashboard_from_report(report):
    import holoviews as hv

    from satco2.dashboards import doc_transport as dash

    assert report.ok
    d = report.dir
    view = dash.from_report(d)
    assert view is not None
    board = dash.DocTransportDashboard(dash._open(d))
    bars = board.bars_vs_published()
    pub = bars.data[bars.data["source"] == "published"]["Tg C/a"].tolist()
    assert sorted(pub) == sorted([30.65, 18.75, -52.75])
    vec = board.vectors()
    assert isinstance(vec, hv.VectorField) and len(vec) > 50
    jan = board.doc_map()
    board.month = board.param.month.objects[-1]
    assert not np.allclose(board.vectors().data["Angle"], vec.data["Angle"])  # the current field changes
    assert board.depth_bands().data.shape[0] == 5
    with pytest.raises(SatCO2Error, match="no doc_transport_summary.zarr"):
        dash.from_report(d.parent)
    assert jan is not None


def test_invalid_parameters_are_one_sentence(doc_demo):
    import satco2.runs

    with pytest.raises(SatCO2Error, match="doc_algorithm"):
        satco2.runs.params.validate("doc_transport", {"doc_algorithm": "magic"})
    with pytest.raises(SatCO2Error, match="sections"):
        satco2.runs.params.validate("doc_transport", {"sections": ["nowhere"]})
