"""``hypercube ingest PATH…``: files and folders into the hypercube, with a progress bar."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from app.cli.common import add_db_option, add_json_option, db_path, print_json, root_of
from app.errors import HypercubeError, InvalidRequest
from app.ingest import IngestOptions, IngestRun
from app.ingest import Progress as IngestProgress
from app.ingest.cluster import local_workers
from app.ingest.pipeline import CONNECT_TIMEOUT, DEFAULT_MAX_FILE_SIZE
from app.ingest.walk import Skipped
from app.store import Store
from app.tokenizer import DEFAULT_VOCAB_SIZE

_Number = TypeVar("_Number", int, float)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest", help="add files and folders to the hypercube",
        description="Add files and folders (honouring .gitignore) to the hypercube, creating "
                    "it if needed. Unchanged files are skipped; changed files replace their "
                    "old contribution.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_db_option(parser)
    add_json_option(parser)
    parser.add_argument("--prune", action="store_true",
                        help="remove documents under PATH whose files are gone")
    parser.add_argument("--max-file-size", type=_megabytes,
                        default=DEFAULT_MAX_FILE_SIZE / 1e6,
                        metavar="MB", help="skip files larger than this many megabytes "
                        f"(default {DEFAULT_MAX_FILE_SIZE / 1e6:g})")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE, metavar="N",
                        help="tokens to learn if this hypercube has no vocabulary yet "
                        f"(default {DEFAULT_VOCAB_SIZE})")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N",
                        help="processes that read, tokenize and parse files (default: the "
                        "number of CPU cores; 1 = this process only); the hypercube built "
                        "is the same for any N. Not with --cluster")
    parser.add_argument("--cluster", type=_cluster_address, metavar="ADDRESS",
                        help="tokenize and parse on a Dask cluster instead: its scheduler's "
                        "address (tcp://HOST:8786), or local[:N] to start N worker processes "
                        "here. File bytes are sent to the workers (no shared filesystem "
                        "needed); this process still reads the files and is the one writer. "
                        "The hypercube built is the same. Refused with --workers. Needs "
                        "pip install 'hypercube[cluster]'")
    parser.add_argument("--cluster-timeout", type=_seconds, default=CONNECT_TIMEOUT,
                        metavar="S", help="give up on an unreachable scheduler, or one "
                        f"without workers, after S seconds (default {CONNECT_TIMEOUT:g})")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _positive(convert: Callable[[str], _Number], what: str,
              flag: str) -> Callable[[str], _Number]:
    """An argparse type: ``convert`` of the value, which must be above zero."""
    def parse(value: str) -> _Number:
        try:
            number = convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"{flag} must be positive")
        return number
    return parse


def _cluster_address(value: str) -> str:
    """Checked before the hypercube is opened, so a bad address leaves no file behind."""
    try:
        local_workers(value)
    except HypercubeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


_megabytes = _positive(float, "a number of megabytes", "--max-file-size")
_workers = _positive(int, "a whole number", "--workers")
_seconds = _positive(float, "a number of seconds", "--cluster-timeout")


def run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    if args.cluster is not None and args.workers is not None:
        raise InvalidRequest("--cluster and --workers do not go together: the cluster's "
                             "workers prepare the files", param="workers")
    options = IngestOptions(roots=args.paths, prune=args.prune,
                            max_file_size=round(args.max_file_size * 1e6),
                            vocab_size=args.vocab_size,
                            workers=args.workers or os.cpu_count() or 1,
                            cluster=args.cluster, cluster_timeout=args.cluster_timeout)
    show_bar = not args.quiet and not args.json

    def report_skip(item: Skipped) -> None:
        if not args.json:
            err.print(f"skipped {item.path}: {item.reason}", markup=False, highlight=False,
                      soft_wrap=True)

    root = root_of(args)
    with Store(db_path(args)) as store:
        if show_bar:
            with _bar(err) as bar:
                task = bar.add_task("scanning", total=None, files="")
                summary = IngestRun(store, options, analyzers=root.analyzers(),
                                    listeners=root.listeners(), on_skip=report_skip,
                                    on_progress=lambda p: _update(bar, task, p)).run()
        else:
            summary = IngestRun(store, options, analyzers=root.analyzers(),
                                listeners=root.listeners(), on_skip=report_skip).run()
    if args.json:
        print_json(summary.as_dict())
    else:
        print(f"{summary.status}: {summary.added} added, {summary.changed} changed, "
              f"{summary.unchanged} unchanged, {summary.removed} removed, "
              f"{len(summary.skipped)} skipped; {summary.bytes_ingested / 1e6:.2f} MB in "
              f"{summary.seconds:.1f} s")
    return 0 if summary.status == "done" else 1


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[files]}"),
        DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
        console=console, transient=not sys.stderr.isatty(),
    )


def _update(bar: Progress, task: TaskID, progress: IngestProgress) -> None:
    bar.update(task, description=progress.phase, total=progress.bytes_total or None,
               completed=progress.bytes_done,
               files=f"{progress.files_done}/{progress.files_total} files")
