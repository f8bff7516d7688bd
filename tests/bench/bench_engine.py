"""Benchmark of the generation engine on the shared corpus (a script, not a test).

    python tests/bench/bench_engine.py [--json] [--quick]

Ingests ``train/`` of the shared Python corpus into a temporary hypercube, builds the model
(timed), scores ``test/`` (bits per UTF-8 byte, top-1/top-5), and measures generation speed
on one thread (with and without the repetition penalty), 64-token completion latency, the
engine's microseconds per short request (16 tokens, as bench_api.py asks), prompt scoring
speed, load time, JIT compile time, each kernel's speed-up over its reference and peak RSS.

Generalisation: bits per byte on other projects' Python code (the installed packages'
sources named in ``OTHER_PROJECTS``, none of them in the training data), scored two ways:
``reset`` scores every file from its start (``hypercube eval``'s default), ``carry`` lets
the model count the project's earlier files in sorted path order (``eval --carry-cache``),
which is how the compressors see them. PPMd order 16 (7-Zip) and xz -9e are measured over
the files concatenated in that order: (size(C(train + X)) - size(C(train))) * 8 / bytes(X).
Nothing here is tuned on these projects or on test/: parameters are fitted on held-out
slices of train/ only.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.cli.generate_cmd import evaluate
from app.compose import Root
from app.engine import SamplingParams, load_engine
from app.ingest import IngestOptions, IngestRun
from app.ingest.walk import Candidate, walk
from app.model.maintain import update_model
from app.store import Store
from jit import Frame, kernels
from jit.compiler import compile_native
from tests.bench.common import extract_corpus, peak_rss_mb

OTHER_PROJECTS = ("hypothesis", "rich", "_pytest")


def _files(root: Path) -> list[Candidate]:
    return [c for c in walk([root], 8_000_000) if isinstance(c, Candidate)]


def _concat(root: Path, target: Path) -> int:
    """All files under root in sorted byte order of their relative path, as one file."""
    paths = sorted((p for p in root.rglob("*") if p.is_file()),
                   key=lambda p: str(p.relative_to(root)).encode())
    with target.open("wb") as out:
        for path in paths:
            out.write(path.read_bytes())
    return target.stat().st_size


def _compressed_size(kind: str, source: Path, work: Path) -> int | None:
    if kind == "xz":
        out = subprocess.run(["xz", "-9e", "-T1", "-c", str(source)], capture_output=True,
                             check=True)
        return len(out.stdout)
    if shutil.which("7z") is None:
        return None
    archive = work / (source.name + ".7z")
    archive.unlink(missing_ok=True)
    subprocess.run(["7z", "a", "-bd", "-mx=9", "-m0=PPMd:mem=1g:o=16", str(archive),
                    str(source)], capture_output=True, check=True)
    return archive.stat().st_size


def _compressor_bpb(kind: str, train: Path, test: Path, work: Path,
                    alone: dict[str, int | None]) -> float | None:
    """Bits per byte of ``test`` after ``train`` (``alone`` caches C(train) per kind)."""
    both = work / "both.bin"
    with both.open("wb") as out:
        out.write(train.read_bytes())
        out.write(test.read_bytes())
    if kind not in alone:
        alone[kind] = _compressed_size(kind, train, work)
    joint = _compressed_size(kind, both, work)
    if alone[kind] is None or joint is None:
        return None
    return (joint - alone[kind]) * 8 / test.stat().st_size


def _kernel_speedups(engine, history: np.ndarray) -> dict[str, float]:
    """Median time per call, native vs reference, on the same frames."""
    native = engine.model.kernels
    reference = kernels(native=False)
    results: dict[str, float] = {}
    session = engine.model.session(len(history) + 2)
    session.reset(history)
    frame: Frame = session.frame

    def per_call(fn, repeat: int) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    slow = per_call(lambda: reference.dist(frame), 20)
    fast = per_call(lambda: native.dist(frame), 500)
    results["dist_native_us"] = fast * 1e6
    results["dist_reference_us"] = slow * 1e6
    results["dist_speedup"] = slow / fast
    probs = np.ascontiguousarray(session.distribution().copy())
    slow = per_call(lambda: reference.sample(probs, 0.7), 200)
    fast = per_call(lambda: native.sample(probs, 0.7), 2000)
    results["sample_speedup"] = slow / fast
    # The most frequent token: its update walks the longest chain of earlier occurrences,
    # the work the kernel exists for (a rare token's update is all call overhead).
    token = int(np.bincount(history).argmax())
    saved = frame.get(13), frame.arrays[12].copy(), frame.arrays[14].copy(), \
        frame.arrays[15].copy(), frame.arrays[16].copy()

    def restore() -> None:
        frame.set(13, saved[0])
        for slot, array in zip((12, 14, 15, 16), saved[1:], strict=True):
            frame.arrays[slot][:] = array

    def push_with(k) -> None:
        restore()
        k.cache_push(frame, token)

    slow = per_call(lambda: push_with(reference), 100)
    fast = per_call(lambda: push_with(native), 2000)
    overhead = per_call(restore, 2000)
    results["cache_push_speedup"] = (slow - overhead) / max(fast - overhead, 1e-9)
    restore()
    return results


def _request_overhead(engine, repeat: int) -> dict[str, float]:
    """Microseconds per short request as the API makes it (``stream`` consumed to the
    end): 16 tokens greedy (bench_api.py's request), 16 sampled, and none (prompt only)."""
    prompt = engine.tokenizer.encode("def total_count(value, count=3):\n    total = value + count")
    results = {}
    for name, params in (("greedy", SamplingParams(max_tokens=16, temperature=0.0)),
                         ("sampled", SamplingParams(max_tokens=16, seed=1)),
                         ("max_tokens_0", SamplingParams(max_tokens=0, temperature=0.0))):
        for _ in range(200):
            for _delta in engine.stream(prompt, params):
                pass
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(1000):
                for _delta in engine.stream(prompt, params):
                    pass
            times.append((time.perf_counter() - start) / 1000)
        results[f"request_16_tokens_{name}_us" if name != "max_tokens_0"
                else "request_max_tokens_0_us"] = statistics.median(times) * 1e6
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    figures: dict[str, object] = {}
    corpus = extract_corpus()
    work = Path(tempfile.mkdtemp(prefix="hypercube-bench-engine-"))
    try:
        db = work / "bench.db"
        started = time.perf_counter()
        with Store(db) as store:
            IngestRun(store, IngestOptions(roots=[corpus / "train"])).run()
        figures["ingest_seconds"] = time.perf_counter() - started
        cold = compile_native(None)
        figures["jit_compile_seconds"] = cold.compile_seconds
        compile_native(work / "jit")  # fills the object-code cache
        figures["jit_cached_load_seconds"] = compile_native(work / "jit").compile_seconds
        with Store(db) as store:
            report = update_model(store, kernels())
        figures["model_build_seconds"] = report.seconds
        figures["heldout_bits_per_token"] = report.heldout_bits_per_token

        load_times = []
        for _ in range(repeat):
            with Store(db) as store:
                start = time.perf_counter()
                engine = load_engine(store, Root.from_environment().kernels)
                load_times.append(time.perf_counter() - start)
        figures["load_seconds"] = statistics.median(load_times)

        start = time.perf_counter()
        quality = evaluate(engine, _files(corpus / "test"))
        seconds = time.perf_counter() - start
        figures.update({f"test_{k}": v for k, v in quality.items()})
        figures["scoring_tokens_per_second"] = quality["tokens"] / seconds

        prompt = engine.tokenizer.encode("import os\n\n\ndef main(argv):\n    ")
        rates = []
        for seed in range(repeat):
            start = time.perf_counter()
            done = engine.complete(prompt, SamplingParams(max_tokens=2000, seed=seed))
            rates.append(done.completion_tokens / (time.perf_counter() - start))
        figures["generate_tokens_per_second"] = statistics.median(rates)
        greedy = []
        for _ in range(repeat):
            start = time.perf_counter()
            done = engine.complete(prompt, SamplingParams(max_tokens=2000, temperature=0.0))
            greedy.append(done.completion_tokens / (time.perf_counter() - start))
        figures["generate_greedy_tokens_per_second"] = statistics.median(greedy)
        plain = []
        for seed in range(repeat):
            start = time.perf_counter()
            done = engine.complete(prompt, SamplingParams(max_tokens=2000, seed=seed,
                                                          dry_multiplier=0.0))
            plain.append(done.completion_tokens / (time.perf_counter() - start))
        figures["generate_no_repetition_penalty_tokens_per_second"] = statistics.median(plain)
        figures.update(_request_overhead(engine, repeat))
        latencies = []
        for seed in range(60 if not args.quick else 20):
            start = time.perf_counter()
            engine.complete(prompt, SamplingParams(max_tokens=64, seed=seed))
            latencies.append(time.perf_counter() - start)
        figures["latency_64_tokens_p50_ms"] = statistics.median(latencies) * 1e3
        figures["latency_64_tokens_p95_ms"] = float(np.percentile(latencies, 95)) * 1e3

        first = sorted((corpus / "test").rglob("*.py"))[0]
        history = engine.tokenizer.encode(first.read_text(encoding="utf-8"))[:8000]
        figures.update(_kernel_speedups(engine, history))

        carried = evaluate(engine, _files(corpus / "test"), carry_cache=True)
        figures["test_carry_bits_per_byte"] = carried["bits_per_byte"]
        figures["peak_rss_mb_model"] = peak_rss_mb()

        train_bin = work / "train.bin"
        _concat(corpus / "train", train_bin)
        alone: dict[str, int | None] = {}
        test_bin = work / "test.bin"
        _concat(corpus / "test", test_bin)
        figures["test_ppmd_bits_per_byte"] = _compressor_bpb("ppmd", train_bin, test_bin, work,
                                                             alone)
        for name in OTHER_PROJECTS:
            package = Path(__import__(name).__file__).parent
            other = work / "other" / name
            for path in sorted(package.rglob("*.py")):
                target = other / path.relative_to(package)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            figures[f"{name}_bytes"] = sum(p.stat().st_size for p in other.rglob("*.py"))
            for mode, carry in (("reset", False), ("carry", True)):
                result = evaluate(engine, _files(other), carry_cache=carry)
                figures[f"{name}_{mode}_bits_per_byte"] = result["bits_per_byte"]
                figures[f"{name}_{mode}_top1"] = result["top1"]
            other_bin = work / f"{name}.bin"
            _concat(other, other_bin)
            for kind in ("ppmd", "xz"):
                figures[f"{name}_{kind}_bits_per_byte"] = _compressor_bpb(
                    kind, train_bin, other_bin, work, alone)
        figures["peak_rss_mb"] = peak_rss_mb()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(corpus.parent, ignore_errors=True)

    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        width = max(map(len, figures))
        for key, value in figures.items():
            shown = (f"{value:.4f}" if isinstance(value, float) and abs(value) < 10
                     else f"{value:,.1f}" if isinstance(value, float) and math.isfinite(value)
                     else str(value))
            print(f"{key:<{width}}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
