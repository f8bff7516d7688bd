"""API server benchmark: requests/s and latency under wrk, streaming time to first chunk,
start-up time and memory, next to a bare Falcon + Waitress endpoint measured in the same run.

    python tests/bench/bench_api.py [--db FILE] [--seconds 10] [--json OUT]

Needs ``wrk`` (``apt-get install wrk``). Without ``--db`` it serves the embedded default
hypercube (built on first use). Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.bench.common import PeakMemory, report, rss_mb  # noqa: E402

CONNECTIONS = (1, 8, 32)
THREADS = 16
PROMPT = "def total_count(value, count=3):\n    total = value + count"
COMPLETION = {"model": "hypercube", "prompt": PROMPT, "max_tokens": 16, "temperature": 0}
CHAT = {"model": "hypercube", "max_tokens": 16, "temperature": 0,
        "messages": [{"role": "user", "content": "Write a function that adds two numbers."}]}
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 120) -> float:
    """Seconds until ``url`` answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.01)
    raise SystemExit(f"{url} did not come up")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise SystemExit(f"port {port} did not open")


def wrk(url: str, body: dict[str, Any], connections: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % json.dumps(body))
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
             url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")

    def latency_ms(percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", out,
                                re.MULTILINE).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rps": round(rps, 1), "p50_ms": latency_ms("50"), "p99_ms": latency_ms("99")}


def first_chunk_ms(base: str, path: str, body: dict[str, Any], runs: int) -> list[float]:
    """Time from sending a streaming request to reading its first ``data:`` event."""
    host, port = base.split("//")[1].split(":")
    payload = json.dumps({**body, "stream": True}).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
    times = []
    for _ in range(runs):
        with socket.create_connection((host, int(port))) as sock:
            started = time.perf_counter()
            sock.sendall(request)
            received = b""
            while b"data: " not in received:
                received += sock.recv(65536)
            times.append((time.perf_counter() - started) * 1000)
            while not received.rstrip().endswith(b"0"):  # drain to the last chunk
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="hypercube to serve (default: the embedded one)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    env = {**os.environ}
    if args.db is None:
        from app.compose import Root

        args.db = Root.from_environment().ensure_default_hypercube()

    results: dict[str, Any] = {"db": str(args.db), "threads": THREADS, "seconds": args.seconds}
    bare_port, port = free_port(), free_port()
    bare = subprocess.Popen([sys.executable, str(Path(__file__).with_name("api_bare_app.py")),
                             str(bare_port), str(THREADS)])
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "app", "serve", "--db", str(args.db),
                               "--port", str(port), "--threads", str(THREADS), "-q"],
                              cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/health")
        results["startup_to_first_answer_s"] = round(time.perf_counter() - started, 3)
        wait_port(bare_port)
        time.sleep(0.5)
        results["idle_rss_mb"] = round(rss_mb(server.pid), 1)
        runs: dict[str, Any] = {}
        with PeakMemory(server.pid) as memory:
            for connections in CONNECTIONS:
                runs[f"bare c={connections}"] = wrk(
                    f"http://127.0.0.1:{bare_port}/v1/completions", COMPLETION, connections,
                    args.seconds)
                runs[f"completions c={connections}"] = wrk(
                    base + "/v1/completions", COMPLETION, connections, args.seconds)
                runs[f"chat c={connections}"] = wrk(
                    base + "/v1/chat/completions", CHAT, connections, args.seconds)
                runs[f"ratio c={connections}"] = round(
                    runs[f"completions c={connections}"]["rps"]
                    / runs[f"bare c={connections}"]["rps"], 3)
            # The API's own cost: the same request scoring its prompt, generating nothing.
            runs["completions max_tokens=0 c=8"] = wrk(
                base + "/v1/completions", {**COMPLETION, "max_tokens": 0}, 8, args.seconds)
        results["wrk"] = runs
        results["peak_rss_under_load_mb"] = round(memory.peak, 1)
        ttft = first_chunk_ms(base, "/v1/chat/completions", CHAT, 300)
        ttft_completions = first_chunk_ms(base, "/v1/completions", COMPLETION, 300)
        results["stream_first_chunk_ms"] = {
            "chat": {"p50": percentile(ttft, 0.5), "p99": percentile(ttft, 0.99),
                     "mean": round(statistics.mean(ttft), 2)},
            "completions": {"p50": percentile(ttft_completions, 0.5),
                            "p99": percentile(ttft_completions, 0.99)},
        }
    finally:
        for child in (server, bare):
            child.terminate()
            child.wait(timeout=30)
    report(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
