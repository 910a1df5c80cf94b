"""SatCO2 Hub: marginal-sea carbon-flux research on the Pangeo stack.

Subpackages (one noun per module):

- :mod:`satco2.catalog` - the product registry, readers, ``open``, intake/STAC generation, browser app
- :mod:`satco2.ingest` - upstream files to Zarr mirror (idempotent, resumable, atomic)
- :mod:`satco2.demo` - the seeded synthetic demo store and its documented injected signals
- :mod:`satco2.compute` - the one call that returns a Dask client
- :mod:`satco2.science` - gas exchange, MeSAA, trends, regions, transport, gap filling, validation
- :mod:`satco2.dashboards` - Panel viewers per analysis and shared map pieces
- :mod:`satco2.runs` - parameter validation, papermill execution, reports, publishing
- :mod:`satco2.services` - hub-managed services (dashboards, scheduler)
"""

__version__ = "0.1.0"


class SatCO2Warning(UserWarning):
    """Base class of every warning the package emits (tests turn them into errors)."""


class SatCO2Error(Exception):
    """Base class of user-facing errors: the message is one sentence that says what went wrong."""


class ValidityWarning(SatCO2Warning):
    """An empirical formula was evaluated outside the range its source validated it for."""
