"""The embedded demo store: seeded, synthetic, offline data for every product of the registry.

``satco2 demo`` (:func:`build`) runs each generator of :data:`GENERATORS` and writes, atomically,

- ``<demo_root>/<footprint>/<product_id>.zarr``: one Zarr store per product (consolidated
  metadata, chunked along ``time`` so that months can be appended), global attributes
  ``synthetic = "yes"``, ``product_id``, ``demo_generator``, ``demo_version``, ``history``;
- ``<demo_root>/<footprint>/truth/<name>.zarr`` (or ``.json``): the truth of the injected signals,
  returned by a generator under the reserved key ``"truth/<name>"`` (a Dataset, or a plain dict
  that is written as JSON);
- ``<demo_root>/MANIFEST.json``: per generator its version, seed, scale, footprint, products,
  truth files, build time, size and duration, and ``order`` (the build order).

The layout is defined in :mod:`satco2.catalog.store` (which ``catalog.open`` reads); this package
writes it.

A generator is a module ``satco2.demo.<name>`` that defines

- ``FOOTPRINT``: a key of :data:`satco2.catalog.footprints.FOOTPRINTS`,
- ``VERSION``: an int or str, bumped whenever its output changes,
- ``build(scale: int, seed: int) -> dict[str, xr.Dataset]``: product id -> Dataset with CF
  attributes (plus ``"truth/<name>"`` entries),
- ``SIGNALS``: Markdown documenting the injected signals (``satco2 demo --docs`` collects them into
  ``docs/demo-signals.md``),
- optionally ``fingerprint(scale, seed) -> str``: extra inputs that make a rebuild necessary
  (``sample`` uses it: the set of products the other generators provide).

A generator whose module does not exist (yet) is skipped. ``if_missing=True`` rebuilds only the
generators whose VERSION, seed, scale or fingerprint changed, or whose outputs are missing.
Concurrent builds of the same root are serialised with a lock file (``<root>/.lock``,
:func:`satco2.io.lock`).
"""
from __future__ import annotations

import datetime as _dt
import importlib
import time as _time
from collections import OrderedDict
from pathlib import Path
from types import ModuleType

import numpy as np
import xarray as xr

from .. import SatCO2Error, config, io
from ..catalog import store
from ..catalog.footprints import FOOTPRINTS
from ..catalog.store import FRAMEWORK_VERSION, MANIFEST, read_manifest

#: Generator name -> module path, in build order (``sample`` last: it fills what others leave).
GENERATORS: "OrderedDict[str, str]" = OrderedDict(
    [
        ("ecs_surface", "satco2.demo.ecs_surface"),
        ("ecs_ocean", "satco2.demo.ecs_ocean"),
        ("eurasia", "satco2.demo.eurasia"),
        ("reference", "satco2.demo.reference"),
        ("sample", "satco2.demo.sample"),
    ]
)

DEFAULT_SEED = 20140101
TRUTH_PREFIX = f"{store.TRUTH_DIR}/"
#: Target uncompressed size of one chunk (bytes) when a generator does not choose chunks.
TARGET_CHUNK_BYTES = 8 * 2**20
_BUILDING_ROOT: Path | None = None  # the root being built (read by provided_by_others)


# --------------------------------------------------------------------------- generators
def load_generator(name: str) -> ModuleType | None:
    """Import generator ``name``; ``None`` when its module does not exist (yet)."""
    if name not in GENERATORS:
        raise SatCO2Error(f"unknown demo generator {name!r}; known: {', '.join(GENERATORS)}.")
    path = GENERATORS[name]
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as e:
        if e.name == path:
            return None
        raise


def available_generators(only=None) -> "OrderedDict[str, ModuleType]":
    """Generator modules that exist, in build order, optionally restricted to ``only``."""
    if isinstance(only, str):
        only = [only]
    if only:
        for n in only:
            if n not in GENERATORS:
                raise SatCO2Error(
                    f"unknown demo generator {n!r}; known: {', '.join(GENERATORS)}."
                )
    out: OrderedDict[str, ModuleType] = OrderedDict()
    for name in GENERATORS:
        if only and name not in only:
            continue
        mod = load_generator(name)
        if mod is not None:
            out[name] = mod
    return out


def provided_by_others(exclude: str = "sample") -> set[str]:
    """Product ids that the generators other than ``exclude`` provide, as of now.

    Uses each generator's optional ``PRODUCTS`` attribute when it declares one, else the manifest
    entry of its last build. ``sample`` calls this at build time to fill every other product.
    """
    man = read_manifest(_BUILDING_ROOT).get("generators", {})
    ids: set[str] = set()
    for name, mod in available_generators().items():
        if name == exclude:
            continue
        declared = getattr(mod, "PRODUCTS", None)
        if declared:
            ids.update(declared)
        elif name in man:
            ids.update(man[name].get("products", []))
    return ids


def _fingerprint(name: str, mod: ModuleType, scale: int, seed: int) -> dict:
    fp = {
        "framework_version": FRAMEWORK_VERSION,
        "version": str(getattr(mod, "VERSION", "0")),
        "seed": int(seed),
        "scale": int(scale),
    }
    extra = getattr(mod, "fingerprint", None)
    if callable(extra):
        fp["extra"] = str(extra(scale, seed))
    return fp


def _is_current(root: Path, entry: dict | None, fp: dict) -> bool:
    if not entry or entry.get("fingerprint") != fp:
        return False
    fpdir = root / entry["footprint"]
    for pid in entry.get("products", []):
        if not store.zarr_complete(store.demo_product_path(root, entry["footprint"], pid)):
            return False
    for t in entry.get("truth", []):
        if not (fpdir / t).exists():
            return False
    return True


# --------------------------------------------------------------------------- writing
def default_chunks(ds: xr.Dataset) -> dict[str, int]:
    """Chunks for a demo store: full lat/lon planes, as many time steps as fit in ~8 MB.

    The time chunk is the same for every variable so that new months can be appended.
    """
    chunks: dict[str, int] = {}
    for name, da in ds.data_vars.items():
        if "time" not in da.dims:
            continue
        plane = int(np.prod([ds.sizes[d] for d in da.dims if d != "time"], dtype=np.int64))
        per = max(1, TARGET_CHUNK_BYTES // max(1, plane * da.dtype.itemsize))
        chunks["time"] = int(min(chunks.get("time", per), per, ds.sizes["time"]))
    return chunks


def _stamp(ds: xr.Dataset, name: str, mod: ModuleType, pid: str, seed: int, scale: int) -> xr.Dataset:
    ds = ds.copy()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = (
        f"{now} satco2 demo: synthetic data from generator {name} version "
        f"{getattr(mod, 'VERSION', '0')} (seed {seed}, scale {scale})"
    )
    prev = ds.attrs.get("history")
    ds.attrs.update(
        {
            "synthetic": "yes",
            "product_id": pid,
            "demo_generator": name,
            "demo_version": str(getattr(mod, "VERSION", "0")),
            "demo_seed": int(seed),
            "demo_scale": int(scale),
            "history": f"{prev}\n{line}" if prev else line,
        }
    )
    ds.attrs.setdefault("Conventions", "CF-1.8")
    return ds


def write_zarr_atomic(ds: xr.Dataset, path: Path, chunks: dict[str, int] | None = None) -> int:
    """Write ``ds`` to ``path`` (a ``.zarr`` folder) atomically; return its size in bytes.

    The store is written with consolidated metadata by :func:`satco2.io.write_zarr` (a temporary
    sibling folder swapped in whole: an existing store is replaced only by a complete new one).
    """
    path = Path(path)
    chunks = default_chunks(ds) if chunks is None else chunks
    ds = ds.chunk({k: v for k, v in chunks.items() if k in ds.dims}) if chunks else ds
    for v in ds.variables.values():  # drop encodings inherited from sources (chunks, filters)
        for key in ("chunks", "preferred_chunks", "compressor", "compressors", "filters", "shards"):
            v.encoding.pop(key, None)
    io.write_zarr(ds, path, consolidated=True, zarr_format=3)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _build_one(root: Path, name: str, mod: ModuleType, scale: int, seed: int, fp: dict) -> dict:
    footprint = getattr(mod, "FOOTPRINT", None)
    if footprint not in FOOTPRINTS:
        raise SatCO2Error(
            f"demo generator {name} declares FOOTPRINT={footprint!r}, not one of "
            f"{', '.join(FOOTPRINTS)}."
        )
    t0 = _time.perf_counter()
    out = mod.build(scale=scale, seed=seed)
    if not isinstance(out, dict):
        raise SatCO2Error(f"demo generator {name} returned {type(out).__name__}, not a dict.")
    fpdir = root / footprint
    products, truth, size = [], [], 0
    for key, obj in out.items():
        if key.startswith(TRUTH_PREFIX):
            tname = key[len(TRUTH_PREFIX):]
            (fpdir / store.TRUTH_DIR).mkdir(parents=True, exist_ok=True)
            if isinstance(obj, xr.Dataset):
                obj = _stamp(obj, name, mod, key, seed, scale)
                size += write_zarr_atomic(obj, fpdir / store.TRUTH_DIR / f"{tname}.zarr", chunks={})
                truth.append(f"{store.TRUTH_DIR}/{tname}.zarr")
            else:
                p = fpdir / store.TRUTH_DIR / f"{tname}.json"
                io.write_json(p, obj, sort_keys=True, newline=True)
                size += p.stat().st_size
                truth.append(f"{store.TRUTH_DIR}/{tname}.json")
            continue
        if not isinstance(obj, xr.Dataset):
            raise SatCO2Error(f"demo generator {name} returned {type(obj).__name__} for {key}.")
        ds = _stamp(obj, name, mod, key, seed, scale)
        size += write_zarr_atomic(ds, store.demo_product_path(root, footprint, key))
        products.append(key)
    return {
        "footprint": footprint,
        "version": str(getattr(mod, "VERSION", "0")),
        "seed": int(seed),
        "scale": int(scale),
        "fingerprint": fp,
        "products": products,
        "truth": truth,
        "built": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(_time.perf_counter() - t0, 2),
        "bytes": size,
    }


def build(
    if_missing: bool = False,
    scale: int = 1,
    seed: int = DEFAULT_SEED,
    only=None,
    root: Path | str | None = None,
    progress: bool = False,
) -> dict:
    """Build the demo store; return the manifest.

    Parameters
    ----------
    if_missing : rebuild only generators whose VERSION/seed/scale/fingerprint changed or whose
        outputs are missing.
    scale : grid refinement factor (1 = the footprints' default steps; 4 = 4x finer).
    seed : random seed shared by every generator (deterministic output).
    only : a generator name or a list of names (default: all that exist).
    root : store folder (default :func:`satco2.config.demo_root`).
    """
    scale, seed = int(scale), int(seed)
    if scale < 1:
        raise SatCO2Error(f"demo scale must be a positive integer, got {scale}.")
    root = Path(root) if root is not None else config.demo_root()
    gens = available_generators(only)
    with io.lock(root / ".lock"):
        global _BUILDING_ROOT
        _BUILDING_ROOT = root
        try:
            return _build_all(root, gens, if_missing, scale, seed, progress)
        finally:
            _BUILDING_ROOT = None


def _build_all(root, gens, if_missing, scale, seed, progress) -> dict:
    for name, mod in gens.items():
        man = read_manifest(root)
        fp = _fingerprint(name, mod, scale, seed)
        if if_missing and _is_current(root, man["generators"].get(name), fp):
            continue
        if progress:
            print(f"demo: building {name} ...", flush=True)
        entry = _build_one(root, name, mod, scale, seed, fp)
        man = read_manifest(root)
        man["framework_version"] = FRAMEWORK_VERSION
        man["generators"][name] = entry
        man["order"] = [g for g in GENERATORS if g in man["generators"]] + [
            g for g in man["generators"] if g not in GENERATORS]
        io.write_json(root / MANIFEST, man, sort_keys=True, newline=True)
        if progress:
            print(
                f"demo: {name}: {len(entry['products'])} products, "
                f"{entry['bytes'] / 2**20:.1f} MiB, {entry['seconds']:.1f} s",
                flush=True,
            )
    return read_manifest(root)


def signals_markdown() -> str:
    """``docs/demo-signals.md``: the SIGNALS of every generator, in build order."""
    lines = [
        "# Injected signals of the demo store",
        "",
        "Generated by `satco2 demo --docs` from each generator's `SIGNALS`; do not edit by hand.",
        "Every dataset of the demo store is **synthetic** (global attribute `synthetic = \"yes\"`).",
        "The truth of the injected signals is stored beside the data under",
        "`<demo_root>/<footprint>/truth/`.",
        "",
    ]
    for name, mod in available_generators().items():
        lines += [
            f"## `{name}` (footprint `{getattr(mod, 'FOOTPRINT', '?')}`, version "
            f"{getattr(mod, 'VERSION', '?')})",
            "",
            str(getattr(mod, "SIGNALS", "(no SIGNALS documented)")).strip(),
            "",
        ]
    return "\n".join(lines)


def write_signals_doc(path: Path | str | None = None) -> Path:
    """Write :func:`signals_markdown` to ``docs/demo-signals.md`` (or ``path``)."""
    path = Path(path) if path else config.REPO_ROOT / "docs" / "demo-signals.md"
    return io.write_text(path, signals_markdown())
