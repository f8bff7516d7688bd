"""Project context (``eval --carry-cache``): earlier files counted exactly like one segment."""

from __future__ import annotations

import numpy as np

from app.model import Model, ModelParams, build_segment
from app.model.context import ProjectContext
from jit import kernels

V = 30


def _docs(seed: int, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    motif = rng.integers(0, V, 15)
    return [np.concatenate([rng.integers(0, V, rng.integers(0, 40)),
                            motif[:int(rng.integers(2, 15))]]).astype(np.uint32)
            for _ in range(count)]


def _params(context_weight: int = 1) -> ModelParams:
    rng = np.random.default_rng(5)
    base = ModelParams.default()
    return ModelParams(base.alpha, base.disc, base.beta, rng.uniform(0, 1, base.mix.shape),
                       context_weight).clipped()


def test_context_segments_add_up_to_one_segment_of_the_earlier_documents() -> None:
    train = build_segment(_docs(1, 20), V)
    base = Model([train], _params(context_weight=2), V, kernels())
    project = _docs(2, 9)
    context = ProjectContext(V)
    for i, doc in enumerate(project):
        if i:
            # Few segments however many documents: merged like a binary counter.
            assert len(context.segments) <= int(np.log2(i)) + 1
            whole = base.extended([build_segment(project[:i], V)], 2)
            a, b = context.model(base).session(), whole.session()
            for token in doc.tolist():
                assert np.array_equal(a.distribution(), b.distribution())
                a.push(token)
                b.push(token)
        context.add(doc)
    assert context.tokens == sum(len(d) for d in project)
    assert base.tokens == train.tokens  # the base model itself never changes


def test_a_weighted_segment_counts_like_copies_of_it() -> None:
    train = build_segment(_docs(4, 15), V)
    base = Model([train], _params(), V, kernels())
    project = build_segment(_docs(5, 6), V)
    weighted = base.extended([project], 3)
    copies = base.extended([project, project, project])
    native = weighted.session()
    reference = Model(weighted.segments, weighted.params, V,
                      kernels(native=False)).session()
    b = copies.session()
    for token in np.concatenate(_docs(6, 3)).tolist():
        p = native.distribution()
        assert np.array_equal(p, b.distribution())
        assert np.array_equal(p, reference.distribution())
        for session in (native, reference, b):
            session.push(token)


def test_an_empty_context_is_the_base_model() -> None:
    base = Model([build_segment(_docs(3, 10), V)], _params(), V, kernels())
    context = ProjectContext(V)
    context.add(np.zeros(0, dtype=np.uint32))
    assert context.model(base) is base
