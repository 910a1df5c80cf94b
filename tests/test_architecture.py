"""The architecture stays as drawn: the import layers of `.importlinter` (checked by import-linter)
and three measurements of the source (AST, no code run): cross-area imports inside functions,
environment reads outside `satco2.config`, files that rename with os.replace/os.rename.

See docs/developers.md, "Import layers". Offenders are printed in the failure message.
"""
from __future__ import annotations

import ast
import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "src" / "satco2"

def _lint(config: Path, contract: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([str(exe), "--config", str(config), "--contract", contract, "--no-cache"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)


@pytest.mark.parametrize("contract", ["layers", "no-testing"])
def test_import_contracts(contract):
    r = _lint(REPO / ".importlinter", contract)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


def test_layers_contract_has_the_documented_picture():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / ".importlinter")
    layers = [line.strip() for line in cfg["importlinter:contract:layers"]["layers"].splitlines() if line.strip()]
    assert layers[:11] == ["testing", "cli", "compute", "hub", "services", "runs", "dashboards", "analyses",
                           "demo", "catalog", "science"]
    assert layers[-1] == "config"
    doc = (REPO / "docs" / "developers.md").read_text()
    for layer in layers:
        for name in layer.replace("|", " ").replace(":", " ").replace("(", "").replace(")", "").split():
            assert f"`satco2.{name}`" in doc, f"docs/developers.md does not describe the layer {name}"


# --------------------------------------------------------------------------- AST measurements
def _modules():
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield path, ".".join(parts), is_pkg, _parse(path)


def _parse(path):
    """ast.parse, once more after CPython 3.11's spurious "AST constructor recursion depth
    mismatch" SystemError (a CPython bug in its recursion-depth bookkeeping, cpython issue
    gh-106905; seen once in the full suite, where the file itself parses)."""
    text = path.read_text()
    try:
        return ast.parse(text, str(path))
    except SystemError:
        return ast.parse(text, str(path))


def _area(module: str) -> str | None:
    """``satco2.catalog.sources`` -> ``catalog``; the root package ``satco2`` has no area."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _is_module(module: str) -> bool:
    rel = PKG.joinpath(*module.split(".")[1:])
    return rel.with_suffix(".py").exists() or (rel / "__init__.py").exists()


def _imported(node, module: str, is_pkg: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if _is_module(f"{target}.{a.name}") else target for a in node.names]


def _parents(tree) -> dict:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _inside_function(node, parents) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def function_local_cross_area_imports() -> list[str]:
    """``file:line importer -> imported`` for satco2 imports of another area inside a function."""
    out = []
    for path, module, is_pkg, tree in _modules():
        parents = _parents(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or not _inside_function(node, parents):
                continue
            for target in dict.fromkeys(_imported(node, module, is_pkg)):  # once per statement
                if target.split(".")[0] == "satco2" and _area(target) and _area(target) != _area(module):
                    out.append(f"{path.relative_to(REPO)}:{node.lineno} {module} -> {target}")
    return out


def _environment_reads(tree) -> list:
    """Nodes of os.getenv / os.environ.get / os.environ[...] (read) / ``... in os.environ``."""
    return [
        node for node in ast.walk(tree)
        if (isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("os.getenv", "getenv", "os.environ.get", "environ.get"))
        or (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) in ("os.environ", "environ"))
        or (isinstance(node, ast.Compare)
            and any(ast.unparse(c) in ("os.environ", "environ") for c in node.comparators))
    ]


def _renames(tree) -> bool:
    return any(isinstance(n, ast.Call) and ast.unparse(n.func) in ("os.replace", "os.rename")
               for n in ast.walk(tree))


def environment_reads_outside_config() -> list[str]:
    """``file:line code`` of every environment read outside satco2.config."""
    return [f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)[:80]}"
            for path, module, _, tree in _modules() if module != "satco2.config"
            for node in _environment_reads(tree)]


def files_renaming() -> list[str]:
    """Files that call os.replace or os.rename."""
    return [str(path.relative_to(REPO)) for path, _, _, tree in _modules() if _renames(tree)]


def test_measurements_see_what_they_count():
    """Each measurement finds what it counts in a known snippet (a broken walker cannot pass the
    limits below), and nothing in code that does not do it."""
    tree = ast.parse(
        "import os\n"
        "from .fields import smooth\n"
        "def f():\n"
        "    from ..catalog import store\n"
        "    from . import fields\n"
        "    os.environ['A'] = os.environ['B'] + os.getenv('C', '') + os.environ.get('D', '')\n"
        "    return 'E' in os.environ, os.replace('a', 'b')\n"
    )
    parents = _parents(tree)
    top, local, same_area = tree.body[1], tree.body[2].body[0], tree.body[2].body[1]
    assert not _inside_function(top, parents) and _inside_function(local, parents)
    assert _imported(local, "satco2.demo.sample", False) == ["satco2.catalog.store"]
    assert _imported(same_area, "satco2.demo.sample", False) == ["satco2.demo.fields"]
    assert _area("satco2.catalog.store") == "catalog" and _area("satco2") is None
    assert len(_environment_reads(tree)) == 4  # B, C, D and 'E' in; the assignment to A is no read
    assert _renames(tree)
    quiet = ast.parse("import os\nos.environ['A'] = '1'\npath.replace('x')\n")
    assert not _environment_reads(quiet) and not _renames(quiet)


def test_few_function_local_cross_area_imports():
    found = function_local_cross_area_imports()
    assert len(found) <= 5, f"{len(found)} function-local cross-area imports:\n" + "\n".join(found)


def test_few_environment_reads_outside_config():
    found = environment_reads_outside_config()
    assert len(found) <= 5, f"{len(found)} environment reads outside satco2.config:\n" + "\n".join(found)


def test_renames_in_few_files():
    found = files_renaming()
    assert len(found) <= 2, f"{len(found)} files call os.replace/os.rename:\n" + "\n".join(found)
