"""SatCO2 Hub: marginal-sea carbon-flux research on the Pangeo stack.

Subpackages (one noun per module):

- :mod:`satco2.catalog` - the product registry, readers, ``open``, store layout, ingest (upstream
  files to Zarr mirror: idempotent, resumable, atomic), intake/STAC generation
- :mod:`satco2.demo` - the seeded synthetic demo store and its documented injected signals
- :mod:`satco2.compute` - the one call that returns a Dask client
- :mod:`satco2.science` - gas exchange, MeSAA, trends, regions, transport, gap filling, validation
- :mod:`satco2.dashboards` - Panel viewers per analysis, shared map pieces, the catalog browser
- :mod:`satco2.runs` - parameter validation, papermill execution, reports, publishing
- :mod:`satco2.services` - hub-managed services (dashboards, scheduler)
"""

__version__ = "0.1.0"

# `import satco2` stays light; `satco2.compute`, `satco2.catalog`... are imported on first use
# (PEP 562), so the README's `import satco2; satco2.compute.get_client()` works as typed.
_SUBMODULES = ("catalog", "demo", "compute", "science", "dashboards", "runs", "services",
               "config", "testing", "hub", "cf")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])


class SatCO2Warning(UserWarning):
    """Base class of every warning the package emits (tests turn them into errors)."""


class SatCO2Error(Exception):
    """Base class of user-facing errors: the message is one sentence that says what went wrong."""


class ValidityWarning(SatCO2Warning):
    """An empirical formula was evaluated outside the range its source validated it for."""
