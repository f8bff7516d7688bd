"""Swapping the whole app under a running server without dropping a request.

A replica that gets a newer snapshot builds a complete new app over it (engine, code
index, stores) next to the one serving, then makes it current: requests that arrive from
then on go to the new app, requests already inside the old one — streams included — finish
there, and the old app is closed when its last request is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from app.api.http.finishing import ClosingBody

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
App = TypeVar("App", bound=WSGIApp)


class SwappableApp(Generic[App]):
    """A WSGI app that forwards to the current app and retires replaced ones when idle."""

    def __init__(self, app: App, close: Callable[[App], None]) -> None:
        self._current = app
        self._close = close
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {id(app): 0}
        self._retiring: dict[int, App] = {}

    @property
    def current(self) -> App:
        return self._current

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        with self._lock:
            app = self._current
            self._inflight[id(app)] += 1
        try:
            body = app(environ, start_response)
        except BaseException:
            self._finished(app)
            raise
        return ClosingBody(body, lambda: self._finished(app))

    def swap(self, app: App) -> None:
        """Make ``app`` current; the old one is closed once its requests are done."""
        with self._lock:
            old, self._current = self._current, app
            self._inflight[id(app)] = 0
            self._retiring[id(old)] = old
            idle = self._inflight[id(old)] == 0
        if idle:
            self._retire(old)

    def close(self) -> None:
        """Close the current app and any still retiring (the server has stopped)."""
        with self._lock:
            apps = [self._current, *self._retiring.values()]
            self._retiring.clear()
        for app in apps:
            self._close(app)

    def _finished(self, app: App) -> None:
        with self._lock:
            self._inflight[id(app)] -= 1
            idle = self._inflight[id(app)] == 0 and id(app) in self._retiring
        if idle:
            self._retire(app)

    def _retire(self, app: App) -> None:
        with self._lock:
            if self._retiring.pop(id(app), None) is None:
                return
            del self._inflight[id(app)]
        self._close(app)
