"""The ``satco2`` command: one typer app; each area registers its own commands.

Each module in :data:`AREAS` defines ``register(app: typer.Typer) -> None`` that adds its
commands or a sub-app (``satco2 catalog list``, ``satco2 ingest``, ``satco2 demo``, ``satco2 run``,
``satco2 publish``, ``satco2 schedule``, ``satco2 up`` / ``down``, ``satco2 matchup``, ``satco2 config show``).

User-facing errors (:class:`satco2.SatCO2Error`) are printed as one sentence, exit status 2.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

import typer

from . import SatCO2Error

AREAS = [
    "satco2.catalog.cli",
    "satco2.ingest",
    "satco2.demo.cli",
    "satco2.runs.cli",
    "satco2.hub.cli",
    "satco2.matchups",
    "satco2.usage",
    "satco2.config",
]

app = typer.Typer(
    name="satco2",
    help="SatCO2 Hub: catalogs, ingest, demo data, notebook runs, dashboards and the hub.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register_areas() -> None:
    for name in AREAS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # an area not present in this checkout
            if e.name is not None and name.startswith(e.name):
                continue
            raise
        module.register(app)


_register_areas()


def main() -> None:
    try:
        app()
    except SatCO2Error as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
