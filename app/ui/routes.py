"""The web UI's routes: the page at ``/`` and its static files under ``/ui/``.

The UI is plain HTML, CSS and JavaScript from ``assets/ui`` (no build step). The page is sent
with a Content-Security-Policy that allows only this origin, so nothing the UI shows can make
the browser reach the network, even a snippet of ingested code that looks like a URL.
"""

from __future__ import annotations

from pathlib import Path

import falcon

from app.resources import data_dir

# Everything from this origin; images also as data: URLs (canvas exports). No inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
)
UI_PREFIX = "/ui"
# Paths the UI serves without an API key: the page and its static files hold no data, and a
# browser cannot attach a key to a page load; every API call the page makes carries the key.
OPEN_PREFIXES = ("/ui/",)
OPEN_PATHS = frozenset({"/", "/favicon.ico"})


def ui_dir() -> Path:
    return data_dir("assets") / "ui"


def is_ui_path(path: str) -> bool:
    """Whether ``path`` is part of the UI (served without an API key)."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class IndexResource:
    """``GET /``: the single page; its routes live in the URL fragment (``#/chat``)."""

    accepts = ()

    def __init__(self, index: Path) -> None:
        self.index = index

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.data = self.index.read_bytes()
        policy = CONTENT_SECURITY_POLICY
        if req.get_param("shell") == "desktop":
            # pywebview's bridge (native file dialogs) builds its functions with eval; only
            # the desktop window asks for it, and our own scripts never eval anything.
            policy = policy.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")
        resp.set_header("Content-Security-Policy", policy)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")
        resp.cache_control = ["no-cache"]


class FaviconResource:
    accepts = ()

    def __init__(self, icon: Path) -> None:
        self.icon = icon

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "image/svg+xml"
        resp.data = self.icon.read_bytes()


def add_ui_routes(app: falcon.App, directory: Path | None = None) -> None:
    """Serve the UI at ``/`` (page) and ``/ui/…`` (scripts, styles, icons).

    Args:
        app: the API's Falcon app; the UI only adds routes, so the API's middleware (auth
            exemptions aside, see :func:`is_ui_path`) applies to it too.
        directory: the UI folder; defaults to the shipped ``assets/ui``.
    """
    root = (directory or ui_dir()).resolve()
    app.add_route("/", IndexResource(root / "index.html"))
    app.add_route("/favicon.ico", FaviconResource(root / "icon.svg"))
    # Falcon's static route refuses paths that climb out of the folder (.., symlinks aside).
    app.add_static_route(UI_PREFIX, str(root))
