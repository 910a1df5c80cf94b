"""satco2.config: every setting declared once, its effective value and source; `satco2 config show`."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from satco2 import SatCO2Error, config
from satco2.hub import settings as hub_settings


def _show(*args, env=None):
    """`satco2 config show` with no SATCO2_* variable but ``env`` (other tests' session fixtures,
    e.g. the services' fast scheduler tick, must not leak into the sources shown)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATCO2_")} | (env or {})
    return subprocess.run([sys.executable, "-m", "satco2", "config", "show", *args],
                          capture_output=True, text=True, env=env)


def _lines(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.splitlines():
        name, _, rest = line.partition(" = ")
        value, _, source = rest.rpartition("  (")
        rows[name.strip()] = (value, source.rstrip(")"))
    return rows


def test_config_show_lists_every_setting_with_its_source():
    hub_file = yaml.safe_load(hub_settings.SETTINGS_FILE.read_text())
    r = _show(env={"SATCO2_HUB_PORT": "8123", "SATCO2_REPORTS_DIR": "/srv/reports"})
    assert r.returncode == 0, r.stderr
    rows = _lines(r.stdout)
    assert list(rows) == [s.name for s in config.SETTINGS]
    assert rows["hub-port"] == ("8123", "env SATCO2_HUB_PORT")
    assert rows["reports-dir"] == ("/srv/reports", "env SATCO2_REPORTS_DIR")
    assert rows["hub-ip"] == (hub_file["hub"]["ip"], "settings.yaml")
    assert rows["scheduler-max-per-user"] == (str(hub_file["scheduler"]["max_schedules_per_user"]), "settings.yaml")
    assert rows["scheduler-tick"][1] == "default"
    # without the variable the port is the settings file's
    assert _lines(_show().stdout)["hub-port"] == (str(hub_file["hub"]["port"]), "settings.yaml")


def test_config_show_json_and_errors():
    r = _show("--json", env={"SATCO2_SCHEDULER_TICK": "2.5"})
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["scheduler-tick"]["value"] == 2.5 and rows["scheduler-tick"]["source"] == "env SATCO2_SCHEDULER_TICK"
    assert all(row["help"] and row["env"].startswith("SATCO2_") for row in rows.values())
    bad = _show(env={"SATCO2_HUB_PORT": "eighty"})
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: SATCO2_HUB_PORT must be an integer") and bad.stderr.count("\n") == 1


def test_hub_port_is_one_setting(monkeypatch):
    """The hub settings' hub.port and the config setting hub-port are the same value, with the same
    override."""
    monkeypatch.delenv("SATCO2_HUB_PORT", raising=False)
    assert config.get("hub-port") == hub_settings.load()["hub"]["port"]
    monkeypatch.setenv("SATCO2_HUB_PORT", "8124")
    monkeypatch.setenv("SATCO2_HUB_ROOT_MODE", "1")
    assert config.get("hub-port") == hub_settings.load()["hub"]["port"] == 8124
    assert hub_settings.load()["hub"]["isolation"] == "root" == config.get("hub-isolation")
    assert config.lookup("hub-port") == (8124, "env SATCO2_HUB_PORT")


def test_config_yaml_overrides_defaults(tmp_path, monkeypatch):
    site = tmp_path / "config.yaml"
    site.write_text("satco2:\n  scheduler-tick: 3\n  demo-root: /srv/demo\n")
    monkeypatch.setattr(config, "CONFIG_FILE", site)
    monkeypatch.delenv("SATCO2_DEMO_ROOT", raising=False)
    monkeypatch.delenv("SATCO2_SCHEDULER_TICK", raising=False)  # set by the services' session fixture
    assert config.lookup("scheduler-tick") == (3.0, "config.yaml")
    assert config.demo_root() == Path("/srv/demo")
    monkeypatch.setenv("SATCO2_DEMO_ROOT", str(tmp_path))
    assert config.lookup("demo-root") == (str(tmp_path), "env SATCO2_DEMO_ROOT")
    site.write_text("satco2:\n  mirror_root: /srv/mirror\n")
    with pytest.raises(SatCO2Error, match="unknown setting.* mirror_root"):
        config.get("scheduler-tick")
    site.write_text("satco2: [not, a, mapping\n")
    with pytest.raises(SatCO2Error, match="config.yaml is not valid YAML"):
        config.get("scheduler-tick")


def test_process_environment_is_declared():
    with pytest.raises(KeyError, match="PROCESS_ENV"):
        config.env("SATCO2_NOT_DECLARED")
    with pytest.raises(SatCO2Error, match="unknown setting"):
        config.get("no-such-setting")


def test_only_config_reads_the_environment():
    """Every environment read goes through satco2.config (settings, or config.env for the process
    environment): none elsewhere in the package."""
    root = Path(config.PACKAGE_DIR)
    found = []
    for f in root.rglob("*.py"):
        if f.name == "config.py" and f.parent == root:
            continue
        for n in ast.walk(ast.parse(f.read_text())):
            if (isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv")
                    and isinstance(n.value, ast.Name) and n.value.id == "os"):
                found.append(f"{f.relative_to(root)}:{n.lineno}")
    assert not found, f"read the environment through satco2.config: {found}"
