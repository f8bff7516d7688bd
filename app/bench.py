"""``hypercube bench``: how fast this machine runs the engine on a given hypercube.

Every figure is measured in this run, and the JIT's worth as a ratio against the numpy
reference kernels measured in the same run, so the numbers mean something on a shared,
noisy machine: medians over repeats, nothing compared with figures from elsewhere.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from app.engine import SamplingParams, load_engine
from app.engine.types import EngineProtocol
from app.store import Store
from app.store.tokens import unpack_tokens
from jit import Kernels


@dataclass(frozen=True)
class BenchReport:
    native_kernels: bool
    jit_compile_seconds: float
    jit_from_cache: bool
    load_seconds: float
    generate_tokens_per_second: float
    completion_64_p50_ms: float
    completion_64_p95_ms: float
    score_tokens_per_second: float
    reference_completion_64_p50_ms: float
    jit_speedup: float
    peak_rss_mb: float

    def as_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in asdict(self).items()}


def _median_seconds(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def _prompt(store: Store, engine: EngineProtocol, length: int) -> np.ndarray:
    """The opening tokens of the hypercube's longest document: text the model knows."""
    row = store.conn.execute("SELECT tokens FROM document_tokens t JOIN documents d "
                             "ON d.id = t.doc_id ORDER BY d.n_tokens DESC, d.path LIMIT 1"
                             ).fetchone()
    # No document (load_engine has refused such a hypercube already): the fallback prompt.
    tokens = np.zeros(0, np.int64) if row is None else unpack_tokens(row[0], np.int64)
    return tokens[:length] if len(tokens) else engine.tokenizer.encode("def ")


def run_bench(store: Store, native: Kernels, reference_kernels: Kernels,
              repeat: int = 5) -> BenchReport:
    """Engine figures with ``native`` kernels, and the latency with ``reference_kernels``
    (the numpy references, :attr:`app.compose.Root.reference_kernels`) to compare."""
    load_times = _median_seconds(lambda: load_engine(store, native), 3)
    engine = load_engine(store, native)
    prompt = _prompt(store, engine, 256)
    sampled = SamplingParams(max_tokens=512, temperature=1.0, seed=7)
    generated: list[int] = []

    def generate() -> None:
        generated.append(engine.complete(prompt[:16], sampled).completion_tokens)

    gen_times = _median_seconds(generate, repeat)
    short = SamplingParams(max_tokens=64, temperature=1.0, seed=11)
    latencies = _median_seconds(lambda: engine.complete(prompt[:32], short), 20)
    scored = prompt[:256]
    score_times = _median_seconds(lambda: engine.score(scored), repeat)
    reference = load_engine(store, reference_kernels)
    reference_latencies = _median_seconds(lambda: reference.complete(prompt[:32], short),
                                          max(3, repeat // 2))
    p50 = statistics.median(latencies)
    reference_p50 = statistics.median(reference_latencies)
    return BenchReport(
        native_kernels=native.native,
        jit_compile_seconds=native.compile_seconds,
        jit_from_cache=native.from_cache,
        load_seconds=statistics.median(load_times),
        generate_tokens_per_second=statistics.median(
            n / t for n, t in zip(generated, gen_times, strict=True)),
        completion_64_p50_ms=p50 * 1e3,
        completion_64_p95_ms=float(np.percentile(latencies, 95)) * 1e3,
        score_tokens_per_second=len(scored) / statistics.median(score_times),
        reference_completion_64_p50_ms=reference_p50 * 1e3,
        jit_speedup=reference_p50 / p50,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
