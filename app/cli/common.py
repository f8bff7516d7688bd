"""Options and output shared by several subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import apsw
import orjson

from app.errors import StoreError, store_error
from app.settings import SETTINGS
from app.store import Store

if TYPE_CHECKING:
    from app.compose import Root
    from app.ingest import Progress


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="FILE", help=SETTINGS["db"].help)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def root_of(args: argparse.Namespace) -> Root:
    """The composition root ``app.cli.main`` attached to the parsed arguments."""
    root: Root = args.root
    return root


def db_path(args: argparse.Namespace) -> Path:
    return args.db if args.db is not None else root_of(args).settings.user_db_path


def open_store(args: argparse.Namespace, *, must_exist: bool = True,
               read_only_ok: bool = False) -> Store:
    """The store named by ``--db`` (or the environment / user default); with
    ``read_only_ok`` a file that cannot be written is opened read-only."""
    path = db_path(args)
    if must_exist and not path.exists():
        raise StoreError(f"no hypercube at {path}: run `hypercube ingest --db {path} PATH…` first")
    return Store.for_reading(path) if read_only_ok else Store(path)


def print_json(value: object) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def read_db_path(args: argparse.Namespace,
                 on_progress: Callable[[Progress], None] | None = None) -> Path:
    """The hypercube a reading command uses: ``--db``, else ``HYPERCUBE_DB``, else the user's
    own hypercube if they have ingested anything, else the embedded default one (built first
    if need be, telling ``on_progress`` how the build goes)."""
    if getattr(args, "db", None) is not None:
        if not args.db.exists():
            raise StoreError(f"no hypercube at {args.db}")
        return args.db
    root = root_of(args)
    user = root.settings.user_db_path
    if user.exists():
        return user
    from app.default_hypercube import shipped_prebuilt

    if not root.default_hypercube_path.exists():
        doing = "copying the shipped" if shipped_prebuilt() else "building the"
        print(f"hypercube: {doing} default hypercube and its starter corpus (once)…",
              file=sys.stderr)
    return root.ensure_default_hypercube(on_progress)


def open_read_store(args: argparse.Namespace) -> Store:
    return Store.for_reading(read_db_path(args))


def run_command(func: Callable[[argparse.Namespace], int | None],
                args: argparse.Namespace) -> int | None:
    """Run a subcommand with SQLite's own errors (a full disk, a locked or damaged file)
    turned into ours, so the CLI prints one line for them instead of a traceback."""
    try:
        return func(args)
    except apsw.Error as exc:
        raise store_error(exc, f"run 'hypercube {args.command}'") from exc
