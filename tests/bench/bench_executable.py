"""Figures for the single-file executable: size, cold start to the first answered request
(median of several starts, after the one that builds the default hypercube) and idle RSS.

    python tests/bench/bench_executable.py [build/out/hypercube] [--starts N]

Build it first with ``python build/build_executable.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _smoke():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("smoke_test", REPO / "build" / "smoke_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", type=Path, nargs="?", default=REPO / "build/out/hypercube")
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    smoke = _smoke()
    binary = args.binary.resolve()
    print(f"binary: {binary.stat().st_size / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory(prefix="hypercube-bench-") as tmp:
        home = Path(tmp)
        (home / "cwd").mkdir()
        starts, rss = [], []
        for i in range(args.starts + 1):
            port = smoke.free_port()
            started = time.perf_counter()
            process = subprocess.Popen([str(binary), "serve", "--port", str(port), "--quiet"],
                                       cwd=home / "cwd", env=smoke.clean_env(home),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                seconds = smoke.first_answer(f"http://127.0.0.1:{port}", process, started)
                time.sleep(3)
                if i == 0:
                    print(f"first start (builds the default hypercube): {seconds:.2f} s")
                else:
                    starts.append(seconds)
                    rss.append(smoke.rss_of_tree(process.pid) / 1e6)
            finally:
                process.terminate()
                process.wait(timeout=60)
    print(f"cold start to first answer: median {statistics.median(starts):.2f} s "
          f"(min {min(starts):.2f}, max {max(starts):.2f}, {len(starts)} starts)")
    print(f"idle RSS (bootstrap + server): median {statistics.median(rss):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
