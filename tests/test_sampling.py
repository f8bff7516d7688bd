"""Stop matching across token boundaries and the sampler's controls."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine.sampling import Sampler, make_rng
from app.engine.stops import StopMatcher
from app.engine.types import SamplingParams
from app.errors import InvalidRequest
from jit import kernels


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
