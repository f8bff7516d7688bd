"""Soak benchmark: sustained load on the real server, then its memory and error counts.

    python tests/bench/bench_soak.py [--db FILE] [--seconds 60] [--connections 64] [--json OUT]

wrk runs for ``--seconds`` at ``--connections`` on non-streamed completions, then on streamed
chat completions. Reported per run: requests/s, latency, wrk's socket errors and non-2xx
answers, and the server's resident memory before and after (the drift is what a leak would
show). ``/health`` must still answer at the end. Needs ``wrk`` (``apt-get install wrk``).
Without ``--db`` it serves the embedded default hypercube. Everything runs on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.bench_api import PeakMemory, free_port, rss_mb, wait_for  # noqa: E402
from tests.bench.common import report  # noqa: E402

THREADS = 16
PROMPT = "def total_count(value, count=3):\n    total = value + count"
RUNS = {
    "completions": ("/v1/completions", {"model": "hypercube", "prompt": PROMPT,
                                        "max_tokens": 16}),
    "chat_stream": ("/v1/chat/completions", {
        "model": "hypercube", "max_tokens": 16, "stream": True,
        "messages": [{"role": "user", "content": "Write a function that adds two numbers."}]}),
}
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
"""


def wrk(url: str, body: dict[str, Any], connections: int, seconds: int) -> dict[str, Any]:
    """One wrk run; its errors are counted, not fatal (a soak reports them)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % json.dumps(body))
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
             "--latency", "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script.name)

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else 0.0

    def latency_ms(percentile: str) -> float:
        found = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if found is None:
            return 0.0
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    errors = dict(zip(("connect", "read", "write", "timeout"),
                      map(int, socket_errors.groups()), strict=True)) if socket_errors else {}
    return {
        "requests": int(number(r"(\d+) requests in")),
        "rps": round(number(r"Requests/sec:\s+([\d.]+)"), 1),
        "p50_ms": latency_ms("50"), "p99_ms": latency_ms("99"),
        "non_2xx": int(number(r"Non-2xx or 3xx responses: (\d+)")),
        "socket_errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="hypercube to serve (default: the embedded one)")
    parser.add_argument("--seconds", type=int, default=60, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if args.db is None:
        from app.compose import Root

        args.db = Root.from_environment().ensure_default_hypercube()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--db", str(args.db),
                               "--port", str(port), "--threads", str(THREADS), "-q"],
                              cwd=REPO)
    results: dict[str, Any] = {"db": str(args.db), "threads": THREADS,
                               "seconds": args.seconds, "connections": args.connections}
    try:
        wait_for(base + "/health")
        # A short warm-up, so "before" holds what every server has after its first requests.
        for path, body in RUNS.values():
            wrk(base + path, body, 4, 2)
        results["rss_before_mb"] = round(rss_mb(server.pid), 1)
        runs: dict[str, Any] = {}
        with PeakMemory(server.pid) as memory:
            for name, (path, body) in RUNS.items():
                runs[name] = wrk(base + path, body, args.connections, args.seconds)
                runs[name]["rss_after_mb"] = round(rss_mb(server.pid), 1)
        results["runs"] = runs
        results["rss_peak_mb"] = round(memory.peak, 1)
        results["rss_after_mb"] = round(rss_mb(server.pid), 1)
        results["rss_drift_mb"] = round(results["rss_after_mb"] - results["rss_before_mb"], 1)
        with urllib.request.urlopen(base + "/health", timeout=10) as response:
            results["health_after"] = json.loads(response.read())["status"]
        results["errors"] = sum(run["non_2xx"] + sum(run["socket_errors"].values())
                                for run in runs.values())
    finally:
        started = time.monotonic()
        server.terminate()
        server.wait(timeout=30)
        results["stop_s"] = round(time.monotonic() - started, 2)
    report(results, args.json)
    return 0 if results.get("errors", 1) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
