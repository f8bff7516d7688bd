"""``hypercube snapshot OUT``: a consistent, checksummed copy for replicas to serve."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from app.cli.common import add_db_option, add_json_option, print_json, read_db_path
from app.store.snapshot import manifest_path, verify_snapshot, write_snapshot


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "snapshot", help="write a consistent, checksummed copy of a hypercube",
        description="Copy the hypercube with SQLite's online backup API (safe while `serve` "
                    "or an ingest is using it) to OUT, replaced atomically, with its manifest "
                    "(BLAKE2b checksum, size, counts) in OUT.json. Replicas serve such a copy "
                    "with `hypercube serve --read-only --db OUT`. With --verify, check that "
                    "OUT matches its manifest instead.")
    parser.add_argument("out", type=Path, metavar="OUT", help="the snapshot file to write")
    parser.add_argument("--verify", action="store_true",
                        help="verify an existing snapshot against its manifest")
    add_db_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.verify:
        manifest = verify_snapshot(args.out)
        verb = "verified"
    else:
        manifest = write_snapshot(read_db_path(args), args.out)
        verb = "wrote"
    if args.json:
        print_json(asdict(manifest))
    else:
        print(f"{verb} {args.out} ({manifest.bytes:,} bytes, {manifest.documents:,} documents, "
              f"blake2b {manifest.blake2b[:16]}…; manifest {manifest_path(args.out)})")
    return 0
