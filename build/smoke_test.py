"""Smoke-test the built executable the way a user meets it: from an empty folder, with no
Python on PATH, nothing but the one file.

1. ``serve`` answers ``/v1/models`` and a streamed chat completion through the openai client
   (timing the cold start to the first answered request, and reading the idle RSS);
2. ``ingest`` of a small folder works, in one process and with two worker processes (which
   the frozen program must start as itself);
3. ``app --no-window`` serves the UI.

    python build/smoke_test.py build/out/hypercube [--json FILE]

The first ``serve`` also copies the shipped default hypercube into the empty data folder and
unpacks the starter corpus beside it (once per install); the second start is timed too, which
is every start after the first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(home: Path) -> dict[str, str]:
    """No Python anywhere: PATH is an empty folder, no PYTHON* or virtualenv variables."""
    empty = home / "empty-bin"
    empty.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items()
            if k in ("SYSTEMROOT", "TEMP", "TMP", "TMPDIR", "LANG", "LC_ALL")}
    return {**keep, "PATH": str(empty), "HOME": str(home), "USERPROFILE": str(home),
            "HYPERCUBE_DATA_DIR": str(home / "data")}


def rss_of_tree(pid: int) -> int:
    """Resident bytes of a process and its children (Linux; the onefile bootstrap spawns one)."""
    total = 0
    pids = [pid]
    proc = Path("/proc")
    if not proc.exists():
        return 0
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    for p in pids:
        try:
            for line in (proc / str(p) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def first_answer(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from launch to the first 200 from /v1/models."""
    while True:
        if process.poll() is not None:
            raise SystemExit(f"smoke: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        if time.perf_counter() - started > STARTUP_TIMEOUT:
            raise SystemExit("smoke: the server never answered /v1/models")
        time.sleep(0.02)


def serve(binary: Path, home: Path, results: dict[str, Any], label: str) -> None:
    from openai import OpenAI

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen([str(binary), "serve", "--port", str(port), "--quiet"],
                               cwd=home / "cwd", env=clean_env(home),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        results[f"{label}_start_to_first_answer_s"] = round(first_answer(url, process, started), 3)
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        model = client.models.list().data[0].id
        pieces = [chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "def main():"}], max_tokens=32,
            stream=True, seed=1) if chunk.choices]
        assert sum(1 for p in pieces if p) >= 2, f"no streamed tokens: {pieces}"
        time.sleep(3)  # idle
        results[f"{label}_idle_rss_mb"] = round(rss_of_tree(process.pid) / 1e6, 1)
        with urllib.request.urlopen(f"{url}/health") as response:
            health = json.loads(response.read())
        results[f"{label}_server_rss_mb"] = round(health["memory"]["rss_bytes"] / 1e6, 1)
        print(f"smoke: serve ({label}) ok: {model}, {len(''.join(pieces))} characters streamed")
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=60)
    if process.returncode not in (0, -15):
        raise SystemExit(f"smoke: serve exited with {process.returncode}:\n{out.decode()}")
    if label == "first" and b"copying the shipped default hypercube" not in out:
        raise SystemExit(f"smoke: the first start did not use the shipped default:\n"
                         f"{out.decode()}")


def ingest(binary: Path, home: Path, results: dict[str, Any]) -> None:
    folder = home / "cwd" / "project"
    folder.mkdir(parents=True)
    for i in range(8):
        (folder / f"mod{i}.py").write_text(
            "".join(f"def f{i}_{j}(x):\n    return x * {j}\n\n" for j in range(30)))
    started = time.perf_counter()
    done = subprocess.run([str(binary), "ingest", "--db", "mine.hypercube", "project"],
                          cwd=home / "cwd", env=clean_env(home), capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"smoke: ingest failed:\n{done.stdout}{done.stderr}")
    assert re.search(r"done: 8 added", done.stdout), done.stdout
    results["ingest_8_files_s"] = round(time.perf_counter() - started, 2)
    print("smoke: ingest ok:", done.stdout.strip().splitlines()[-1])
    # Enough files for several chunks, so the workers really start (one chunk stays in-process).
    for i in range(8, 80):
        (folder / f"mod{i}.py").write_text(f"def g{i}(x):\n    return x + {i}\n")
    done = subprocess.run([str(binary), "ingest", "--workers", "2", "--db", "workers.hypercube",
                           "project"], cwd=home / "cwd", env=clean_env(home),
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not re.search(r"done: 80 added", done.stdout):
        raise SystemExit(f"smoke: ingest --workers 2 failed:\n{done.stdout}{done.stderr}")
    print("smoke: ingest --workers 2 ok:", done.stdout.strip().splitlines()[-1])


def app_no_window(binary: Path, home: Path) -> None:
    port = free_port()
    process = subprocess.Popen([str(binary), "app", "--no-window", "--port", str(port), "-q"],
                               cwd=home / "cwd", env=clean_env(home),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.perf_counter() + STARTUP_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    body = page.read().decode()
                break
            except OSError:
                if process.poll() is not None or time.perf_counter() > deadline:
                    out = process.stdout.read().decode() if process.stdout else ""
                    raise SystemExit(
                        f"smoke: app --no-window never served the UI:\n{out}") from None
                time.sleep(0.05)
        assert "<title>Hypercube</title>" in body, body[:200]
        for asset in ("ui/js/main.js", "ui/app.css", "ui/js/chat.js"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{asset}") as response:
                assert response.status == 200, asset
        print("smoke: app --no-window serves the UI")
    finally:
        process.terminate()
        process.communicate(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", type=Path)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    binary = args.binary.resolve()
    results: dict[str, Any] = {"binary_mb": round(binary.stat().st_size / 1e6, 1)}
    with tempfile.TemporaryDirectory(prefix="hypercube-smoke-") as tmp:
        home = Path(tmp)
        (home / "cwd").mkdir()
        serve(binary, home, results, "first")   # copies the shipped default hypercube
        serve(binary, home, results, "cold")    # every later start
        ingest(binary, home, results)
        app_no_window(binary, home)
    print("smoke: all ok", json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
