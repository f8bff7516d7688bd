"""Serving the app with Waitress from a background thread (the main thread of ``serve`` and
``app`` waits for a stop signal, see :mod:`app.cli.serving`; tests serve the same way)."""

from __future__ import annotations

import contextlib
import logging
import threading

from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from app.api.http.errors import JsonErrorChannel
from app.api.http.swap import WSGIApp
from app.errors import CannotListen

log = logging.getLogger("hypercube.server")


class Server:
    """A bound Waitress server; the port is known (and connectable) once this returns.

    A client that hangs up mid-stream is noticed when the next chunk cannot be sent, which
    stops its generation (see :class:`app.api.openai.generation.ClientWatch`). Waitress's
    ``channel_request_lookahead`` would notice it even between chunks, but it halves the
    request rate of short requests and adds 100+ ms tails, so it stays off.
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 8080, *,
                 threads: int = 16, max_body_bytes: int = 100_000_000) -> None:
        try:
            self._server: BaseWSGIServer | MultiSocketServer = create_server(
                app, host=host, port=port, threads=threads, ident="hypercube",
                expose_tracebacks=False,
                # Our own 413 (an OpenAI error object) must fire first, so Waitress's limit
                # is set a little above it.
                max_request_body_size=max_body_bytes + 65536,
            )
        except OSError as exc:
            raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                               "(choose another --port, or 0 for a free one)") from exc
        # Waitress's own error answers (oversized or malformed bodies) as OpenAI errors.
        listeners = getattr(self._server, "map", {}).values() if isinstance(
            self._server, MultiSocketServer) else [self._server]
        for listener in listeners:
            if isinstance(listener, BaseWSGIServer):
                listener.channel_class = JsonErrorChannel
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(getattr(self._server, "effective_host", "127.0.0.1"))

    @property
    def port(self) -> int:
        return int(getattr(self._server, "effective_port", 0))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Server:
        """Serve from a daemon thread."""
        self._thread = threading.Thread(target=self._run_quietly, name="hypercube-server",
                                        daemon=True)
        self._thread.start()
        return self

    def _run_quietly(self) -> None:
        # close() pulls the sockets from under the loop; that is how it stops.
        with contextlib.suppress(OSError):
            self._server.run()

    def close(self) -> None:
        """Stop the worker threads, then close every socket, which ends the serving loop."""
        server = self._server
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        trigger = getattr(server, "trigger", None)
        if self._thread is not None and self._thread.is_alive() and trigger is not None:
            # Closing from inside the loop wakes it at once; from outside it would sleep out
            # its select() timeout first.
            # OSError: the loop closed its trigger already, so it is ending by itself.
            with contextlib.suppress(OSError):
                trigger.pull_trigger(self._close_sockets)
            self._thread.join(timeout=5)
        self._close_sockets()

    def _close_sockets(self) -> None:
        mapping = getattr(self._server, "_map", None) or getattr(self._server, "map", {})
        while mapping:
            for dispatcher in list(mapping.values()):
                try:
                    dispatcher.close()
                except OSError:
                    mapping.pop(dispatcher._fileno, None)
