"""The LLVM kernels against their numpy/Python references: identical results, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model import Model, ModelParams, build_segment
from jit import kernels
from jit.compiler import compile_native
from jit.layout import F_HEAD, F_HIST, F_LEN, F_ML, F_PREV

V = 40


def _corpus(seed: int, docs: int) -> list[np.ndarray]:
    """Random documents with plenty of repeats, so long matches and large ranges occur."""
    rng = np.random.default_rng(seed)
    motif = rng.integers(0, V, 30)
    out = []
    for _ in range(docs):
        parts = [rng.integers(0, 10, rng.integers(1, 60))]
        if rng.random() < 0.7:
            start = int(rng.integers(0, 20))
            parts.append(motif[start:start + int(rng.integers(3, 10))])
        parts.append(rng.integers(0, V, rng.integers(0, 20)))
        out.append(np.concatenate(parts).astype(np.uint32))
    return out


def _params(seed: int) -> ModelParams:
    """Parameters away from the defaults, so every bucket's value matters."""
    rng = np.random.default_rng(seed)
    base = ModelParams.default()
    return ModelParams(base.alpha * rng.uniform(0.2, 3, base.alpha.shape),
                       base.disc * rng.uniform(0.3, 1.5, base.disc.shape),
                       base.beta * rng.uniform(0, 3, base.beta.shape),
                       rng.uniform(0, 1, base.mix.shape)).clipped()


def _models(segments: list, seed: int) -> tuple[Model, Model]:
    params = _params(seed)
    return (Model(segments, params, V, kernels()),
            Model(segments, params, V, kernels(native=False)))


@pytest.mark.parametrize("layout", ["one", "two", "none"])
def test_distribution_stats_and_cache_match_reference(layout: str) -> None:
    docs = _corpus(1, 40)
    segments = {"one": [build_segment(docs, V, thresh=6)],
                "two": [build_segment(docs[:25], V, thresh=6),
                        build_segment(docs[25:], V, thresh=6)],
                "none": []}[layout]
    native_model, reference_model = _models(segments, 2)
    assert native_model.kernels.native, "LLVM should compile on this machine"
    native, reference = native_model.session(8), reference_model.session(8)
    text = np.concatenate([docs[3][:40], docs[7], _corpus(9, 3)[0]])
    for token in text.tolist():
        p_native = native.distribution().copy()
        p_reference = reference.distribution().copy()
        assert np.array_equal(p_native, p_reference)
        assert np.array_equal(native.info(), reference.info())
        assert np.array_equal(native.level_records(token), reference.level_records(token))
        native.push(token)
        reference.push(token)
        for slot in (F_HIST, F_ML, F_PREV):
            n = native.frame.get(F_LEN)
            assert np.array_equal(native.frame.arrays[slot][:n], reference.frame.arrays[slot][:n])
        assert np.array_equal(native.frame.arrays[F_HEAD], reference.frame.arrays[F_HEAD])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, V - 1), min_size=0, max_size=60), st.integers(0, 3))
def test_any_context_matches_reference(context: list[int], seed: int) -> None:
    segment = build_segment(_corpus(seed, 20), V, thresh=4)
    native_model, reference_model = _models([segment], seed)
    native = native_model.session(4)
    reference = reference_model.session(4)
    native.reset(context)
    reference.reset(context)
    assert np.array_equal(native.distribution(), reference.distribution())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=50),
       st.floats(0, 1, exclude_max=True))
def test_sample_matches_reference(weights: list[float], u: float) -> None:
    probs = np.array(weights, dtype=np.float64)
    if not (probs > 0).any():
        probs[0] = 1.0
    assert kernels().sample(probs, u) == kernels(native=False).sample(probs, u)
    assert probs[kernels().sample(probs, u)] > 0


def test_object_code_is_cached_between_runs(tmp_path: Path) -> None:
    first = compile_native(tmp_path)
    second = compile_native(tmp_path)
    assert not first.from_cache
    assert second.from_cache
    assert len(list(tmp_path.glob("kernels-*.o"))) == 1
    probs = np.array([0.1, 0.0, 0.5, 0.4])
    assert first.sample(probs.ctypes.data, 4, 0.3) == second.sample(probs.ctypes.data, 4, 0.3)
