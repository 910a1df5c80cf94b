"""Where a notebook's data products go (``satco2.runs.output_dir``)."""
from __future__ import annotations

from satco2.runs import output_dir
from satco2.testing import env_vars


def test_output_dir_is_the_run_folder_in_a_run_and_per_user_outside(tmp_path):
    common = dict(SATCO2_REPORTS_DIR=tmp_path / "reports", SATCO2_RUN_NOTEBOOK=None)
    with env_vars(SATCO2_RUN_DIR=tmp_path / "run", **common):
        assert output_dir() == tmp_path / "run" and (tmp_path / "run").is_dir()
    with env_vars(SATCO2_RUN_DIR=None, JUPYTERHUB_USER="alice", **common):
        a = output_dir()
    with env_vars(SATCO2_RUN_DIR=None, JUPYTERHUB_USER="bob", **common):
        b = output_dir()
    # inside each user's own reports folder, which no other account can write (root mode)
    assert a == tmp_path / "reports" / "alice" / "_interactive" / "interactive" and a.is_dir()
    assert b == tmp_path / "reports" / "bob" / "_interactive" / "interactive" and b.is_dir()
