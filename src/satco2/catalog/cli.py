"""``satco2 catalog list | show ID | search TEXT | generate [--check]``."""
from __future__ import annotations

import filecmp
import tempfile
from pathlib import Path

import typer

from .. import config

catalog_app = typer.Typer(help="The product catalog: list, show, search; generate intake/STAC catalogs.",
                          no_args_is_help=True)


def _line(p) -> str:
    tc = p["time_coverage"]
    span = f"{tc['start'] or '?'}..{tc['end'] or '?'}" if tc["start"] or tc["end"] else "static"
    return f"{p.id:32s} {p['parameter']:10s} {p['sensor'][:26]:26s} {p['resolution']:>9s}  {span}"


@catalog_app.command("list")
def list_cmd(group: str = typer.Option(None, "--group", help="only this group (GLOBAL, GOB, GOC, EIO-WPO-SCS, extra)")) -> None:
    """List every product of the registry."""
    from . import registry

    for p in registry.products():
        if group is None or p["group"].lower() == group.lower():
            typer.echo(_line(p))


@catalog_app.command("show")
def show_cmd(product_id: str) -> None:
    """Show one product's registry entry (YAML)."""
    import yaml

    from . import registry

    p = registry.get(product_id)
    typer.echo(yaml.safe_dump(p.raw, sort_keys=False, width=200, allow_unicode=True).rstrip())


@catalog_app.command("search")
def search_cmd(text: list[str] = typer.Argument(..., help="words that must all occur")) -> None:
    """Products whose metadata contain every word of TEXT (case-insensitive)."""
    from . import registry

    hits = registry.search(" ".join(text))
    for p in hits:
        typer.echo(_line(p))
    if not hits:
        typer.echo("no product matches", err=True)
        raise typer.Exit(1)


def drift(out_dir: Path | None = None) -> list[str]:
    """Generated files that differ from a fresh generation (relative paths); [] when current."""
    from . import generate

    out_dir = Path(out_dir) if out_dir else config.catalog_dir()
    with tempfile.TemporaryDirectory() as tmp:
        generate.generate(Path(tmp))
        fresh = sorted(p.relative_to(tmp) for p in Path(tmp).rglob("*") if p.is_file())
        have = sorted(p.relative_to(out_dir) for sub in (generate.INTAKE_FILE.parent, generate.STAC_DIR)
                      if (out_dir / sub).exists() for p in (out_dir / sub).rglob("*") if p.is_file())
        diff = sorted(set(map(str, fresh)) ^ set(map(str, have)))
        for rel in set(fresh) & set(have):
            if not filecmp.cmp(Path(tmp) / rel, out_dir / rel, shallow=False):
                diff.append(str(rel))
    return sorted(diff)


@catalog_app.command("generate")
def generate_cmd(check: bool = typer.Option(False, "--check", help="only report drift; exit 1 if any")) -> None:
    """Write catalogs/intake/satco2.yaml and catalogs/stac/ from catalogs/products.yaml."""
    from . import generate

    if check:
        d = drift()
        for rel in d:
            typer.echo(f"drift: {rel}")
        raise typer.Exit(1 if d else 0)
    for path in generate.generate():
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
