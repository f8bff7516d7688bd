"""The desktop window: pywebview on the local server, or the default browser without a GUI.

pywebview uses Qt WebEngine on Linux and the system's web view on Windows (Edge WebView2)
and macOS (WKWebView). Where there is no display or no web view, :func:`open_ui` says why and
opens the user's browser instead, so ``hypercube app`` always ends with the UI in front of
the user (or, on a headless box, with its URL on the terminal).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

WINDOW_TITLE = "Hypercube"
WINDOW_SIZE = (1280, 840)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the executable raises this for modules left out of the build
        return False


def gui_unavailable_reason() -> str | None:
    """Why no window can be opened here, or None if pywebview should manage."""
    if not _installed("webview"):
        if "__compiled__" in globals():  # the Nuitka executable, built without the window
            return "this executable has no built-in window"
        return "pywebview is not installed (pip install 'hypercube[desktop]')"
    if sys.platform.startswith("linux"):
        offscreen = os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal")
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or offscreen):
            return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
        if not (_installed("PyQt6.QtWebEngineWidgets")
                or _installed("PySide6.QtWebEngineWidgets")):
            return "Qt WebEngine is not installed (pip install 'hypercube[desktop]')"
    return None


class DesktopBridge:
    """What the page may call through ``window.pywebview.api``: native file dialogs, so the
    Ingest page gets real paths (a web page only ever sees file names)."""

    def __init__(self) -> None:
        self._window: Any = None  # private: pywebview exposes public attributes to the page

    def pick_paths(self, kind: str) -> list[str]:
        import webview

        dialog = webview.FileDialog.FOLDER if kind == "folder" else webview.FileDialog.OPEN
        chosen = self._window.create_file_dialog(dialog, allow_multiple=True)
        return [str(p) for p in chosen or ()]


def desktop_url(url: str) -> str:
    """``url`` marked as the desktop window's, which lets pywebview's bridge run (see
    app.ui.routes.IndexResource)."""
    page, hash_mark, fragment = url.partition("#")
    return f"{page}?shell=desktop{hash_mark}{fragment}"


def _prepare_qt() -> None:
    # Chromium (inside Qt WebEngine) refuses to start as root with its sandbox on; a root
    # session is a container or a kiosk box, where the sandbox has nothing to protect anyway.
    if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0:
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --no-sandbox".strip()


def open_window(url: str, storage: Path) -> None:
    """Show ``url`` in a window and return when the user closes it.

    Args:
        url: the page to show.
        storage: where the web view keeps localStorage (chat history, settings) between runs.

    Raises:
        RuntimeError: pywebview could not open a window (no usable GUI backend).
    """
    _prepare_qt()
    import webview

    bridge = DesktopBridge()
    window = webview.create_window(WINDOW_TITLE, desktop_url(url), js_api=bridge,
                                   width=WINDOW_SIZE[0], height=WINDOW_SIZE[1],
                                   min_size=(720, 480), text_select=True, zoomable=True)
    bridge._window = window
    storage.mkdir(parents=True, exist_ok=True)
    gui = "qt" if sys.platform.startswith("linux") else None
    try:
        with _CloseOnSignal(window):
            webview.start(gui=gui, private_mode=False, storage_path=str(storage))
    except webview.WebViewException as exc:
        raise RuntimeError(str(exc)) from exc


class _CloseOnSignal:
    """Close the window on Ctrl+C / SIGTERM.

    While the GUI toolkit's loop runs in the main thread, Python's own signal handlers wait
    for it to return, which it never does. The C-level handler still writes each signal to the
    wakeup fd at once, so a thread reading it closes the window, and the loop returns.
    """

    def __init__(self, window: Any) -> None:
        self.window = window
        self.done = False

    def __enter__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.writer.setblocking(False)
        self.previous = signal.set_wakeup_fd(self.writer.fileno())
        threading.Thread(target=self._watch, name="hypercube-window-signals",
                         daemon=True).start()

    def _watch(self) -> None:
        try:
            received = self.reader.recv(1)
        except OSError:
            return
        if received and not self.done:
            self.window.destroy()

    def __exit__(self, *exc: object) -> None:
        self.done = True
        signal.set_wakeup_fd(self.previous)
        with contextlib.suppress(OSError):
            self.writer.send(b"\0")  # wakes the watcher, which sees done and leaves
        self.writer.close()


def open_ui(url: str, storage: Path, *, say: Callable[[str], None],
            wait: Callable[[], None]) -> None:
    """Open the UI: a window if possible, else the default browser, else just the URL.

    Args:
        url: the page.
        storage: the window's localStorage folder.
        say: prints one line to the user.
        wait: blocks until the user stops the server (used when no window holds the process).
    """
    reason = gui_unavailable_reason()
    if reason is None:
        try:
            open_window(url, storage)
            return
        except RuntimeError as exc:
            reason = f"the window could not open: {exc}"
    say(f"no GUI available ({reason}); opening the default browser")
    if not webbrowser.open(url):
        say(f"no browser found either: open {url} yourself")
    wait()
