"""The ``satco2`` command: one typer app; each area registers its own commands.

Each module in :data:`AREAS` defines ``register(app: typer.Typer) -> None`` that adds its
commands or a sub-app (``satco2 catalog list``, ``satco2 ingest``, ``satco2 demo``, ``satco2 run``,
``satco2 publish``, ``satco2 schedule``, ``satco2 up`` / ``down``, ``satco2 matchup``, ``satco2 config show``).

User-facing errors (:class:`satco2.SatCO2Error`) are printed as one sentence, exit status 2.
"""
from __future__ import annotations

import sys

import typer

from . import SatCO2Error, config, usage
from .analyses import matchups
from .catalog import cli as catalog_cli
from .catalog import ingest
from .demo import cli as demo_cli
from .hub import cli as hub_cli
from .runs import cli as runs_cli

#: the area modules whose ``register(app)`` adds their commands, in help order
AREAS = [catalog_cli, ingest, demo_cli, runs_cli, hub_cli, matchups, usage, config]

app = typer.Typer(
    name="satco2",
    help="SatCO2 Hub: catalogs, ingest, demo data, notebook runs, dashboards and the hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for _area in AREAS:
    _area.register(app)


def main() -> None:
    try:
        app()
    except SatCO2Error as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
