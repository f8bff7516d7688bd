"""The consensus choice among line candidates (app/engine/consensus.py)."""

from __future__ import annotations

import math

from app.engine.consensus import CONSIDERED, consensus_order


def test_a_clearly_likeliest_line_stays_first() -> None:
    texts = ["total = 0", "count = len(items)", "total = sum(values)"]
    logprobs = [math.log(0.6), math.log(0.1), math.log(0.05)]
    assert consensus_order(texts, logprobs) == [0, 2, 1]


def test_an_outlier_a_little_likelier_than_each_of_its_rivals_loses_to_their_consensus() -> None:
    # Three lines that agree on all but a name hold more probability together than the
    # first line, which agrees with none of them.
    texts = ["raise SystemExit(main())", "return self.value + other.value",
             "return self.value + other.values", "return self.value + other.size"]
    logprobs = [math.log(0.2), math.log(0.15), math.log(0.12), math.log(0.1)]
    order = consensus_order(texts, logprobs)
    assert order[0] == 1 and order[-1] == 0


def test_only_a_texts_first_line_is_compared() -> None:
    texts = ["x = 1\nsomething else entirely", "x = 1", "y = 2"]
    order = consensus_order(texts, [math.log(0.3), math.log(0.3), math.log(0.1)])
    assert set(order[:2]) == {0, 1}


def test_only_the_leaders_are_reordered_and_none_is_lost() -> None:
    texts = [f"value_{i} = compute({i})" for i in range(CONSIDERED + 4)]
    order = consensus_order(texts, [-float(i) for i in range(len(texts))])
    assert sorted(order) == list(range(len(texts)))
    assert order[CONSIDERED:] == list(range(CONSIDERED, len(texts)))
    assert consensus_order(["only"], [-1.0]) == [0]
    assert consensus_order([], []) == []
