"""Store layout: where the demo store and the mirrors keep their bytes, in one place.

Both the writers (``satco2 demo`` in :mod:`satco2.demo`, ``satco2 ingest`` in
:mod:`satco2.catalog.ingest`) and the reader (:mod:`satco2.catalog.sources`) use these names, so
a change of layout is a change here.

Demo store (``config.demo_root()``):

- ``<root>/<footprint>/<product_id>.zarr``: one Zarr store per product
  (:func:`demo_product_path`); footprints are :data:`satco2.catalog.footprints.FOOTPRINTS`;
- ``<root>/<footprint>/truth/<name>.zarr`` or ``.json``: truth of the injected signals;
- ``<root>/MANIFEST.json``: per generator its footprint, products, truth files and fingerprint,
  and ``order``, the generators' build order (:func:`read_manifest`, :func:`products_in_store`).

Mirror (``config.mirror_root()``, a local folder or any fsspec URL):

- ``<root>/<registry mirror.path>`` (:func:`mirror_url`), a Zarr v3 store whose group attribute
  :data:`LEDGER` lists the committed files and ``n_time``, the committed time steps
  (:func:`read_ledger`).
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import SatCO2Error, config
from . import registry

# --------------------------------------------------------------------------- demo store
#: Version of the demo store's layout (part of every demo generator's fingerprint).
FRAMEWORK_VERSION = 1
MANIFEST = "MANIFEST.json"
TRUTH_DIR = "truth"


def demo_product_path(root: Path, footprint: str, product_id: str) -> Path:
    """``<root>/<footprint>/<product_id>.zarr``"""
    return Path(root) / footprint / f"{product_id}.zarr"


def zarr_complete(path: Path) -> bool:
    """True when the local Zarr v3 store at ``path`` has its group metadata."""
    return (Path(path) / "zarr.json").exists()


def read_manifest(root: Path | None = None) -> dict:
    """The demo store's MANIFEST.json as a dict (empty structure when there is none)."""
    root = Path(root) if root is not None else config.demo_root()
    p = root / MANIFEST
    if not p.exists():
        return {"framework_version": FRAMEWORK_VERSION, "generators": {}}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise SatCO2Error(f"the demo manifest {p} is not valid JSON ({e}); rerun `satco2 demo`.") from None


def products_in_store(root: Path | None = None) -> dict[str, list[str]]:
    """product id -> footprints that hold it, in the generators' build order (from the manifest)."""
    man = read_manifest(root)
    gens = man.get("generators", {})
    order = [g for g in man.get("order", []) if g in gens] + [g for g in gens if g not in man.get("order", [])]
    out: dict[str, list[str]] = {}
    for g in order:
        entry = gens[g]
        for pid in entry.get("products", []):
            out.setdefault(pid, [])
            if entry["footprint"] not in out[pid]:
                out[pid].append(entry["footprint"])
    return out


# --------------------------------------------------------------------------- mirrors
#: group attribute of a mirror holding its ledger (committed files, ``n_time``)
LEDGER = "satco2_ingest"


def mirror_url(product_id: str, root: str | None = None) -> str:
    """Location of the product's mirror store (local path or fsspec URL)."""
    p = registry.get(product_id)
    root = str(root) if root is not None else config.mirror_root()
    sep = "" if root.endswith("/") else "/"
    return f"{root}{sep}{p['mirror']['path']}"


def is_url(loc: str) -> bool:
    return "://" in str(loc) and not str(loc).startswith("file://")


def local_path(loc: str) -> str:
    """``loc`` without a ``file://`` prefix."""
    return str(loc)[len("file://"):] if str(loc).startswith("file://") else str(loc)


def zarr_store(loc: str, read_only: bool = False):
    """A zarr v3 store for a local path, ``file://`` or any fsspec URL."""
    from zarr.storage import FsspecStore, LocalStore

    if is_url(loc):
        return FsspecStore.from_url(loc, read_only=read_only)
    return LocalStore(local_path(loc), read_only=read_only)


def store_exists(loc: str) -> bool:
    if is_url(loc):
        import fsspec

        fs, path = fsspec.core.url_to_fs(loc)
        return fs.exists(f"{path}/zarr.json")
    return zarr_complete(Path(local_path(loc)))


def read_ledger(loc: str) -> dict | None:
    """The store's ledger (``None`` when the store or its ledger does not exist)."""
    import zarr

    if not store_exists(loc):
        return None
    g = zarr.open_group(zarr_store(loc, read_only=True), mode="r", use_consolidated=False)
    led = g.attrs.get(LEDGER)
    return dict(led) if led else None
