"""Analysis workflows, one module per notebook, named as the notebook and its dashboard module
(``notebooks/<name>.ipynb``, ``satco2.analyses.<name>``, ``satco2.dashboards.<name>``): input
selection (catalog opens), the workflow (``run_analysis`` etc.) and product writing. The pure
computations they call live in :mod:`satco2.science`.

- :mod:`satco2.analyses.pco2_flux` - MeSAA pCO2 and air-sea CO2 flux products and budgets.
- :mod:`satco2.analyses.doc_transport` - DOC transport through sections and around boxes.
- :mod:`satco2.analyses.marginal_sea_trends` - regional and per-pixel trends of marginal seas.
- :mod:`satco2.analyses.chl_gapfill` - chlorophyll gap filling, scoring and forecast.
- :mod:`satco2.analyses.matchups` - match-ups of in-situ observations with gridded products
  (also ``satco2 matchup``).
- :mod:`satco2.analyses.radiative_transfer` - the radiative-transfer sweep over the user's Dask
  cluster.
- :mod:`satco2.analyses.example` - the synthetic example that exercises runs and dashboards.
"""
