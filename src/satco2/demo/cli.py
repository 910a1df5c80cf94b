"""``satco2 demo``: build the embedded demo store, or write docs/demo-signals.md."""
from __future__ import annotations

from typing import List, Optional

import typer

from .. import config
from . import DEFAULT_SEED, build, write_signals_doc


def demo(
    if_missing: bool = typer.Option(
        False, "--if-missing", help="rebuild only generators whose version/seed/scale changed "
        "or whose outputs are missing"
    ),
    scale: int = typer.Option(1, "--scale", help="grid refinement factor (1 = default demo grids)"),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="random seed (deterministic output)"),
    only: Optional[List[str]] = typer.Option(None, "--only", help="build only this generator (repeatable)"),
    docs: bool = typer.Option(False, "--docs", help="write docs/demo-signals.md from the generators' SIGNALS and exit"),
) -> None:
    """Build the seeded synthetic demo store under the configured demo root."""
    if docs:
        path = write_signals_doc()
        typer.echo(f"wrote {path}")
        return
    man = build(if_missing=if_missing, scale=scale, seed=seed, only=only or None, progress=True)
    total = sum(g.get("bytes", 0) for g in man["generators"].values())
    typer.echo(
        f"demo store {config.demo_root()}: {len(man['generators'])} generators, "
        f"{total / 2**20:.1f} MiB"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
