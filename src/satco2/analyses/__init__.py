"""Analysis workflows, one module per notebook (inputs, steps, products, provenance); the pure
computations they call live in :mod:`satco2.science`.

- :mod:`satco2.analyses.radiative_transfer` - the radiative-transfer sweep over the user's Dask
  cluster (``notebooks/radiative_transfer.ipynb``).
"""
