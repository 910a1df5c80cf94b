"""Every analysis notebook is publishable: a dashboard module of the notebook's own name."""
from __future__ import annotations

import pytest

from satco2.runs import params, publish


@pytest.mark.parametrize("notebook", sorted(p.stem for p in params.notebooks_dir().glob("*.ipynb")))
def test_every_notebook_has_its_dashboard_module(notebook):
    mod = publish.dashboard_module(notebook)
    assert mod.__name__ == f"satco2.dashboards.{notebook}" and callable(mod.from_report)
