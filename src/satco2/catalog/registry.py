"""The product registry ``catalogs/products.yaml``: load, validate, look up, search.

The registry is data (one YAML file, schema ``registry.schema.json`` beside this module); this
module only reads it. :class:`Product` wraps one entry with a few conveniences.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path


from .. import SatCO2Error, config

SCHEMA_FILE = Path(__file__).resolve().parent / "registry.schema.json"


def registry_path() -> Path:
    """``<catalog_dir>/products.yaml``."""
    return config.catalog_dir() / "products.yaml"


@dataclass(frozen=True)
class Product:
    """One registry entry (``raw`` is the YAML mapping)."""

    raw: dict

    def __getitem__(self, key):
        return self.raw[key]

    def get(self, key, default=None):
        return self.raw.get(key, default)

    @property
    def id(self) -> str:
        return self.raw["id"]

    @property
    def variables(self) -> dict[str, dict]:
        return self.raw["variables"]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return tuple(self.raw["bbox"])

    @property
    def reader(self) -> str:
        return self.raw["upstream"]["reader"]

    def text(self) -> str:
        """All searchable text of the entry (lower case)."""
        r = self.raw
        parts = [r["id"], r["group"], r["region"], r["parameter"], r["long_name"], r["sensor"],
                 r["origin"], r["producer"], r["resolution"], " ".join(r["frequencies"]),
                 r["upstream"]["archive"]]
        for name, v in r["variables"].items():
            parts += [name, v["long_name"], v.get("standard_name", ""), v["units"]]
        return " ".join(parts).lower()


def _schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text())


def check(doc: dict, source: str = "the registry") -> None:
    """Cheap structural check done at every load (the full schema check is :func:`validate`)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("products"), list):
        raise SatCO2Error(f"{source} has no list of products.")
    ids = []
    for i, p in enumerate(doc["products"]):
        missing = [k for k in ("id", "variables", "bbox", "upstream", "mirror") if k not in p]
        if missing:
            raise SatCO2Error(f"{source}: product #{i} lacks {', '.join(missing)}.")
        ids.append(p["id"])
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SatCO2Error(f"{source} has duplicate product ids: {', '.join(dup)}.")


def validate(doc: dict, source: str = "the registry") -> None:
    """Raise :class:`SatCO2Error` if ``doc`` does not satisfy the JSON schema or ids repeat.

    Run by the tests and by ``satco2 catalog generate`` (importing jsonschema is slow, so
    loading the registry only runs :func:`check`).
    """
    import jsonschema

    v = jsonschema.Draft202012Validator(_schema())
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path)
        raise SatCO2Error(f"{source} is invalid at {where or 'top level'}: {e.message}.")
    ids = [p["id"] for p in doc["products"]]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise SatCO2Error(f"{source} has duplicate product ids: {', '.join(dup)}.")


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[Product, ...]:
    doc = config.load_yaml(path, "product registry")
    check(doc, f"the product registry {path}")
    return tuple(Product(p) for p in doc["products"])


def products(path: Path | str | None = None) -> list[Product]:
    """All registry entries, in file order."""
    p = Path(path) if path else registry_path()
    mtime = p.stat().st_mtime if p.exists() else 0.0
    return list(_load(str(p), mtime))


def ids() -> list[str]:
    return [p.id for p in products()]


def get(product_id: str) -> Product:
    """The entry ``product_id``; :class:`SatCO2Error` naming close matches when unknown."""
    for p in products():
        if p.id == product_id:
            return p
    import difflib

    close = difflib.get_close_matches(str(product_id), ids(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `satco2 catalog list`."
    raise SatCO2Error(f"unknown product id {product_id!r}{hint}")


def search(text: str) -> list[Product]:
    """Entries whose searchable text contains every word of ``text`` (case-insensitive)."""
    words = str(text).lower().split()
    return [p for p in products() if all(w in p.text() for w in words)]
