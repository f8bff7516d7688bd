"""The desktop window: pywebview on the local server, or the default browser without a GUI.

pywebview uses Qt WebEngine on Linux and the system's web view on Windows (Edge WebView2)
and macOS (WKWebView). Where there is no display or no web view, :func:`open_ui` says why and
opens the user's browser instead, so ``hypercube app`` always ends with the UI in front of
the user (or, on a headless box, with its URL on the terminal). On Linux, Qt is first started
in a child process (:func:`probe_qt`): a platform plugin that cannot load (xcb without its
libraries, a display that refuses) aborts the process that tries, and that must not be ours.
The same child reports the screen's size, which the window is fitted to.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

WINDOW_TITLE = "Hypercube"
WINDOW_SIZE = (1280, 840)
MIN_SIZE = (720, 480)
SCREEN_MARGIN = 24  # px left free around the window on a screen smaller than WINDOW_SIZE
PROBE_SECONDS = 40

# Run in a child process: whether Qt can start its platform plugin (xcb, wayland) and
# WebEngine here, and the primary screen's free area. A plugin that cannot load makes Qt
# abort the whole process (status 134), so it is tried where an abort costs nothing.
_QT_PROBE = """
import sys
from {qt}.QtWidgets import QApplication
from {qt} import QtWebEngineWidgets  # must be imported before the application exists
app = QApplication(sys.argv[:1])
area = app.primaryScreen().availableGeometry()
print("screen", area.x(), area.y(), area.width(), area.height(), flush=True)
"""


@dataclass(frozen=True)
class Screen:
    """The part of the primary screen a window may use (without panels and docks)."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class GuiCheck:
    """Whether a window can open here: ``reason`` says why not; ``screen`` when known."""

    reason: str | None
    screen: Screen | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the executable raises this for modules left out of the build
        return False


def _qt_binding() -> str | None:
    for qt in ("PyQt6", "PySide6"):
        if _installed(f"{qt}.QtWebEngineWidgets"):
            return qt
    return None


def check_gui() -> GuiCheck:
    """Whether a window can open here, tried for real where it matters (Linux: Qt)."""
    if not _installed("webview"):
        if "__compiled__" in globals():  # the Nuitka executable, built without the window
            return GuiCheck("this executable has no built-in window")
        return GuiCheck("pywebview is not installed (pip install 'hypercube[desktop]')")
    if not sys.platform.startswith("linux"):
        return GuiCheck(None)  # the system's web view (Edge WebView2, WKWebView)
    offscreen = os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or offscreen):
        return GuiCheck("no display (neither DISPLAY nor WAYLAND_DISPLAY is set)")
    qt = _qt_binding()
    if qt is None:
        return GuiCheck("Qt WebEngine is not installed (pip install 'hypercube[desktop]')")
    if "__compiled__" in globals():
        return GuiCheck(None)  # no interpreter to run the probe with: the window will tell
    return probe_qt(qt)


def probe_qt(qt: str) -> GuiCheck:
    """Start Qt and its WebEngine in a child process and report what happened."""
    _prepare_qt()
    try:
        done = subprocess.run([sys.executable, "-c", _QT_PROBE.format(qt=qt)],
                              capture_output=True, text=True, timeout=PROBE_SECONDS,
                              env=os.environ.copy())
    except subprocess.TimeoutExpired:
        return GuiCheck(f"Qt did not start within {PROBE_SECONDS} s")
    except OSError as exc:
        return GuiCheck(f"cannot run the Qt check: {exc}")
    for line in done.stdout.splitlines():
        if done.returncode == 0 and line.startswith("screen "):
            x, y, width, height = (int(n) for n in line.split()[1:5])
            return GuiCheck(None, Screen(x, y, width, height))
    return GuiCheck(f"Qt cannot start here: {_qt_failure(done.stderr, done.returncode)}")


def _qt_failure(stderr: str, returncode: int) -> str:
    """The one line of Qt's output that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    telling = ("Could not load the Qt platform plugin", "could not connect to display")
    for line in lines:
        if any(text in line for text in telling):
            return line.removeprefix("qt.qpa.plugin: ").removeprefix("qt.qpa.xcb: ").rstrip(".")
    if lines:
        return lines[-1]
    return f"it ended with status {returncode}"


def gui_unavailable_reason() -> str | None:
    """Why no window can be opened here, or None if pywebview should manage."""
    return check_gui().reason


def window_geometry(screen: Screen | None) -> tuple[int, int, int | None, int | None]:
    """The window's size and place: WINDOW_SIZE, shrunk to fit ``screen`` and centred on it
    (None for the place when the screen is unknown: the system places it)."""
    if screen is None:
        return (*WINDOW_SIZE, None, None)
    width = max(min(MIN_SIZE[0], screen.width),
                min(WINDOW_SIZE[0], screen.width - 2 * SCREEN_MARGIN))
    height = max(min(MIN_SIZE[1], screen.height),
                 min(WINDOW_SIZE[1], screen.height - 2 * SCREEN_MARGIN))
    return (width, height, screen.x + (screen.width - width) // 2,
            screen.y + (screen.height - height) // 2)


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


def open_window(url: str, storage: Path, screen: Screen | None = None) -> None:
    """Show ``url`` in a window and return when the user closes it.

    Args:
        url: the page to show.
        storage: where the web view keeps localStorage (chat history, settings) between runs.
        screen: the screen's free area, to fit and centre the window on (else the system's
            choice of place, at WINDOW_SIZE).

    Raises:
        RuntimeError: pywebview could not open a window (no usable GUI backend).
    """
    _prepare_qt()
    import webview

    bridge = DesktopBridge()
    width, height, x, y = window_geometry(screen)
    window = webview.create_window(WINDOW_TITLE, desktop_url(url), js_api=bridge,
                                   width=width, height=height, x=x, y=y,
                                   min_size=(min(MIN_SIZE[0], width), min(MIN_SIZE[1], height)),
                                   text_select=True, zoomable=True)
    bridge._window = window
    storage.mkdir(parents=True, exist_ok=True)
    gui: Literal["qt"] | None = "qt" if sys.platform.startswith("linux") else None
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
    check = check_gui()
    reason = check.reason
    if reason is None:
        try:
            open_window(url, storage, check.screen)
            return
        except RuntimeError as exc:
            reason = f"the window could not open: {exc}"
    say(f"no GUI available ({reason}); opening the default browser")
    if not webbrowser.open(url):
        say(f"no browser found either: open {url} yourself")
    wait()
