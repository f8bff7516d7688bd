"""``hypercube doctor``."""

from __future__ import annotations

import argparse

from app.cli.common import add_json_option, print_json, root_of
from app.doctor import run_checks, summary_line


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="check that this installation works")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = run_checks(root_of(args).settings)
    failed = any(r.required and not r.ok for r in results)
    if args.json:
        print_json({"ok": not failed, "checks": [
            {"name": r.name, "ok": r.ok, "required": r.required, "detail": r.detail}
            for r in results]})
    else:
        for r in results:
            mark = "ok " if r.ok else ("FAIL" if r.required else "warn")
            print(f"{mark:4} {r.name:18} {r.detail}")
        print(summary_line(results))
    return 1 if failed else 0
