"""The bundled demo site: feeds and article pages written for feedwatch, and their server."""

from flows.demo.server import SiteServer, demo_server
from flows.demo.site import ATOM_PATH, RSS_PATH, Route, load_articles, render_site

__all__ = [
    "ATOM_PATH",
    "RSS_PATH",
    "Route",
    "SiteServer",
    "demo_server",
    "load_articles",
    "render_site",
]
