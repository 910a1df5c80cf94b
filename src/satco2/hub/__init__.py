"""The hub: a single-machine JupyterHub + configurable-http-proxy + Dask Gateway deployment.

Modules (one noun each):

- :mod:`satco2.hub.settings` - ``hub-config/settings.yaml`` loaded and validated against its schema
- :mod:`satco2.hub.state` - the state directory (0700) and its secrets (0600)
- :mod:`satco2.hub.runtime` - what one start decided (ports, mode, paths), read by the traitlets configs
- :mod:`satco2.hub.launcher` - ``satco2 up``: start, wait, print the first screen, stop everything
- :mod:`satco2.hub.hooks` - small named snippets used by ``hub-config/jupyterhub_config.py``
- :mod:`satco2.hub.gateway` - cluster options and per-user limits for ``dask_gateway_config.py``
- :mod:`satco2.hub.supervise` - wrapper that keeps a managed service from taking the hub down
- :mod:`satco2.hub.render` - Kubernetes Helm values rendered from the same settings
- :mod:`satco2.hub.cli` - ``satco2 up`` / ``satco2 down``
"""
