"""``hypercube app``: the server in this process on a free loopback port, and the UI on it.

The UI ingests into the hypercube it serves, so without ``--db`` the app serves *your*
hypercube (``HYPERCUBE_DB`` or hypercube.db in the user data folder); the first time there is
none, it starts as a copy of the embedded default one, so chat answers from the first minute
and what you ingest is added to it, never to the shared default file.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from app.api import ApiSettings
from app.cli.common import add_db_option, root_of
from app.cli.serving import ServingProcess, say
from app.errors import StoreError
from app.store.backup import copy_hypercube

if TYPE_CHECKING:
    from app.ingest import Progress

LOOPBACK = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "app", help="open the desktop app (the server and its UI)",
        description="Start the server on a free loopback port and open the UI in a window "
                    "(Qt on Linux, the system web view on Windows and macOS). Without a GUI it "
                    "opens the default browser; --no-window only serves.")
    add_db_option(parser)
    parser.add_argument("--no-window", action="store_true",
                        help="serve the UI without opening a window or a browser")
    parser.add_argument("--port", type=int, default=0, metavar="N",
                        help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no access log on stderr")
    parser.set_defaults(func=run)


def app_db_path(args: argparse.Namespace,
                on_progress: Callable[[Progress], None] | None = None) -> Path:
    """``--db``, else the user's own hypercube, created from the default one if missing."""
    if args.db is not None:
        if not args.db.exists():
            raise StoreError(f"no hypercube at {args.db}")
        return args.db
    root = root_of(args)
    path = root.settings.user_db_path
    if not path.exists():
        say("creating your hypercube from the starter corpus (once)…")
        default = root.ensure_default_hypercube(on_progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        # SQLite's backup API (WAL frames included), and the segment files beside it.
        copy_hypercube(default, partial, segments_for=path)
        partial.replace(path)
    return path


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    # The desktop user may ingest from their own home folder (the UI's ingest page) unless
    # HYPERCUBE_INGEST_ROOT says otherwise; the server is loopback-only.
    root = root_of(args)
    settings = ApiSettings.resolve(root.settings, bind_host=LOOPBACK,
                                   default_ingest_roots=[Path.home()])
    with ServingProcess(root) as process:
        server = process.start(partial(app_db_path, args), settings, LOOPBACK, args.port,
                               on_serving=lambda path, url: say(
                                   f"serving {path} with its UI at {url}/"))
        url = f"{server.url}/"
        # A configured key reaches the page in the URL fragment, never sent over HTTP.
        # The admin key if there is one: the UI also ingests.
        key = (settings.admin_keys or settings.api_keys or ("",))[0]
        page = f"{url}#/chat?key={quote(key)}" if key else url

        def wait() -> None:
            say("press Ctrl+C to stop")
            process.wait()

        if args.no_window:
            wait()
        else:
            from app.ui.desktop import open_ui

            open_ui(page, root.settings.webview_dir, say=say, wait=wait)
    return 0
