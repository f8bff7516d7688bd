"""``hypercube app`` as a user runs it: headless with --no-window, falling back to the browser
without a display, and a real pywebview (Qt WebEngine) window under Xvfb that must show the UI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_helpers import build_hypercube
from tests.conftest import REPO, run_hypercube, write_python_corpus

SERVING = re.compile(r"hypercube: serving .* with its UI at (http://127\.0\.0\.1:\d+/)")


@pytest.fixture(scope="module")
def hypercube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("desktop")
    write_python_corpus(root / "corpus", files=10, seed=5)
    return build_hypercube(root / "app.hypercube", root / "corpus")


class App:
    """``python -m app app …`` in a child process; its stderr is read line by line."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "app", *args], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.url = self.wait_for(SERVING).group(1)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = pattern.search(line)
            if found:
                return found
            assert time.monotonic() < deadline, "".join(self.lines)
        raise AssertionError("the app exited:\n" + "".join(self.lines))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
            raise AssertionError("the app did not stop on SIGTERM:\n" + "".join(self.lines)
                                 + out) from None
        self.lines.append(out)
        return self.process.returncode


def app_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HYPERCUBE_", "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA"))}
    env["HYPERCUBE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(url + "health")[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the model never finished loading"
        time.sleep(0.1)


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_no_window_serves_the_ui_and_stops_on_sigterm(hypercube: Path,
                                                      isolated_user_dir: Path) -> None:
    app = App("--no-window", "--db", str(hypercube), env=app_env(isolated_user_dir))
    try:
        status, kind, body = get(app.url)
        assert (status, kind) == (200, "text/html; charset=utf-8")
        assert b'<script type="module" src="ui/js/main.js">' in body
        assert get(app.url + "ui/js/main.js")[0] == 200
        wait_ready(app.url)
        models = json.loads(get(app.url + "v1/models")[2])
        assert models["object"] == "list"
    finally:
        assert app.stop() == 0
    assert "hypercube: stopping\n" in "".join(app.lines)


def test_no_window_stops_cleanly_while_the_model_loads(tmp_path: Path,
                                                       isolated_user_dir: Path) -> None:
    # The same stop path as `serve` (app/cli/serving.py): no waiting for the load, no abort.
    write_python_corpus(tmp_path / "corpus", files=150, seed=9, lines=100)
    db = build_hypercube(tmp_path / "h.hypercube", tmp_path / "corpus")
    # Stopped the moment it says it serves: it announces that before the model starts
    # loading, so the stop lands in the load (or, the load taking ~50 ms here, just after
    # it: no timing is assumed, the stop must be clean either way).
    app = App("--no-window", "-q", "--db", str(db), env=app_env(isolated_user_dir))
    assert app.stop() == 0
    assert app.lines[-1].splitlines()[-1] == "hypercube: stopping"
    assert not any("Traceback" in line or "Assertion" in line for line in app.lines)
    check = run_hypercube("db", "check", "--db", db)
    assert check.returncode == 0, check.stderr


def test_without_a_display_it_opens_the_browser(hypercube: Path, isolated_user_dir: Path,
                                                tmp_path: Path) -> None:
    # The user's browser is the boundary: $BROWSER names the command webbrowser runs.
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    browser.chmod(0o755)
    app = App("--db", str(hypercube), env=app_env(isolated_user_dir, BROWSER=str(browser)))
    try:
        app.wait_for(re.compile(r"no GUI available \(.*\); opening the default browser"))
        deadline = time.monotonic() + 10
        while not opened.exists():
            assert time.monotonic() < deadline, "".join(app.lines)
            time.sleep(0.05)
        assert opened.read_text().strip() == app.url
    finally:
        assert app.stop() == 0


def test_first_start_creates_your_hypercube_from_the_default(isolated_user_dir: Path) -> None:
    app = App("--no-window", env=app_env(isolated_user_dir))
    try:
        assert (isolated_user_dir / "hypercube.db").exists()
        wait_ready(app.url)
        assert any("creating your hypercube from the starter corpus" in line
                   for line in app.lines)
        stats = json.loads(get(app.url + "v1/hypercube/stats")[2])
        assert stats["counts"]["documents"] > 100
    finally:
        assert app.stop() == 0


def unused_display() -> str:
    """An X display number with no server behind it: Qt's xcb plugin cannot start there."""
    number = next(n for n in range(4321, 4400) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    return f":{number}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_when_qt_cannot_start_it_opens_the_browser(hypercube: Path, isolated_user_dir: Path,
                                                    tmp_path: Path) -> None:
    pytest.importorskip("webview")
    pytest.importorskip("PyQt6.QtWebEngineWidgets")
    # A display is set but Qt cannot use it: the app used to abort (status 134) right here.
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    browser.chmod(0o755)
    app = App("--db", str(hypercube),
              env=app_env(isolated_user_dir, DISPLAY=unused_display(), BROWSER=str(browser)))
    try:
        line = app.wait_for(re.compile(r"no GUI available \(Qt cannot start here: .+\); "
                                       r"opening the default browser")).group(0)
        assert "xcb" in line or "display" in line, line
        deadline = time.monotonic() + 10
        while not opened.exists():
            assert time.monotonic() < deadline, "".join(app.lines)
            time.sleep(0.05)
        assert opened.read_text().strip() == app.url
    finally:
        assert app.stop() == 0
    assert sum("no GUI available" in line for line in app.lines) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_doctor_says_when_the_window_cannot_open(isolated_user_dir: Path) -> None:
    pytest.importorskip("PyQt6.QtWebEngineWidgets")
    env = app_env(isolated_user_dir, DISPLAY=unused_display())
    done = subprocess.run([sys.executable, "-m", "app", "doctor", "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    window = checks["desktop window"]
    assert window["ok"] is False and window["required"] is False
    assert window["detail"].startswith("Qt cannot start here: ")


def test_the_window_fits_the_screen() -> None:
    from app.ui.desktop import Screen, window_geometry

    assert window_geometry(Screen(0, 0, 1920, 1080)) == (1280, 840, 320, 120)
    # The 800-pixel screen the window used to spill off: fitted, margins kept, centred.
    assert window_geometry(Screen(0, 0, 800, 800)) == (752, 752, 24, 24)
    assert window_geometry(Screen(1920, 30, 1280, 720)) == (1232, 672, 1944, 54)
    assert window_geometry(None) == (1280, 840, None, None)


# -- the real window ------------------------------------------------------------------------

XVFB = shutil.which("Xvfb")

# Grabs the X screen through Qt (already installed for the window) and reports how many
# distinct colours it shows: a blank or black window has one or two.
GRAB = textwrap.dedent("""
    import sys
    from PyQt6.QtGui import QGuiApplication
    app = QGuiApplication(sys.argv)
    image = app.primaryScreen().grabWindow(0).toImage()
    image.save(sys.argv[1])
    colours = {image.pixel(x, y) for x in range(0, image.width(), 3)
               for y in range(0, image.height(), 3)}
    print(len(colours))
""")


@pytest.fixture
def display() -> Iterator[str]:
    if XVFB is None:
        pytest.skip("Xvfb is not installed (.ci/apt-packages.txt)")
    with socket.socket() as s:  # a display number nobody uses: derived from a free port
        s.bind(("127.0.0.1", 0))
        number = 100 + s.getsockname()[1] % 400
    server = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1280x860x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_path = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        assert server.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.slow
def test_window_shows_the_ui_under_xvfb(hypercube: Path, isolated_user_dir: Path,
                                        display: str, tmp_path: Path) -> None:
    pytest.importorskip("webview")
    pytest.importorskip("PyQt6.QtWebEngineWidgets")
    env = app_env(isolated_user_dir, DISPLAY=display)
    app = App("--db", str(hypercube), env=env)
    try:
        # The page loaded its script and, once running, asked for the model list.
        app.wait_for(re.compile(r'"path":\s*"/v1/models"'), timeout=90)
        time.sleep(2)  # let it paint
        shot = tmp_path / "window.png"
        grab = subprocess.run([sys.executable, "-c", GRAB, str(shot)], env=env,
                              capture_output=True, text=True, timeout=60, check=True)
        colours = int(grab.stdout.split()[-1])
        assert shot.stat().st_size > 10_000
        assert colours > 50, f"the window looks blank ({colours} colours)"
        assert not any("no GUI available" in line for line in app.lines)
    finally:
        assert app.stop() == 0


def test_qt_reports_the_screen_it_can_use(display: str, isolated_user_dir: Path) -> None:
    pytest.importorskip("webview")
    pytest.importorskip("PyQt6.QtWebEngineWidgets")
    done = subprocess.run([sys.executable, "-c", "from app.ui.desktop import check_gui; "
                           "print(check_gui())"], cwd=REPO, capture_output=True, text=True,
                          env=app_env(isolated_user_dir, DISPLAY=display), timeout=120)
    assert done.stdout.strip() == ("GuiCheck(reason=None, screen=Screen(x=0, y=0, width=1280, "
                                   "height=860))"), done.stderr
