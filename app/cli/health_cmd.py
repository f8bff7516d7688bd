"""``hypercube health``: ask a running server whether it is ready (exit 0) or not (exit 1).

Container images have no curl: their HEALTHCHECK runs this. It only talks to the address it
is given, by default this machine's loopback port.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request

from app.cli.common import root_of
from app.errors import HypercubeError


class Unhealthy(HypercubeError):
    pass


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "health", help="check that a running server is ready (for container health checks)",
        description="GET /health of a running server: exit status 0 when it is ready, 1 "
                    "(with the reason) when it is loading, failing or unreachable.")
    parser.add_argument("--host", default="127.0.0.1", help="the server's address")
    parser.add_argument("--port", type=int, default=None,
                        help="the server's port (default: HYPERCUBE_PORT or 8080)")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    port = root_of(args).settings.get("port") if args.port is None else args.port
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            reason = exc.reason
        raise Unhealthy(f"{url} answered {exc.code}: {reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unhealthy(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from exc
    print(f"{url}: {body.get('status', 'ok')}")
    return 0
