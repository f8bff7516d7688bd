"""The LLVM kernels against their numpy/Python references: identical results, bit for bit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.sampling import repetition_factors
from app.model import KMAX, Model, ModelParams, RepetitionTables, build_segment
from app.model.params import base_distribution
from app.model.runtime import Session
from jit import ScoringTable, kernels
from jit.compiler import compile_native
from jit.layout import (
    F_DRY_LEN,
    F_DRY_SAVE,
    F_DRY_TOK,
    F_HEAD,
    F_HIST,
    F_LEN,
    F_ML,
    F_OUT,
    F_PREV,
)

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


def _scoring_segments(layout: str) -> list:
    docs = _corpus(1, 40)
    return {"one": [build_segment(docs, V, thresh=6)],
            "two": [build_segment(docs[:25], V, thresh=6),
                    build_segment(docs[25:], V, thresh=6)],
            # A project's context, counted several times over (Model.extended).
            "weighted": [build_segment(docs[:30], V, thresh=6),
                         dataclasses.replace(build_segment(docs[30:], V, thresh=6), weight=4)],
            "none": []}[layout]


@pytest.mark.parametrize("layout", ["one", "two", "weighted", "none"])
def test_score_is_each_tokens_probability_in_the_distribution(layout: str) -> None:
    native_model, reference_model = _models(_scoring_segments(layout), 3)
    docs = _corpus(1, 40)
    # Tokens seen in training and not, repeats of the history (the cache's components).
    text = np.concatenate([docs[3][:40], docs[7], _corpus(9, 3)[0], docs[7][:12]])
    prompt = docs[11][:9]
    for model in (native_model, reference_model):
        walked = model.session(8)
        walked.reset(prompt)
        expected = []
        for token in text.tolist():
            expected.append(walked.distribution()[token])
            walked.push(token)
        scored = model.session(8)  # too small for the text: score makes room
        scored.reset(prompt)
        first = scored.score(text[:30])
        rest = scored.score(text[30:])
        assert np.array_equal(np.concatenate([first, rest]), np.array(expected))
        assert scored.length == walked.length
        n = walked.length
        for slot in (F_HIST, F_ML, F_PREV):
            assert np.array_equal(scored.frame.arrays[slot][:n], walked.frame.arrays[slot][:n])
        assert np.array_equal(scored.frame.arrays[F_HEAD], walked.frame.arrays[F_HEAD])
        # The next query sees the same history.
        assert np.array_equal(scored.distribution(), walked.distribution())
    native_session, reference_session = native_model.session(8), reference_model.session(8)
    assert np.array_equal(native_session.score(text), reference_session.score(text))


@pytest.mark.parametrize("nbase", [0, 1, 2])
def test_score_weights_is_score_under_each_context_weight(nbase: int) -> None:
    docs = _corpus(1, 40)
    weights = [1, 2, 3, 7, 16]
    training = [build_segment(docs[:20], V, thresh=6), build_segment(docs[20:30], V, thresh=6)]
    context = [build_segment(docs[30:36], V, thresh=6), build_segment(docs[36:38], V, thresh=6)]
    params = _params(2)
    # Repeats of the context and of the history, tokens never seen.
    text = np.concatenate([docs[37], docs[3][:40], docs[31], _corpus(9, 2)[0]]).astype(np.int64)
    results = []
    for kernel_set in (kernels(), kernels(native=False)):
        base = Model(training[:nbase], params, V, kernel_set)
        expected = np.stack([base.extended(context, w).session(8).score(text)
                             for w in weights], axis=1)
        extra = sum(segment.unigram for segment in context)
        table = ScoringTable({
            "NBASE": nbase, "NW": len(weights), "WEIGHTS": np.array(weights, dtype=np.int64),
            "P0W": np.concatenate([base_distribution(base.unigram + w * extra, params)
                                   for w in weights]),
            "STATE": np.zeros(2 * len(weights)),
            "ISTATE": np.zeros(2 * len(weights), dtype=np.int64),
            "MCX": np.zeros(V + 1, dtype=np.uint32), "XTOUCH": np.zeros(V + 1, dtype=np.int32)})
        session = base.extended(context, 1).session(8)
        got = session.score_weights(text[:25], table).copy()
        got = np.concatenate([got, session.score_weights(text[25:], table)])
        assert np.array_equal(got, expected)
        assert session.length == len(text) + 1
        # The scratch counts are left at zero for the next call.
        assert not table.array("MCX").any()
        results.append(got)
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("layout", ["one", "weighted"])
def test_prob_is_the_distributions_value_for_every_token(layout: str) -> None:
    native_model, reference_model = _models(_scoring_segments(layout), 5)
    docs = _corpus(1, 40)
    for model in (native_model, reference_model):
        session = model.session(64)
        for context in (docs[5][:20], np.concatenate([docs[2], docs[2][:6]]), docs[0][:0]):
            session.reset(context)
            probs = session.distribution().copy()
            got = []
            for target in range(V):
                session.frame.set("TARGET", target)
                got.append(model.kernels.prob(session.frame))
            assert np.array_equal(np.array(got), probs)
            # OUT is not the prob kernel's to write.
            assert np.array_equal(session.probs, probs)


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


# Sizes around the sampling block (64) and the argmax lanes (16), and a vocabulary's.
_sizes = st.sampled_from([1, 2, 15, 16, 17, 50, 63, 64, 65, 127, 128, 129, 200, 1000, 8193])


@st.composite
def _weights(draw: st.DrawFn) -> np.ndarray:
    n = draw(_sizes)
    kind = draw(st.sampled_from(["uniform", "ties", "sparse", "skewed"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "uniform":
        probs = rng.random(n)
    elif kind == "ties":
        probs = rng.integers(0, 3, n).astype(np.float64)
    elif kind == "sparse":
        probs = np.where(rng.random(n) < 0.05, rng.random(n), 0.0)
    else:
        probs = rng.random(n) ** 12
    return probs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=50),
       st.floats(0, 1, exclude_max=True))
def test_sample_matches_reference(weights: list[float], u: float) -> None:
    probs = np.array(weights, dtype=np.float64)
    if not (probs > 0).any():
        probs[0] = 1.0
    assert kernels().sample(probs, u) == kernels(native=False).sample(probs, u)
    assert probs[kernels().sample(probs, u)] > 0


@settings(max_examples=150, deadline=None)
@given(_weights(), st.floats(0, 1, exclude_max=True))
def test_blocked_sample_and_argmax_match_reference(probs: np.ndarray, u: float) -> None:
    native, reference = kernels(), kernels(native=False)
    token = native.sample(probs, u)
    assert token == reference.sample(probs, u)
    if (probs > 0).any():
        assert probs[token] > 0
    assert native.argmax(probs) == reference.argmax(probs) == int(np.argmax(probs))


@settings(max_examples=100, deadline=None)
@given(_weights(), st.integers(1, 48))
def test_top_is_the_k_largest_best_first_and_leaves_the_values_as_they_were(
        probs: np.ndarray, k: int) -> None:
    before = probs.copy()
    expected = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:k]
    assert kernels().top(probs, k) == kernels(native=False).top(probs, k) == expected
    assert np.array_equal(probs, before)


def test_blocked_sample_is_inverse_cdf_sampling() -> None:
    probs = np.random.default_rng(3).random(1000) ** 4
    cumulative = np.cumsum(probs) / probs.sum()
    for u in np.linspace(0, 1, 200, endpoint=False):
        token = kernels().sample(probs, float(u))
        # Exactly the plain inverse CDF, except where rounding differs at a boundary.
        assert abs(token - int(np.searchsorted(cumulative, u, side="right"))) <= 1


def test_reset_matches_pushing_one_token_at_a_time() -> None:
    native_model, reference_model = _models([build_segment(_corpus(4, 20), V, thresh=4)], 4)
    rng = np.random.default_rng(4)
    prompts = [rng.integers(0, 8, 300), rng.integers(0, V, 5), np.zeros(0, dtype=np.int64),
               np.tile(rng.integers(0, V, 7), 20), rng.integers(0, V, 40)]
    reused = [native_model.session(8), reference_model.session(8)]
    for prompt in prompts:
        fresh = native_model.session(4)  # grows as it goes
        fresh.reset()
        for token in prompt.tolist():
            fresh.push(token)
        n = fresh.length
        for session in reused:
            # A session reused after a longer history, and grown when a prompt needs room.
            session.reset(prompt)
            assert session.length == n
            for slot in (F_HIST, F_ML, F_PREV):
                assert np.array_equal(session.frame.arrays[slot][:n],
                                      fresh.frame.arrays[slot][:n])
            assert np.array_equal(session.frame.arrays[F_HEAD], fresh.frame.arrays[F_HEAD])
            assert np.array_equal(session.distribution(), fresh.distribution())


def test_object_code_is_cached_between_runs(tmp_path: Path) -> None:
    first = compile_native(tmp_path)
    second = compile_native(tmp_path)
    assert not first.from_cache
    assert second.from_cache
    assert len(list(tmp_path.glob("kernels-*.o"))) == 1
    probs = np.array([0.1, 0.0, 0.5, 0.4])
    assert first.sample(probs.ctypes.data, 4, 0.3) == second.sample(probs.ctypes.data, 4, 0.3)


def test_a_cache_hit_loads_the_object_code_without_building_the_ir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jit.compiler as compiler

    compile_native(tmp_path)

    def unbuilt() -> None:
        raise AssertionError("the IR was built on a cache hit")

    monkeypatch.setattr(compiler, "build_module", unbuilt)
    hit = compile_native(tmp_path)
    assert hit.from_cache
    probs = np.array([0.1, 0.0, 0.5, 0.4])
    assert hit.sample(probs.ctypes.data, 4, 0.3) == 2


def test_without_readable_source_the_ir_text_is_the_cache_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A frozen build's modules have no source files: the IR is built and keys the cache.
    import jit.compiler as compiler

    monkeypatch.setattr(compiler, "_source_key", lambda: None)
    first, second = compile_native(tmp_path), compile_native(tmp_path)
    assert (first.from_cache, second.from_cache) == (False, True)
    monkeypatch.undo()
    assert not compile_native(tmp_path).from_cache   # a key of another kind: its own file
    assert len(list(tmp_path.glob("kernels-*.o"))) == 2


def _brute_force_repeats(history: list[int], breakers: np.ndarray,
                         allowed: int) -> dict[int, int]:
    """The repetition penalty's lengths by definition (jit/reference.py dry_apply), by
    comparing the text with itself: {token: longest repeat it would extend}."""
    h = [V, *history]  # position 0 is the document separator
    last = len(h) - 1
    cap = 0
    while cap < KMAX and last - cap >= 1 and not breakers[h[last - cap]]:
        cap += 1
    found: dict[int, int] = {}
    for j in range(1, last):
        matched = 0
        while matched < KMAX and j - matched >= 0 and h[j - matched] == h[last - matched]:
            matched += 1
        if matched == 0:
            continue
        looping = matched >= last - j
        length = matched if looping else min(matched, cap)
        w = h[j + 1]
        if length >= allowed and (looping or not breakers[w]):
            found[w] = max(found.get(w, 0), length)
    return found


def _dry_state(session: Session, m: int) -> tuple[np.ndarray, ...]:
    arrays = session.frame.arrays
    return (arrays[F_OUT].copy(), arrays[F_DRY_TOK][:m].copy(), arrays[F_DRY_LEN][:m].copy(),
            arrays[F_DRY_SAVE][:m].copy())


_histories = st.one_of(
    st.lists(st.integers(0, 5), max_size=150),
    # Loops: a short block repeated, with noise around it and long runs of one token.
    st.tuples(st.lists(st.integers(0, V - 1), max_size=20),
              st.lists(st.integers(0, V - 1), min_size=1, max_size=6), st.integers(1, 30),
              st.lists(st.integers(0, V - 1), max_size=10)).map(
        lambda parts: parts[0] + parts[1] * parts[2] + parts[3]))


@settings(max_examples=80, deadline=None)
@given(_histories, st.lists(st.integers(0, V - 1), max_size=6), st.integers(1, 5),
       st.floats(0.05, 3.0), st.floats(1.0, 3.0))
def test_repetition_penalty_matches_reference_and_definition(
        history: list[int], breaker_ids: list[int], allowed: int, multiplier: float,
        base: float) -> None:
    segment = build_segment(_corpus(5, 20), V, thresh=4)
    native_model, reference_model = _models([segment], 5)
    breakers = np.zeros(V + 1, dtype=np.uint8)
    breakers[breaker_ids] = 1
    breakers[V] = 1
    tables = RepetitionTables(breakers, repetition_factors(multiplier, base, allowed), allowed)
    results = []
    for model in (native_model, reference_model):
        session = model.session(4)
        session.reset(history)
        session.repetition_penalty(tables)
        before = session.distribution().copy()
        m = model.kernels.dry_apply(session.frame)
        results.append((m, *_dry_state(session, m)))
        model.kernels.dry_restore(session.frame, m)
        # Restoring gives back the model's distribution bit for bit.
        assert np.array_equal(session.frame.arrays[F_OUT], before)
        expected = _brute_force_repeats(history, breakers, allowed)
        assert m == len(expected)
        tok, lens = results[-1][2], results[-1][3]
        assert dict(zip(tok.tolist(), lens.tolist(), strict=True)) == expected
        # The fused kernels choose from the penalised distribution and restore it.
        u = (multiplier * 7919) % 1.0
        assert model.kernels.dry_argmax(session.frame) == int(np.argmax(results[-1][1]))
        assert model.kernels.dry_sample(session.frame, u) == model.kernels.sample(
            results[-1][1].copy(), u)
        assert np.array_equal(session.frame.arrays[F_OUT], before)
        penalised = results[-1][1]
        for w, length in expected.items():
            assert penalised[w] == before[w] * tables.factors[length]
        untouched = np.ones(V, dtype=bool)
        untouched[list(expected)] = False
        assert np.array_equal(penalised[untouched], before[untouched])
    native, reference = results
    assert native[0] == reference[0]
    for a, b in zip(native[1:], reference[1:], strict=True):
        assert np.array_equal(a, b)


def test_repetition_penalty_is_off_by_default_in_a_session() -> None:
    model, _ = _models([build_segment(_corpus(1, 10), V, thresh=4)], 1)
    session = model.session(4)
    session.reset([1, 2, 3] * 20)
    before = session.distribution().copy()
    assert model.kernels.dry_apply(session.frame) == 0
    assert np.array_equal(session.frame.arrays[F_OUT], before)
