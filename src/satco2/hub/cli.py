"""``satco2 up`` and ``satco2 down``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        port: Optional[int] = typer.Option(None, help="public port on 127.0.0.1 (default: settings / SATCO2_HUB_PORT)"),
        state_dir: Optional[Path] = typer.Option(None, help="state directory (default: config state-dir)"),
    ):
        """Start the hub (proxy, Dask Gateway, culler, services) in the foreground; Ctrl-C stops all."""
        from .launcher import run_foreground

        raise typer.Exit(run_foreground(port=port, state_dir=state_dir))

    @app.command()
    def down(
        state_dir: Optional[Path] = typer.Option(None, help="state directory (default: config state-dir)"),
    ):
        """Stop a hub started by `satco2 up` and everything it started."""
        from .launcher import down as _down

        if _down(state_dir):
            typer.echo("SatCO2 Hub stopped.")
        else:
            typer.echo("no SatCO2 Hub is running from this state directory.")
