"""The product catalog: registry, lazy opening from demo / mirror / upstream, generated catalogs.

- :mod:`satco2.catalog.registry` - ``catalogs/products.yaml`` (the one source of truth)
- :func:`open` / :func:`coverage` - lazy, dask-chunked, CF Datasets from a chosen source
- :mod:`satco2.catalog.readers` - one module per upstream file format (``READERS`` registry)
- :mod:`satco2.catalog.generate` - intake 2 catalogs and a static STAC catalog from the registry
- :mod:`satco2.catalog.store` - store layout: demo store paths and manifest, mirror paths and ledgers
- :mod:`satco2.catalog.footprints` - the demo store's footprints (grids and periods)
- :mod:`satco2.catalog.ingest` - ``satco2 ingest``: upstream files to the product's Zarr mirror
- :mod:`satco2.catalog.cli` - ``satco2 catalog list | show | search | generate``
- :func:`intake` - the generated intake 2 catalog, opened from any working directory
"""
from __future__ import annotations

from .. import SatCO2Error, config
from .registry import Product, get, ids, products, search  # noqa: F401


def open(product_id, source="demo", bbox=None, time=None, footprint=None, **kwargs):  # noqa: A001
    """Open ``product_id`` lazily from ``source`` (see :func:`satco2.catalog.sources.open`)."""
    from .sources import open as _open

    return _open(product_id, source=source, bbox=bbox, time=time, footprint=footprint, **kwargs)


def coverage(product_id, source="demo", **kwargs):
    """``(start, end)`` timestamps that ``source`` holds for ``product_id``."""
    from .sources import coverage as _coverage

    return _coverage(product_id, source=source, **kwargs)


def intake(**user_parameters):
    """The project's intake 2 catalog (``catalogs/intake/satco2.yaml``), from any working directory.

    ``user_parameters`` (``source``, ``bbox``, ``time``) are applied to the catalog, e.g.
    ``satco2.catalog.intake(source="demo")["global-sst-oisst-25km"].read()``.
    """
    import intake as _intake

    from .generate import INTAKE_FILE

    path = config.catalog_dir() / INTAKE_FILE
    if not path.is_file():
        raise SatCO2Error(f"the intake catalog {path} is missing; run `satco2 catalog generate`.")
    cat = _intake.from_yaml_file(str(path))
    return cat(**user_parameters) if user_parameters else cat
