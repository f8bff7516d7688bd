"""Code intelligence commands: ``defs``, ``refs``, ``callers``, ``callees``,
``implementations``, ``search``, ``similar`` and ``analogy``.

Each prints one line per result (``path:line:col`` first, so editors can jump to it), or
with ``--json`` one JSON document: a list of the objects app.code.CodeIndex returns.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app.cli.common import add_db_option, add_json_option, open_read_store, print_json
from app.code import CodeIndex
from app.code.results import (
    AnalogyResult,
    CalleeSet,
    Caller,
    Implementation,
    Result,
    SearchHit,
    SimilarResult,
    Site,
    Symbol,
)
from app.code.search import MODES

Runner = Callable[[CodeIndex, argparse.Namespace], Result | Sequence[Result]]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = _command(subparsers, "defs", "go to the definitions of a name", _defs)
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="name to define (Class.method narrows); optional with --at F:L:C")
    parser.add_argument("--at", metavar="FILE:LINE[:COL]",
                        help="rank for this position (scope, receiver, imports)")
    parser.add_argument("--kind", help="only this kind (function, method, class, …)")
    _common_filters(parser, limit=50)

    parser = _command(subparsers, "refs", "find the uses of a name", _refs)
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--kind", choices=["call", "type", "reference"],
                        help="only calls, uses as a type, or other references")
    _common_filters(parser, limit=200)

    parser = _command(subparsers, "callers", "definitions that call a name", _callers)
    parser.add_argument("name", metavar="NAME")
    _common_filters(parser, limit=100)

    parser = _command(subparsers, "callees", "what a definition calls", _callees)
    parser.add_argument("name", nargs="?", metavar="NAME")
    parser.add_argument("--at", metavar="FILE:LINE", help="the definition around this line")
    _common_filters(parser, limit=20)

    parser = _command(subparsers, "implementations",
                      "subtypes and implementors of a type, or overrides of a method",
                      _implementations)
    parser.add_argument("name", metavar="NAME", help="a type, or Type.method")
    _limit(parser, 200)

    parser = _command(subparsers, "search", "search code: substring, regex or identifier",
                      _search)
    parser.add_argument("query", metavar="QUERY")
    parser.add_argument("--mode", choices=MODES, default="substring",
                        help="substring (default), regex, or identifier (any naming convention)")
    parser.add_argument("--regex", dest="mode", action="store_const", const="regex",
                        help="same as --mode regex")
    parser.add_argument("--case-sensitive", action="store_true")
    parser.add_argument("--per-file", type=int, default=5, metavar="N",
                        help="at most N matching lines per file (default 5)")
    parser.add_argument("--context", type=int, default=0, metavar="N",
                        help="also show N lines around each match")
    _common_filters(parser, limit=50)

    parser = _command(subparsers, "similar",
                      "code shaped like the definition at FILE:LINE (clones, any language)",
                      _similar)
    parser.add_argument("position", metavar="FILE:LINE")
    parser.add_argument("--min-score", type=float, default=0.5, metavar="S",
                        help="lowest estimated similarity to show, 0..1 (default 0.5)")
    parser.add_argument("--cross-language", action="store_true",
                        help="only matches in other languages")
    _common_filters(parser, limit=10)

    parser = _command(subparsers, "analogy",
                      "code like EXAMPLE but for another type (save_user → save_order)",
                      _analogy)
    parser.add_argument("example", metavar="EXAMPLE", help="a name or FILE:LINE")
    parser.add_argument("--to", dest="to_type", required=True, metavar="TYPE",
                        help="the type the answer is for")
    parser.add_argument("--from", dest="from_type", metavar="TYPE",
                        help="the type the example is for (default: guessed)")
    _limit(parser, 10)


def _command(subparsers: argparse._SubParsersAction, name: str, help_text: str,
             runner: Runner) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    add_db_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=lambda args: _run(runner, args))
    return parser


def _limit(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument("--limit", type=int, default=default, metavar="N",
                        help=f"at most N results (default {default})")


def _common_filters(parser: argparse.ArgumentParser, *, limit: int) -> None:
    parser.add_argument("--language", help="only this language (python, go, …)")
    _limit(parser, limit)


def _run(runner: Runner, args: argparse.Namespace) -> int:
    with open_read_store(args) as store:
        result = runner(CodeIndex(store, read_local_files=True), args)
    if args.json:
        print_json(_plain(result))
        return 0
    lines = _lines(result)
    for line in lines:
        print(line)
    if not lines:
        print("hypercube: no results", file=sys.stderr)
    return 0


def _plain(result: Result | Sequence[Result]) -> object:
    if isinstance(result, Sequence):
        return [item.to_dict() for item in result]
    return result.to_dict()


# -- runners ----------------------------------------------------------------------------------


def _defs(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.defs(args.name, at=args.at, kind=args.kind, language=args.language,
                      limit=args.limit)


def _refs(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.refs(args.name, kind=args.kind, language=args.language, limit=args.limit)


def _callers(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.callers(args.name, language=args.language, limit=args.limit)


def _callees(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.callees(args.name, at=args.at, language=args.language, limit=args.limit)


def _implementations(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.implementations(args.name, limit=args.limit)


def _search(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.search(args.query, mode=args.mode, case_sensitive=args.case_sensitive,
                        language=args.language, limit=args.limit, per_file=args.per_file,
                        context=args.context)


def _similar(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.similar(args.position, limit=args.limit, min_score=args.min_score,
                         language=args.language, cross_language=args.cross_language)


def _analogy(index: CodeIndex, args: argparse.Namespace) -> Result | Sequence[Result]:
    return index.analogy(args.example, args.to_type, from_type=args.from_type,
                         limit=args.limit)


# -- human output -----------------------------------------------------------------------------


def _where(path: str, line: int, column: int | None = None) -> str:
    try:
        shown = os.path.relpath(path)
        if shown.startswith(".." + os.sep + ".."):
            shown = path
    except ValueError:
        shown = path
    return f"{Path(shown).as_posix()}:{line}" + (f":{column}" if column else "")


def _symbol_line(symbol: Symbol) -> str:
    return (f"{_where(symbol.path, symbol.name_line, symbol.name_col)}  {symbol.kind:<9} "
            f"{symbol.qualified_name}  {symbol.signature}")


def _lines(result: object) -> list[str]:
    items = result if isinstance(result, list) else [result]
    lines: list[str] = []
    for item in items:
        if isinstance(item, Symbol):
            lines.append(_symbol_line(item))
        elif isinstance(item, Site):
            where = f" in {item.enclosing}" if item.enclosing else ""
            lines.append(f"{_where(item.path, item.line, item.column)}  {item.kind:<9}"
                         f" {item.snippet}{where}")
        elif isinstance(item, Caller):
            who = item.caller.qualified_name if item.caller else "(top level)"
            lines.append(f"{_where(item.path, item.lines[0])}  {who}  calls {item.name}"
                         f" ×{item.count}")
        elif isinstance(item, CalleeSet):
            lines.append(_symbol_line(item.symbol))
            for callee in item.callees:
                target = (f" → {_where(callee.definition.path, callee.definition.name_line)}"
                          if callee.definition else "")
                lines.append(f"    {callee.name} ×{callee.count}{target}")
        elif isinstance(item, Implementation):
            lines.append(f"{_symbol_line(item.symbol)}  [{item.relation} {item.base},"
                         f" depth {item.depth}]")
        elif isinstance(item, SearchHit):
            inside = f"  [{item.symbol}]" if item.symbol else ""
            lines.append(f"{_where(item.path, item.line, item.column)}  {item.snippet}{inside}")
            lines.extend(f"    {c}" for c in item.context)
        elif isinstance(item, SimilarResult):
            lines.append(f"like {_symbol_line(item.query)}")
            for hit in item.hits:
                tag = "exact" if hit.exact else f"{hit.score:.2f}"
                lines.append(f"  {tag:>5}  {_symbol_line(hit.symbol)}")
        elif isinstance(item, AnalogyResult):
            lines.append(f"{item.example.qualified_name} is to {item.from_type} as "
                         f"{item.expected_name} is to {item.to_type}:")
            for analogous in item.hits:
                lines.append(f"  {analogous.score:.2f}  {_symbol_line(analogous.symbol)}  "
                             f"({'; '.join(analogous.reasons)})")
    return lines
