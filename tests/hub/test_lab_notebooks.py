"""Every analysis notebook as an ordinary hub user in JupyterLab (issue 14): log in through the
form in Debian chromium, open the notebook the hub copied into ~/notebooks, set small parameters
in its parameters cell, *Run > Run All Cells*, wait until every cell ran, save; then no cell has
an error output, every plot canvas is drawn (not blank), and no request left for another host
(Bokeh/Panel served by the user's server, offline). One root-mode hub for the module; screenshots
in tests/artifacts/lab-<notebook>.png."""
from __future__ import annotations

import secrets

import pytest
import requests

from satco2.testing import chromium_page
from satco2.testing.lab import (
    canvases,
    contents,
    errors,
    login,
    open_notebook,
    put_notebook,
    run_all,
    with_parameters,
)
from satco2.testing.offline import is_external

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.browser]

USER = f"lab{secrets.token_hex(2)}"
PW = "lab-pw-" + secrets.token_hex(6)

#: notebook -> small parameters (the analyses' own tests in tests/notebooks run them at full size
#: through papermill); n_workers 1 keeps one small Dask Gateway cluster, reused by the next notebook
SMALL = {
    "example": {},
    "matchups": {"n_obs": 300},
    "pco2_flux": {"region": "changjiang_estuary", "start": "2010-07", "end": "2010-08", "n_workers": 1},
    "doc_transport": {"start": "2010-01", "end": "2010-02", "n_workers": 1},
    "marginal_sea_trends": {"seas": ["baltic_sea", "persian_gulf"], "variables": ["sst"], "start": "2003-01",
                            "end": "2008-12", "n_workers": 1},
    "chl_gapfill": {"start": "2009-01", "end": "2014-12", "rates": [0.5], "horizon": 1, "train_end": "2012-12",
                    "train_steps": 4, "n_samples": 2},
    "radiative_transfer": {"nummu_list": [4, 8], "aziorder_list": [0, 7], "nummu_fixed": 8, "sza_list": [30.0],
                           "vza_list": [10.0], "wavelengths": [443.0], "n_workers": 1},
}


@pytest.fixture(scope="module")
def lab(hub):
    """The user's JupyterLab in one chromium page (logged in through the form) and an API token."""
    hub.signup(USER, PW)
    hub.approve(USER)
    requested: list[str] = []
    with chromium_page(viewport={"width": 1400, "height": 1800}) as page:
        page.on("request", lambda r: requested.append(r.url))
        page.on("websocket", lambda ws: requested.append(ws.url))
        login(page, hub.url, USER, PW)
        yield page, hub.api_token(USER), requested
    hub.stop_server(USER)


def test_every_analysis_notebook_has_small_parameters():
    from satco2.runs import params

    names = {p.name[: -len(".params.yaml")] for p in params.notebooks_dir().glob("*.params.yaml")}
    assert names == set(SMALL)
    for nb, values in SMALL.items():  # the small values are valid parameters of the notebook
        params.validate(nb, values, strict=True)


@pytest.mark.parametrize("notebook", list(SMALL))
def test_run_all_in_jupyterlab(hub, lab, notebook, artifacts):
    page, token, requested = lab
    path = f"notebooks/{notebook}.ipynb"
    put_notebook(hub.url, USER, token, path, with_parameters(contents(hub.url, USER, token, path), SMALL[notebook]))
    requested.clear()
    open_notebook(page, hub.url, USER, path)
    run_all(page, timeout=600)
    nb = contents(hub.url, USER, token, path)
    assert errors(nb) == [], errors(nb)
    # the last cell shows the dashboard: scroll to it and let Bokeh draw
    last = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").last
    last.scroll_into_view_if_needed()
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea canvas").first.wait_for(
        state="attached", timeout=60_000)
    page.wait_for_timeout(3000)  # datashader's first image
    last.screenshot(path=str(artifacts / f"lab-{notebook}.png"))
    drawn = canvases(page)
    assert drawn, f"{notebook}: no plot canvas in the outputs"
    blank = [c for c in drawn if c["w"] > 50 and c["h"] > 50 and 0 <= c["colours"] <= 2]
    assert not blank, f"{notebook}: blank plot canvases {blank} (of {drawn})"
    assert [u for u in requested if is_external(u)] == []
    # shut the notebook's kernel down (its memory is freed for the next one)
    auth = {"Authorization": f"token {token}"}
    for s in requests.get(f"{hub.url}user/{USER}/api/sessions", headers=auth, timeout=30).json():
        requests.delete(f"{hub.url}user/{USER}/api/sessions/{s['id']}", headers=auth, timeout=60)
