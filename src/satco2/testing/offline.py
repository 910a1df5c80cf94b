"""Offline checks: does a page or an exported file load anything from another host?

A hub often has no internet, and a page that loads its JavaScript or CSS from a CDN stays blank
there. :func:`external_references` lists the resources an HTML document would *load* from a host
other than loopback (``src``/``href`` of script, link, img, iframe, source, embed and CSS
``@import``/``url()``); plain links (``<a href>``) and URLs quoted inside inline code are not loads.
:func:`is_external` is the host test shared with the browser tests (which also record the requests
a real page makes).
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]", ""}
_LOADING = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src",
            "audio": "src", "video": "src", "link": "href"}
_CSS_URL = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*['"]?(https?:)?//[^'")\s]+""", re.I)


def is_external(url: str) -> bool:
    """True when ``url`` names a network host other than loopback (http, https, ws, wss, //host)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss", "") or (not parts.scheme and not url.startswith("//")):
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        attr = _LOADING.get(tag)
        if attr and a.get(attr) and is_external(a[attr]):
            if tag != "link" or (a.get("rel") or "").lower() not in ("canonical", "author", "license"):
                self.found.append(a[attr])
        if a.get("style"):
            self.found += [m.group(0) for m in _CSS_URL.finditer(a["style"]) if is_external(_url(m.group(0)))]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found += [m.group(0) for m in _CSS_URL.finditer(data) if is_external(_url(m.group(0)))]


def _url(css_match: str) -> str:
    m = re.search(r"(https?:)?//\S+", css_match)
    return m.group(0) if m else ""


def external_references(html: str) -> list[str]:
    """The URLs on other hosts that the HTML document ``html`` would load (empty when offline-safe)."""
    c = _Collector()
    c.feed(html)
    c.close()
    return c.found
