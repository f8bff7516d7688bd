"""Options and output shared by several subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import apsw
import orjson

from app.errors import StoreError, store_error
from app.settings import SETTINGS, user_db_path
from app.store import Store


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="FILE", help=SETTINGS["db"].help)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def db_path(args: argparse.Namespace) -> Path:
    return args.db if args.db is not None else user_db_path()


def open_store(args: argparse.Namespace, *, must_exist: bool = True) -> Store:
    """The store named by ``--db`` (or the environment / user default)."""
    path = db_path(args)
    if must_exist and not path.exists():
        raise StoreError(f"no hypercube at {path}: run `hypercube ingest --db {path} PATH…` first")
    return Store(path)


def print_json(value: object) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def read_db_path(args: argparse.Namespace) -> Path:
    """The hypercube a reading command uses: ``--db``, else ``HYPERCUBE_DB``, else the user's
    own hypercube if they have ingested anything, else the embedded default one."""
    if getattr(args, "db", None) is not None:
        if not args.db.exists():
            raise StoreError(f"no hypercube at {args.db}")
        return args.db
    user = user_db_path()
    if user.exists():
        return user
    from app.default_hypercube import (
        default_hypercube_path,
        ensure_default_hypercube,
        shipped_prebuilt,
    )

    if not default_hypercube_path().exists():
        doing = "copying the shipped" if shipped_prebuilt() else "building the"
        print(f"hypercube: {doing} default hypercube and its starter corpus (once)…",
              file=sys.stderr)
    return ensure_default_hypercube()


def open_read_store(args: argparse.Namespace) -> Store:
    return Store(read_db_path(args))


def run_command(func: Callable[[argparse.Namespace], int | None],
                args: argparse.Namespace) -> int | None:
    """Run a subcommand with SQLite's own errors (a full disk, a locked or damaged file)
    turned into ours, so the CLI prints one line for them instead of a traceback."""
    try:
        return func(args)
    except apsw.Error as exc:
        raise store_error(exc, f"run 'hypercube {args.command}'") from exc
