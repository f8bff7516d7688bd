"""The ``hypercube`` command.

Each subcommand lives in its own module with a ``register(subparsers)`` function. Errors are
turned into one clear line on stderr and a non-zero exit status here, in one place. Here too
the composition root (:class:`app.compose.Root`) is built, once, from the environment; a
subcommand finds it as ``args.root``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app import __version__
from app.errors import HypercubeError

# Subcommand modules, in the order `hypercube --help` lists them.
COMMAND_MODULES = [
    "app.cli.ingest_cmd",
    "app.cli.tokenize_cmd",
    "app.cli.generate_cmd",
    "app.cli.db_cmd",
    "app.cli.snapshot_cmd",
    "app.cli.doctor_cmd",
    "app.cli.bench_cmd",
    "app.cli.serve_cmd",
    "app.cli.health_cmd",
    "app.cli.app_cmd",
    "app.cli.code_cmd",
]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hypercube",
        description="An offline local OpenAI endpoint over a SQLite hypercube.",
    )
    parser.add_argument("--version", action="version", version=f"hypercube {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from app.cli.common import run_command
        from app.compose import Root

        args.root = Root.from_environment()

        result = run_command(args.func, args)
    except HypercubeError as exc:
        print(f"hypercube: error: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hypercube: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
