"""Fixtures of the notebook tests."""
import pytest


@pytest.fixture(scope="module")
def notebook_demo(demo_store, tmp_path_factory):
    """The shared demo store (built once per session, by `make test` beforehand), with this
    module's run reports in a temporary folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SATCO2_REPORTS_DIR", str(tmp_path_factory.mktemp("reports")))
    yield demo_store
    mp.undo()
