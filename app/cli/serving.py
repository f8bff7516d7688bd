"""The one lifecycle of ``hypercube serve`` and ``hypercube app``: start, load, stop.

The server answers from its first moment while the model loads in a background thread
(``/health`` says ``loading``, generation requests get 503). Three rules make stopping safe at
any moment:

1. **LLVM never runs in the background.** The JIT kernels are compiled on the main thread
   before the loader starts (``jit.kernels`` compiles once per process, so every later load
   reuses them). Exiting while another thread was inside LLVM's optimiser ran LLVM's static
   destructors under it: an assertion (``isa<> used on a null pointer``, status -6) or a
   segfault, depending on the moment. What the loader does afterwards — reading and writing
   the store, numpy, calls into machine code already finalised — is safe to abandon at exit:
   its writes are SQLite transactions, rolled back as after a crash, and the next start
   redoes the load.
2. **A signal interrupts only our own code.** SIGTERM and SIGINT (Ctrl+C) are noted and
   acted on where the main thread runs our Python: while it waits, and while it builds the
   default hypercube (which it abandons). Elsewhere an interrupt would land in someone
   else's callback — llvmlite's object cache swallows it and prints it, a Qt slot in the
   desktop window turns it into ``qFatal`` (status -6) — so there the signal waits for the
   next check.
3. **One stop path.** Stopping prints ``hypercube: stopping`` and closes the server, the app's
   workers and the store, in reverse order of starting; the command exits with status 0, as a
   signal is how a server normally ends. Signals that arrive while it closes are ignored.

A signal that arrives before the command runs, while Python is still importing, ends the
process the default way (status 128+15): nothing is open yet.

A stop while the model is still loading leaves the loader thread running, and the
interpreter's own shutdown would then end it mid-call: a daemon thread that wants the GIL
back after finalisation began is ended with ``pthread_exit``, whose unwinding through C++
code that released the GIL (numpy's sorts, for one) calls ``std::terminate`` ("terminate
called without an active exception", status -6). So once everything is closed, a process
that would abandon a load leaves with ``os._exit`` (after flushing its output) instead of
finalising: nothing of it needs finalising, its writes being SQLite transactions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from app.api import ApiSettings, EngineSlot, Server, create_app
from app.api.app import ApiApp
from app.api.http.swap import SwappableApp
from app.api.runtime.model_loader import ModelLoader
from app.cli.replica import SnapshotWatcher
from app.engine.types import EngineProtocol
from app.ingest import Progress
from app.store import Store
from app.store.snapshot import manifest_path, verify_snapshot
from app.ui.first_start import BuildProgress, building_app

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from app.compose import Root
    from jit import Kernels

log = logging.getLogger("hypercube.server")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def say(line: str) -> None:
    print(f"hypercube: {line}", file=sys.stderr, flush=True)


def load_engine(path: Path, kernels: Kernels) -> EngineProtocol:
    """The engine for the hypercube at ``path`` (also used to reload after an ingest).

    Loading only reads (app/model/loading.py): the file is opened read-only whatever the
    server is, and a stale model is an error naming ``hypercube db repair``. The loaded model
    lives in memory, so the connection is closed again.
    """
    from app.engine import load_engine as load

    with Store(path, readonly=True) as store:
        return load(store, kernels)


class ServingProcess:
    """The server of one ``serve`` or ``app`` process, from its start to its stop.

    Use it as a context manager around the whole command: it catches the stop signals from
    its start, and on leaving (after :meth:`wait`, a stop during start-up, or the desktop
    window closing) it stops everything it started::

        with ServingProcess(root) as process:
            server = process.start(lambda on_progress: path, settings, host, port)
            process.wait()
    """

    def __init__(self, root: Root) -> None:
        self.root = root  # the settings' kernels and ingest plugins it serves with
        self.path: Path | None = None  # the hypercube served, once started
        self._stopped = threading.Event()
        self._interruptible = False
        self._closing = False
        self._previous: dict[int, Any] = {}
        self._started = contextlib.ExitStack()
        self._loaders: list[ModelLoader] = []

    def __enter__(self) -> ServingProcess:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._closing:
            return
        self._stopped.set()
        if self._interruptible:
            raise KeyboardInterrupt

    def _check(self) -> None:
        """Stop here if a signal came while it could not interrupt."""
        if self._stopped.is_set():
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def _interrupting(self) -> Iterator[None]:
        """A stretch of our own code that a signal may interrupt at once (rule 2)."""
        self._check()
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
        self._check()

    def start(self, find_path: Callable[[Callable[[Progress], None]], Path],
              settings: ApiSettings, host: str, port: int, threads: int = 16, *,
              otlp_endpoint: str | None = None, read_only: bool = False,
              on_serving: Callable[[Path, str], None] | None = None) -> Server:
        """Serve a hypercube and start loading its model; returns the serving server.

        Args:
            find_path: names the hypercube to serve; called once the kernels are compiled,
                since it may build the default hypercube (whose ingest would compile them),
                with a function to give that build's progress to (the page shows it).
            settings: keys, CORS, rate and body limits for :func:`app.api.create_app`.
            host: the address to listen on.
            port: the port (0 for a free one).
            threads: Waitress worker threads.
            otlp_endpoint: where to send request traces (None: tracing off).
            read_only: never write the hypercube, and follow its newer snapshots (see
                :mod:`app.cli.replica`).
            on_serving: told (the hypercube's path, the server's URL) once it serves that
                file, before the model starts loading, so whatever it announces comes
                before anything the load reports.
        """
        # Rule 1, before anything can ask for the kernels: the loader, an ingest run started
        # over HTTP, the default hypercube's build. ~0.4 s the first time; the kernel cache
        # makes it milliseconds after that.
        kernels = self.root.kernels
        provider = None
        if otlp_endpoint:
            from app.api.http.tracing import otlp_provider

            provider = otlp_provider(otlp_endpoint)
            self._started.callback(provider.shutdown)  # flushes the last spans
        if read_only:
            with self._interrupting():
                self.path = path = find_path(lambda progress: None)
            return self._start_replica(path, settings, host, port, threads, provider,
                                       on_serving)
        # First start: the port answers at once, with the build's progress (app.ui.first_start)
        # until the hypercube exists, then with the app. The server stops first, then the app,
        # then its store.
        closing_store = contextlib.ExitStack()
        self._started.callback(closing_store.close)
        building = BuildProgress()
        apps = SwappableApp(building_app(building, settings), _close_app)
        self._started.callback(apps.close)
        server = Server(apps, host, port, threads=threads,
                        max_body_bytes=settings.max_body_bytes).start()
        self._started.callback(server.close)
        with self._interrupting():
            self.path = path = find_path(_announcing(building, server.url))
        store = Store(path)
        closing_store.callback(store.close)
        slot = EngineSlot()
        apps.swap(create_app(store, slot, settings, plugins=self.root.plugins,
                             loader=lambda fresh: load_engine(fresh, kernels),
                             tracer_provider=provider))
        loader = ModelLoader(slot, lambda: load_engine(path, kernels))
        self._loaders.append(loader)
        self._started.callback(loader.stop)
        if on_serving is not None:
            on_serving(path, server.url)
        loader.start()  # retried with backoff until it succeeds: /health says why meanwhile
        self._check()
        return server

    def _start_replica(self, path: Path, settings: ApiSettings, host: str, port: int,
                       threads: int, provider: TracerProvider | None,
                       on_serving: Callable[[Path, str], None] | None) -> Server:
        """Serve ``path`` read-only, swapping in each newer snapshot of it."""
        if manifest_path(path).exists():
            verify_snapshot(path)   # never serve a snapshot that is not what was published

        def build(slot: EngineSlot) -> ApiApp:
            store = Store(path, readonly=True)
            try:
                app = create_app(store, slot, settings, plugins=self.root.plugins,
                                 tracer_provider=provider, read_only=True)
            except BaseException:
                store.close()
                raise
            app.state.extra_close.append(store.close)
            return app

        slot = EngineSlot()
        apps = SwappableApp(build(slot), lambda app: app.state.close())
        self._started.callback(apps.close)
        server = Server(apps, host, port, threads=threads,
                        max_body_bytes=settings.max_body_bytes).start()
        self._started.callback(server.close)

        def publish() -> None:
            apps.swap(build(EngineSlot(load_engine(path, self.root.kernels))))

        loader = ModelLoader(slot, lambda: load_engine(path, self.root.kernels))
        self._loaders.append(loader)
        self._started.callback(loader.stop)
        if on_serving is not None:
            on_serving(path, server.url)
        loader.start()
        watcher = SnapshotWatcher(path, publish).start()
        self._started.callback(watcher.stop)
        self._check()
        return server

    def wait(self) -> None:
        """Block until a stop signal arrives."""
        # In slices: Windows runs Python's signal handlers only between them.
        while not self._stopped.wait(0.5):
            pass

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        self._closing = True
        try:
            if exc_type is None or exc_type is KeyboardInterrupt:
                say("stopping")
            self._started.close()
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
        stopped = exc_type is None or exc_type is KeyboardInterrupt
        if stopped and any(not loader.wait(0) for loader in self._loaders):
            # A load under way: leave without finalising (see the module's last paragraph).
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        # Stopping by a signal (or Ctrl+C) is how a server ends, not an error.
        return exc_type is KeyboardInterrupt


def _close_app(app: object) -> None:
    state = getattr(app, "state", None)  # the first start's page has nothing to close
    if state is not None:
        state.close()


def _announcing(building: BuildProgress, url: str) -> Callable[[Progress], None]:
    """``building.update``, which also tells the user where to watch, once the build starts."""
    told = False

    def update(progress: Progress) -> None:
        nonlocal told
        if not told:
            told = True
            say(f"{url}/ shows the progress of this first start")
        building.update(progress)
    return update

