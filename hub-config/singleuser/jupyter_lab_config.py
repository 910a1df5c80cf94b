"""JupyterLab in users' servers (on JUPYTER_CONFIG_PATH, see jupyterhub_config.py): no news feed,
no update check and no prompt about them - the hub may have no network, and researchers should
not be asked. Defaults live in lab-settings/overrides.json beside this file."""
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab-settings")
