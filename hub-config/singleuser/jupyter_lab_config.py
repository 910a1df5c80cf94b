"""JupyterLab in users' servers (on JUPYTER_CONFIG_PATH, see jupyterhub_config.py): no news feed,
no update check and no prompt about them - the hub may have no network, and researchers should
not be asked. Defaults live in lab-settings/overrides.json beside this file.

No work at start-up for what a user of the hub cannot do: the extension manager only lists what is
installed (the environment is shared and not the user's to change; no PyPI queries), and
labconfig/page_config.json turns off the build check (every extension is prebuilt). The server
extensions trimmed for a faster start are in jupyter_server_config.d/satco2-startup.json."""
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab-settings")
c.LabApp.extension_manager = "readonly"
