"""Stop matching across token boundaries and the sampler's controls."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.sampling import Sampler, breaker_mask, make_rng, repetition_factors
from app.engine.stops import StopMatcher
from app.engine.types import SamplingParams
from app.errors import InvalidRequest
from app.model import KMAX, Model, ModelParams, RepetitionTables, build_segment
from jit import kernels
from tests.bench.bench_generation_quality import has_loop, loop_spans


def _run(stops: list[str], pieces: list[str]) -> tuple[str, bool]:
    matcher = StopMatcher(stops)
    out = ""
    for piece in pieces:
        out += matcher.push(piece)
        if matcher.stopped:
            return out, True
    return out + matcher.flush(), False


@pytest.mark.parametrize(("stops", "pieces", "expected", "stopped"), [
    (["END"], ["ab", "cE", "N", "Dxyz"], "abc", True),
    (["END"], ["ab", "cE", "N", "x"], "abcENx", False),
    (["\n\n", "###"], ["a\n", "\nb"], "a", True),
    (["###"], ["##", "#"], "", True),
    (["ab", "b"], ["xab"], "x", True),
    ([], ["a", "b"], "ab", False),
    (["aaa"], ["aa", "aa"], "", True),
])
def test_stop_matcher(stops: list[str], pieces: list[str], expected: str, stopped: bool) -> None:
    assert _run(stops, pieces) == (expected, stopped)


def test_held_back_text_is_released_once_it_cannot_match() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.push("xST") == "x"
    assert matcher.push("A") == "STA"


def _sampler(**kwargs: object) -> Sampler:
    params = SamplingParams(**kwargs)  # type: ignore[arg-type]
    return Sampler(params, make_rng(params.seed), kernels(), 6)


PROBS = np.array([0.05, 0.4, 0.3, 0.15, 0.1, 0.0])


def _draws(sampler: Sampler, n: int = 400) -> np.ndarray:
    return np.array([sampler.choose(PROBS) for _ in range(n)])


def test_controls_restrict_the_candidates() -> None:
    assert set(_draws(_sampler(top_k=2, seed=1)).tolist()) == {1, 2}
    assert set(_draws(_sampler(top_p=0.65, seed=2)).tolist()) == {1, 2}
    assert set(_draws(_sampler(min_p=0.5, seed=3)).tolist()) == {1, 2}
    assert set(_draws(_sampler(seed=4)).tolist()) == {0, 1, 2, 3, 4}
    assert set(_draws(_sampler(temperature=0.0)).tolist()) == {1}
    assert set(_draws(_sampler(temperature=0.0, logit_bias={3: 2.0})).tolist()) == {3}


def test_draws_follow_the_distribution() -> None:
    counts = np.bincount(_draws(_sampler(seed=5), 20_000), minlength=6) / 20_000
    assert np.allclose(counts, PROBS, atol=0.015)
    cold = np.bincount(_draws(_sampler(seed=6, temperature=0.5), 20_000), minlength=6)
    assert cold[1] / 20_000 > 0.5  # sharper than the model's 0.4


def test_same_seed_same_draws() -> None:
    assert np.array_equal(_draws(_sampler(seed=9, temperature=0.7)),
                          _draws(_sampler(seed=9, temperature=0.7)))


def test_bad_logit_bias_is_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        _sampler(logit_bias={6: 1.0})
    assert info.value.param == "logit_bias"


def test_repetition_factors_grow_geometrically_from_the_allowed_length() -> None:
    factors = repetition_factors(0.8, 1.75, 3)
    assert factors.shape == (KMAX + 1,)
    assert (factors[:3] == 1.0).all()
    penalties = -np.log(factors[3:8])
    assert np.allclose(penalties, 0.8 * 1.75 ** np.arange(5))
    assert factors[KMAX] == 0.0  # far beyond float64: a 64-token copy is ruled out
    assert (repetition_factors(0.0, 2.0, 1) == 1.0).all()


def test_breaker_mask_marks_tokens_containing_a_breaker_and_the_separator() -> None:
    mask = breaker_mask(["a", "\n   ", "b:", "c", '"x'], ["\n", ":"])
    assert mask.tolist() == [0, 1, 1, 0, 0, 1]
    assert breaker_mask(["a", "\n"], []).tolist() == [0, 0, 1]


@pytest.mark.parametrize(("field", "value"), [
    ("dry_multiplier", -0.1), ("dry_multiplier", 1000.0), ("dry_base", 0.5),
    ("dry_base", 100.0), ("dry_allowed_length", 0), ("dry_allowed_length", KMAX + 1),
    ("dry_sequence_breakers", [""]), ("dry_sequence_breakers", ["x"] * 100),
])
def test_bad_repetition_parameters_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidRequest) as info:
        _sampler(**{field: value})
    assert info.value.param == field


def _looping_session(V: int = 12):
    """A tiny model whose history ends in a loop: 1 2 3 4 1 2 3 4 ... 1 2 3."""
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, V, 50).astype(np.uint32) for _ in range(5)]
    model = Model([build_segment(docs, V, thresh=4)], ModelParams.default(), V, kernels())
    session = model.session(8)
    session.reset([5, 6] + [1, 2, 3, 4] * 6 + [1, 2, 3])
    return model, session


def test_an_attached_sampler_penalises_continuing_a_loop_and_restores_the_distribution(
        ) -> None:
    model, session = _looping_session()
    probs = session.distribution()
    before = probs.copy()
    assert int(np.argmax(before)) == 4  # the model's cache wants the loop to go on
    plain = Sampler(SamplingParams(temperature=0.0, dry_multiplier=0.0), None, model.kernels,
                    model.vocab_size)
    assert plain.choose(probs) == 4
    greedy = Sampler(SamplingParams(temperature=0.0), None, model.kernels, model.vocab_size)
    tables = RepetitionTables(breaker_mask([str(i) for i in range(12)], []),
                              repetition_factors(0.8, 1.75, 3), 3)
    greedy.attach(session, tables)
    assert greedy.choose(probs) != 4
    assert np.array_equal(probs, before)  # what the caller reports is the model's own
    drawn = Sampler(SamplingParams(seed=1), make_rng(1), model.kernels, model.vocab_size)
    drawn.attach(session, tables)
    picks = {drawn.choose(probs) for _ in range(200)}
    assert 4 not in picks
    assert np.array_equal(probs, before)
    with pytest.raises(ValueError):
        drawn.choose(before)  # an attached sampler samples its own session only


def test_the_benchmarks_loop_definition() -> None:
    block = list(range(8))
    assert has_loop([9, *block * 3, 9])
    assert not has_loop([9, *block * 2, *block[:7], 9])  # not three whole repeats
    assert has_loop([1, 2] * 12) and not has_loop([1, 2] * 11)  # 8 tokens = 4 periods
    assert not has_loop(list(range(200)))
    assert loop_spans([5, *[1, 2, 3] * 9, 6]) == [(1, 28)]
