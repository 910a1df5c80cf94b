"""`copy_notebooks` (the spawn hook that gives a new user ~/notebooks): runs as root in a folder the
user controls, so it must never write through a name the user could have prepared."""
from __future__ import annotations

import os

from satco2 import config
from satco2.hub.hooks import copy_notebooks


def test_copies_once_and_never_overwrites(tmp_path):
    dest = copy_notebooks(tmp_path)
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted(p.name for p in (config.REPO_ROOT / "notebooks").iterdir()
                           if p.name.endswith((".ipynb", ".params.yaml")))
    mine = dest / "pco2_flux.ipynb"
    mine.write_text("my edits")
    assert copy_notebooks(tmp_path) is None
    assert mine.read_text() == "my edits"
    assert not [p for p in tmp_path.iterdir() if p.name != "notebooks"], "a temporary was left behind"


def test_a_prepared_temporary_name_is_not_followed(tmp_path):
    """The old code wrote into the fixed name ``.notebooks.tmp``: a link there sent root's copies
    (and chown) elsewhere. Now the temporary has a random name and the link is left alone."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(elsewhere, home / ".notebooks.tmp")
    dest = copy_notebooks(home)
    assert dest == home / "notebooks" and (dest / "pco2_flux.ipynb").is_file()
    assert list(elsewhere.iterdir()) == []
