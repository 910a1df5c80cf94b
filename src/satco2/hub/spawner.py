"""The hub's spawners: JupyterHub's local-process spawners that return only once the server answers.

JupyterHub learns that a new single-user server is up by polling it (``User._wait_up``) with an
exponential back-off with full jitter: waits drawn from 0..0.2 s, 0..0.4 s, ... up to 0..5 s. A
server that takes 4-8 s to start is therefore noticed on average 1-2 s late, and up to 5 s late;
the user watches the spawn page meanwhile. :class:`ReadyWhenUp` asks the server every
:attr:`ReadyWhenUp.ready_poll_interval` (0.05) seconds from inside ``start()`` (an HTTP request that waits
while the port is open, so a server that has bound its port is heard the moment it answers), and
returns when it answers; JupyterHub's own check then succeeds at its first try. Nothing else
changes: a server that exits or never answers is reported by JupyterHub as before
(``Spawner.poll``, ``Spawner.http_timeout``).

``hub-config/jupyterhub_config.py`` uses :class:`LocalProcessSpawner` (root mode) and
:class:`SimpleLocalProcessSpawner` (single-account mode); docs/hub.md, "Time to a usable JupyterLab".
"""
from __future__ import annotations

import asyncio
import time

from jupyterhub import spawner as _jh
from tornado.httpclient import AsyncHTTPClient, HTTPClientError


class ReadyWhenUp:
    """Mixin (first base) for a JupyterHub spawner whose ``start()`` returns ``(ip, port)``: wait,
    inside ``start()``, until the server answers HTTP at ``<base_url>api`` (any status below 500)."""

    #: seconds between two attempts to reach a starting server that refuses connections
    ready_poll_interval = 0.05

    async def start(self):
        t0 = time.monotonic()
        ip, port = await super().start()
        if not getattr(self, "internal_ssl", False):  # with internal TLS: JupyterHub's own wait
            if await self._until_answers(f"http://{ip or '127.0.0.1'}:{port}{self.server.base_url}api"):
                self.log.info("%s answered %.2f s after its start", self._log_name, time.monotonic() - t0)
        return ip, port

    async def _until_answers(self, url: str) -> bool:
        """True once ``url`` answers; False when the process exits or ``http_timeout`` passes
        (JupyterHub then reports it as it always does)."""
        client = AsyncHTTPClient()
        deadline = time.monotonic() + self.http_timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                await client.fetch(url, follow_redirects=False, connect_timeout=min(left, 2),
                                   request_timeout=left)
                return True
            except HTTPClientError as e:
                if e.code < 500:  # 403/404/...: the server answers
                    return True
            except OSError:  # connection refused: not listening yet
                pass
            if await self.poll() is not None:
                return False
            await asyncio.sleep(self.ready_poll_interval)
        return False


class LocalProcessSpawner(ReadyWhenUp, _jh.LocalProcessSpawner):
    """``LocalProcessSpawner`` (each hub user as its system account) that returns when the server answers."""


class SimpleLocalProcessSpawner(ReadyWhenUp, _jh.SimpleLocalProcessSpawner):
    """``SimpleLocalProcessSpawner`` (one account) that returns when the server answers."""
