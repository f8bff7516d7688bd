"""``hypercube serve``: the OpenAI-compatible API on a local port.

Binds first and loads the model in the background, so ``/health`` answers (``loading``, then
``ok``) from the first moment; generation requests get 503 until the model is ready. SIGTERM
or Ctrl+C stops it with status 0 (see :mod:`app.cli.serving`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from pathlib import Path
from typing import Any

from app.api import ApiSettings
from app.cli.common import add_db_option, read_db_path, root_of
from app.cli.serving import ServingProcess, say
from app.settings import SETTINGS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the OpenAI-compatible API",
        description="Serve the OpenAI-compatible HTTP API (and ours: /health, /metrics, "
                    "/tokenize, /v1/ingest, …) over the hypercube. Without --db it serves your "
                    "own hypercube if you have ingested anything, else the embedded default.")
    add_db_option(parser)
    parser.add_argument("--host", default=None, help=_help("host"))
    parser.add_argument("--port", type=int, default=None, help=_help("port"))
    parser.add_argument("--api-key", action="append", default=[], metavar="KEY",
                        help=_help("api_key") + " (repeatable)")
    parser.add_argument("--api-key-file", type=Path, metavar="FILE",
                        help=_help("api_key_file"))
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help=_help("cors_origin") + " (repeatable)")
    parser.add_argument("--threads", type=int, default=None, help=_help("threads"))
    parser.add_argument("--rate-limit", type=float, default=None, metavar="PER_SECOND",
                        help=_help("rate_limit"))
    parser.add_argument("--rate-burst", type=int, default=None, metavar="N",
                        help=_help("rate_burst"))
    parser.add_argument("--chat-max-tokens", type=int, default=None, metavar="N",
                        help=_help("chat_max_tokens"))
    parser.add_argument("--read-only", action="store_true", default=None,
                        help=_help("read_only"))
    parser.add_argument("--otlp-endpoint", default=None, metavar="URL",
                        help=_help("otlp_endpoint"))
    add_security_options(parser)
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no access log on stderr")
    parser.set_defaults(func=run)


def add_security_options(parser: argparse.ArgumentParser) -> None:
    """Flags of the server's guards, shared by ``serve`` and ``app``."""
    parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                        help=_help("allowed_host") + " (repeatable)")
    parser.add_argument("--ingest-root", action="append", default=[], metavar="FOLDER",
                        help=_help("ingest_root") + " (repeatable)")
    parser.add_argument("--admin-key", action="append", default=[], metavar="KEY",
                        help=_help("admin_key") + " (repeatable)")
    parser.add_argument("--admin-key-file", type=Path, metavar="FILE",
                        help=_help("admin_key_file"))
    parser.add_argument("--max-request-tokens", type=int, default=None, metavar="N",
                        help=_help("max_request_tokens"))


def _help(name: str) -> str:
    setting = SETTINGS[name]
    default = "" if setting.default is None else f" (default {setting.default})"
    return f"{setting.help}{default}; env {setting.env}"


def security_settings(args: argparse.Namespace, host: str) -> dict[str, Any]:
    """The :meth:`ApiSettings.resolve` arguments of :func:`add_security_options`."""
    return {"bind_host": host, "allowed_hosts": args.allowed_host,
            "ingest_roots": args.ingest_root, "admin_keys": args.admin_key,
            "admin_key_file": args.admin_key_file,
            "max_request_tokens": args.max_request_tokens}


def describe(settings: ApiSettings) -> str:
    """What the start-up line says about keys and ingestion."""
    keys = "API keys required" if settings.api_keys else "no API key required"
    if settings.admin_keys:
        keys += ", admin key for ingest, batches and files"
    roots = ", ".join(str(r) for r in settings.ingest_roots)
    ingest = f"HTTP ingestion under {roots}" if roots else "HTTP ingestion off"
    return f"{keys}; {ingest}"


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    root = root_of(args)
    environment = root.settings
    host = args.host or environment.get("host")
    settings = ApiSettings.resolve(environment, api_keys=args.api_key,
                                   api_key_file=args.api_key_file,
                                   cors_origins=args.cors_origin, rate_limit=args.rate_limit,
                                   rate_burst=args.rate_burst,
                                   chat_max_tokens=args.chat_max_tokens,
                                   **security_settings(args, host))
    port = environment.get("port") if args.port is None else args.port
    threads = args.threads or environment.get("threads")
    with ServingProcess(root) as process:
        # Announced before the model starts loading: clients wait for this line, and a
        # load that fails at once must not report before it.
        process.start(partial(read_db_path, args), settings, host, port, threads,
                      otlp_endpoint=args.otlp_endpoint or environment.get("otlp_endpoint"),
                      read_only=bool(args.read_only or environment.get("read_only")),
                      on_serving=lambda path, url: say(
                          f"serving {path} on {url} ({describe(settings)})"))
        process.wait()
    return 0
