"""``hypercube db info|check|repair|vacuum``."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from app.cli.common import add_db_option, add_json_option, open_store, print_json, root_of
from app.store import Store
from app.store.inspect import check, info, vacuum


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="inspect and maintain a hypercube file")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    info_parser = actions.add_parser("info", help="counts, sizes and schema version")
    add_db_option(info_parser)
    add_json_option(info_parser)
    info_parser.set_defaults(func=run_info)

    check_parser = actions.add_parser("check", help="verify integrity and invariants")
    add_db_option(check_parser)
    check_parser.add_argument("--repair", action="store_true",
                              help="first repair the model, as `db repair` does")
    add_json_option(check_parser)
    check_parser.set_defaults(func=run_check)

    repair_parser = actions.add_parser(
        "repair", help="rebuild the model where it is stale or damaged",
        description="Bring the stored model (segments and fitted parameters) up to date with "
                    "the documents: after an ingest run that was killed half-way, or a damaged "
                    "segment that `db check` reported. Serving never does this itself. Safe to "
                    "repeat: on a current model it changes nothing.")
    add_db_option(repair_parser)
    add_json_option(repair_parser)
    repair_parser.set_defaults(func=run_repair)

    vacuum_parser = actions.add_parser("vacuum", help="compact the file")
    add_db_option(vacuum_parser)
    vacuum_parser.set_defaults(func=run_vacuum)


def run_info(args: argparse.Namespace) -> int:
    with open_store(args, read_only_ok=True) as store:
        report = info(store)
    if args.json:
        print_json(report)
        return 0
    console = Console()
    table = Table(title=f"hypercube {report['path']}", show_header=False)
    table.add_row("schema version", str(report["schema_version"]))
    for name, value in report["counts"].items():
        table.add_row(name.replace("_", " "), f"{value:,}")
    for name, value in report["sizes"].items():
        table.add_row(name.replace("_", " "), f"{value / 1e6:,.2f} MB")
    languages = report["languages"]
    if languages:
        table.add_row("languages", ", ".join(f"{k} {v}" for k, v in languages.items()))
    table.add_row("ingest runs", str(report["runs"]))
    console.print(table)
    return 0


def run_check(args: argparse.Namespace) -> int:
    repaired: list[str] = []
    with open_store(args, read_only_ok=not args.repair) as store:
        if args.repair:
            repaired = _repair(store, args)
        findings = check(store)
    errors = [f for f in findings if f.severity == "error"]
    if args.json:
        report: dict[str, object] = {"ok": not errors,
                                     "findings": [{"severity": f.severity,
                                                   "message": f.message} for f in findings]}
        if args.repair:
            report["repaired"] = repaired
        print_json(report)
    else:
        for line in repaired:
            print(f"repaired: {line}")
        for finding in findings:
            print(f"{finding.severity}: {finding.message}")
        print("ok" if not errors else f"{len(errors)} problem(s) found",
              file=sys.stdout if not errors else sys.stderr)
    return 0 if not errors else 1


def run_repair(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        done = _repair(store, args)
    if args.json:
        print_json({"ok": True, "repaired": done})
    else:
        for line in done:
            print(f"repaired: {line}")
        print("ok: the model is up to date" + ("" if done else " (nothing to repair)"))
    return 0


def _repair(store: Store, args: argparse.Namespace) -> list[str]:
    from app.model.repair import repair_model

    return repair_model(store, root_of(args).kernels)


def run_vacuum(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        before, after = vacuum(store)
    print(f"vacuumed: {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB")
    return 0
