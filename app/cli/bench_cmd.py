"""``hypercube bench``: engine speed on this machine, JIT against its references."""

from __future__ import annotations

import argparse

from app.bench import run_bench
from app.cli.common import add_db_option, add_json_option, open_read_store, print_json, root_of
from app.errors import InvalidRequest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure generation speed on this machine",
        description="Measure model load time, generation tokens/s, 64-token completion "
                    "latency, prompt scoring and the JIT kernels' speed-up over their numpy "
                    "references, all in this run. (The quality and serving benchmarks live "
                    "in tests/bench/ of the source tree.)")
    add_db_option(parser)
    add_json_option(parser)
    parser.add_argument("--repeat", type=int, default=5, metavar="N",
                        help="repeats per figure; medians are reported (default 5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise InvalidRequest("--repeat must be at least 1", param="repeat")
    root = root_of(args)
    with open_read_store(args) as store:
        report = run_bench(store, root.kernels, root.reference_kernels, args.repeat)
    if args.json:
        print_json(report.as_dict())
        return 0
    for key, value in report.as_dict().items():
        print(f"{key.replace('_', ' '):34} {value}")
    return 0
