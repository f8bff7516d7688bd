"""What the port answers while the first start builds the default hypercube.

Building the default hypercube takes about a minute on a busy machine. Rather than refuse
connections for that long (the browser would show its own error page), the server listens at
once and answers with :func:`building_app`: the UI's own page and files, whose shell sees
``/health`` say ``building`` and shows the build's progress, and an OpenAI error object (503,
``Retry-After``) for every API call. When the build is done, the serving process swaps in the
real app (:class:`app.api.http.swap.SwappableApp`); the page notices ``/health`` change and opens
the app.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import falcon

from app import __version__
from app.api.config import ApiSettings
from app.api.http import errors
from app.api.http.middleware import HostGuard
from app.ingest import Progress
from app.ui.routes import add_ui_routes

RETRY_AFTER_SECONDS = 2


class BuildProgress:
    """The latest progress of the build, written by the building thread, read by requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._progress = Progress(phase="preparing")
        self.started = time.time()

    def update(self, progress: Progress) -> None:
        with self._lock:
            self._progress = Progress(**asdict(progress))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            progress = asdict(self._progress)
        progress.pop("current", None)  # a file name of the starter corpus tells nobody much
        progress["seconds"] = round(time.time() - self.started, 1)
        return progress


class _BuildingHealth:
    accepts = ()

    def __init__(self, progress: BuildProgress) -> None:
        self.progress = progress

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_503
        resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
        resp.cache_control = ["no-store"]
        resp.media = {"status": "building", "model_loaded": False, "version": __version__,
                      "building": self.progress.snapshot()}


class _NotYet:
    """Every other path: the API is not there yet, said the OpenAI way."""

    def __call__(self, req: falcon.Request, resp: falcon.Response, **_: Any) -> None:
        resp.status = falcon.HTTP_503
        resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
        resp.media = {"error": {
            "message": "the default hypercube is being built (first start, about a minute); "
                       "GET /health shows the progress",
            "type": "server_error", "param": None, "code": "building"}}


def building_app(progress: BuildProgress, settings: ApiSettings,
                 ui_directory: Path | None = None) -> falcon.App:
    """The app the port serves while the default hypercube is built: the same Host and Origin
    rules as the API (DNS rebinding), the same error objects."""
    app = falcon.App(middleware=[HostGuard(settings.bind_host, settings.allowed_hosts,
                                           settings.cors_origins)])
    errors.install(app)
    add_ui_routes(app, ui_directory)
    app.add_route("/health", _BuildingHealth(progress))
    app.add_sink(_NotYet(), r"/(?!ui/|$|favicon\.ico$)")
    return app
