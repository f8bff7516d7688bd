"""The statistical model: real probabilities, exact counts, and segments that add up."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.model import KMAX, Model, ModelParams, build_segment
from app.model.context import ProjectContext
from app.model.fit import (
    CONTEXT_WEIGHTS,
    N_DISC,
    _components,
    _context_probabilities,
    _fit_mixture,
    _Objective,
    _scoring_table,
    collect_records,
    fit_context_weight,
    fit_params,
    held_out_projects,
    to_raw,
)
from app.model.params import NALPHA, NBETA, NMIX, count_bucket, count_buckets
from app.model.segment import join_documents
from jit import FitTable, kernels
from jit.layout import INFO_FIELDS, NMIXC, R_C, R_CY, REC_FIELDS

V = 30


def _docs(seed: int, count: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    phrase = rng.integers(0, V, 12)
    docs = []
    for _ in range(count):
        cut = int(rng.integers(2, 12))
        docs.append(np.concatenate([rng.integers(0, 8, rng.integers(0, 50)), phrase[:cut],
                                    rng.integers(0, V, rng.integers(0, 30))]).astype(np.uint32))
    return docs


def _mixed_params(seed: int) -> ModelParams:
    """Default hierarchy, random final mixture (every component in play)."""
    base = ModelParams.default()
    mix = np.random.default_rng(seed).uniform(0, 1, base.mix.shape)
    return ModelParams(base.alpha, base.disc, base.beta, mix).clipped()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, V - 1), max_size=80), st.integers(0, 4))
def test_distribution_is_a_distribution_for_any_context(context: list[int], seed: int) -> None:
    model = Model([build_segment(_docs(seed), V, thresh=5)], _mixed_params(seed), V,
                  kernels())
    session = model.session(8)
    session.reset(context)
    probs = session.distribution()
    assert probs.shape == (V,)
    assert (probs > 0).all()
    assert abs(probs.sum() - 1.0) < 1e-12


def _brute_force_counts(docs: list[np.ndarray], context: list[int]) -> dict[int, int]:
    """Next-token counts after ``context`` (SEP-joined stream), by scanning."""
    stream = join_documents(docs, V).tolist()
    k = len(context)
    counts: dict[int, int] = {}
    for end in range(k, len(stream)):
        if stream[end - k:end] == context and stream[end] != V:
            counts[stream[end]] = counts.get(stream[end], 0) + 1
    return counts


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.integers(1, 6), st.integers(0, 29))
def test_top_level_counts_are_exact(seed: int, order: int, doc: int) -> None:
    docs = _docs(seed)
    model = Model([build_segment(docs, V, thresh=3)], ModelParams.default(), V, kernels())
    context = docs[doc][:order].tolist()
    if len(context) < order:
        return
    session = model.session(4)
    session.reset(context)
    # Make the cache useless for this check: a fresh history where only the context is.
    expected = _brute_force_counts(docs, [V, *context])  # the context starts a document
    records = session.level_records(int(docs[doc][order]) if len(docs[doc]) > order else 0)
    top = records[0]
    assert top[R_C] == sum(expected.values())
    target = int(docs[doc][order]) if len(docs[doc]) > order else 0
    assert top[R_CY] == expected.get(target, 0)


def test_segments_add_up_to_one_merged_segment() -> None:
    docs = _docs(7, 40)
    params = ModelParams.default()
    split = Model([build_segment(docs[:13], V, thresh=4), build_segment(docs[13:], V, thresh=4)],
                  params, V, kernels())
    merged = Model([build_segment(docs, V, thresh=4)], params, V, kernels())
    a, b = split.session(), merged.session()
    for token in np.concatenate(_docs(8, 3)).tolist():
        assert np.array_equal(a.distribution(), b.distribution())
        a.push(token)
        b.push(token)


def test_history_grows_past_its_capacity() -> None:
    model = Model([build_segment(_docs(1), V)], ModelParams.default(), V, kernels())
    small, large = model.session(4), model.session(1000)
    for token in np.concatenate(_docs(2, 10)).tolist()[:300]:
        assert np.array_equal(small.distribution(), large.distribution())
        small.push(token)
        large.push(token)
    assert small.capacity >= 300


def test_long_matches_are_capped_at_kmax() -> None:
    rng = np.random.default_rng(0)
    long_doc = rng.integers(0, V, 400).astype(np.uint32)
    model = Model([build_segment([long_doc], V)], ModelParams.default(), V, kernels())
    session = model.session()
    session.reset(long_doc[:200])
    probs = session.distribution()
    assert session.info()[0] == KMAX
    assert probs[long_doc[200]] > 5 / V  # the long match lifts its continuation


def test_fitting_improves_held_out_likelihood() -> None:
    docs = _docs(3, 60)
    model = Model([build_segment(docs[:50], V)], ModelParams.default(), V, kernels())
    records = collect_records(model, docs[50:], limit=2000)
    _, bits_before = fit_params(records, kernels(), iterations=1)
    params, bits_after = fit_params(records, kernels(), iterations=60)
    assert bits_after < bits_before
    # The fitted parameters give exactly that likelihood through the real kernels.
    fitted = Model(model.segments, params, V, kernels())
    total = 0.0
    count = 0
    session = fitted.session()
    for doc in docs[50:]:
        session.reset()
        for token in doc.tolist():
            total -= np.log2(session.distribution()[token])
            session.push(token)
            count += 1
    assert abs(total / count - bits_after) < 1e-6


def _scored_records(model: Model, streams: list[np.ndarray]) -> tuple[list, list, list]:
    """Each token's records (bottom first), level count and INFO, one query at a time."""
    records, depth, infos = [], [], []
    session = model.session(8)
    for stream in streams:
        session.reset()
        for levels, rows, info in session.scored(stream.tolist()):
            records.append(rows[::-1].tolist())
            depth.append(levels + 1)
            infos.append(info.tolist())
    return records, depth, infos


def test_collected_records_are_the_stats_of_each_token() -> None:
    docs = _docs(5, 60)
    # A document repeated: its tokens have long matches in training and in the cache.
    repeated = np.tile(docs[0], 12)[:400]
    held = [*docs[50:], repeated, repeated[:0], docs[51]]
    for kernel_set in (kernels(), kernels(native=False)):
        model = Model([build_segment([*docs[:50], repeated], V)], _mixed_params(5), V,
                      kernel_set)
        got = collect_records(model, held, limit=10_000)
        records, depth, infos = _scored_records(model, held)
        assert got.depth.tolist() == depth
        assert got.info.tolist() == infos
        starts = np.cumsum(got.depth) - got.depth
        for i, rows in enumerate(records):
            assert got.rec[starts[i] + 1:starts[i] + depth[i]].tolist() == rows
        # Order 0 of each token: the unigram counts, its own among them.
        assert got.rec[starts, R_CY].tolist() == model.unigram[got.targets].tolist()
        assert got.rec[starts, R_C].tolist() == [model.tokens] * got.tokens
        # Stopping at the limit, mid-document; few tokens: the buffer grows (a token may
        # need KMAX + 2 rows, more than 8 a token).
        assert collect_records(model, held, limit=500).tokens == 500
        few = collect_records(model, [repeated[:40]], limit=3)
        assert few.depth.tolist() == _scored_records(model, [repeated[:3]])[1]
        # The kernel stops where the next token might not fit, and goes on from there.
        session = model.session(8)
        room = np.zeros((2 * (KMAX + 2), REC_FIELDS), dtype=np.int32)
        ids = repeated.astype(np.int64)
        token_depth = np.zeros(len(ids), dtype=np.int64)
        token_info = np.zeros((len(ids), INFO_FIELDS), dtype=np.int64)
        done = session.collect(ids, room, token_depth, token_info)
        assert 1 <= done < len(ids)
        assert token_depth[:done].tolist() == \
            _scored_records(model, [repeated])[1][:done]
        rest = session.collect(ids[done:], np.zeros((len(ids) * (KMAX + 2), REC_FIELDS),
                                                     dtype=np.int32),
                               token_depth[done:], token_info[done:])
        assert done + rest == len(ids)
        assert token_depth.tolist() == _scored_records(model, [repeated])[1]


def test_fit_kernels_match_their_reference_and_the_gradient_is_exact() -> None:
    docs = _docs(4, 60)
    model = Model([build_segment(docs[:50], V)], ModelParams.default(), V, kernels())
    records = collect_records(model, docs[50:], limit=3000)
    assert records.depth.max() > 3  # several levels, so the walk's order matters
    rng = np.random.default_rng(4)
    raw = to_raw(ModelParams.default()) + rng.normal(0, 0.3, NALPHA + NBETA + N_DISC)
    native = _Objective(records, kernels())
    reference = _Objective(records, kernels(native=False))
    assert native.kernels.native and not reference.kernels.native
    outer = (rng.uniform(0.3, 1.0, records.tokens), rng.uniform(0, 1e-3, records.tokens))
    for mixed in (False, True):
        if mixed:  # the hierarchy under a fixed mixture, as in the fit's later rounds
            for objective in (native, reference):
                objective.outer_w, objective.outer_add = outer
        value, grad = native(raw)
        assert (value, grad.tolist()) == tuple(x if i == 0 else x.tolist()
                                               for i, x in enumerate(reference(raw)))
        # Central differences agree with the gradient (each parameter in turn, a few).
        for i in rng.choice(len(raw), 12, replace=False):
            step = np.zeros_like(raw)
            step[i] = 1e-5
            slope = (native(raw + step)[0] - native(raw - step)[0]) / 2e-5
            assert abs(slope - grad[i]) <= 1e-6 + 1e-4 * abs(grad[i])


def test_mixture_e_step_kernel_matches_its_reference() -> None:
    docs = _docs(6, 60)
    model = Model([build_segment(docs[:50], V)], _mixed_params(6), V, kernels())
    records = collect_records(model, docs[50:], limit=3000)
    parts = _components(records)
    assert parts.cache.any() and parts.inf.any() and parts.recent.any()
    params = model.params
    hierarchy = _Objective(records, kernels()).probabilities(params.alpha, params.beta,
                                                             params.disc)
    probs = np.stack([hierarchy, parts.inf, parts.cache, parts.recent, parts.latest], axis=1)
    weights = np.random.default_rng(6).uniform(0, 1, NMIX * NMIXC)
    out = []
    for kernel_set in (kernels(), kernels(native=False)):
        table = FitTable({"NTOK": records.tokens, "NMIX": NMIX, "MIXP": probs,
                          "MIXB": parts.bucket, "MIXW": weights,
                          "MIXSUM": np.zeros(NMIXC), "MIXTOT": np.zeros(NMIX * NMIXC)})
        kernel_set.fit_mixture(table)
        out.append((table.array("MIXSUM").tolist(), table.array("MIXTOT").tolist()))
    assert out[0] == out[1]
    # Each token's responsibilities sum to one: the sums add up to the token count.
    assert abs(sum(out[0][0]) - records.tokens) < 1e-6 * records.tokens
    assert abs(sum(out[0][1]) - records.tokens) < 1e-6 * records.tokens
    # And both kernels give the same fitted mixture.
    assert np.array_equal(_fit_mixture(hierarchy, parts, kernels()),
                          _fit_mixture(hierarchy, parts, kernels(native=False)))


def test_count_buckets_are_count_bucket_of_each() -> None:
    counts = np.concatenate([np.arange(0, 600), 2 ** np.arange(10, 40), 2 ** np.arange(10, 40) - 1])
    assert count_buckets(counts).tolist() == [count_bucket(int(c)) for c in counts]


def test_context_probabilities_are_each_weights_scores() -> None:
    docs = _docs(9, 60)
    base = Model([build_segment(docs[:40], V)], _mixed_params(9), V, kernels())
    context = ProjectContext(V)
    for doc in docs[40:47]:
        context.add(doc)
    assert len(context.segments) > 1
    table = _scoring_table(CONTEXT_WEIGHTS, V)
    doc = np.concatenate([docs[47], docs[41][:20]]).astype(np.int64)
    got = _context_probabilities(base, context.segments, table, doc)
    for i, weight in enumerate(CONTEXT_WEIGHTS):
        walked = base.extended(context.segments, weight).session()
        expected = []
        for token in doc.tolist():
            expected.append(walked.distribution()[token])
            walked.push(token)
        assert got[:, i].tolist() == expected


def test_context_weight_is_fitted_on_held_out_projects() -> None:
    # Projects whose files repeat each other (and nothing in the rest): their own earlier
    # files should count for more than training data.
    rng = np.random.default_rng(4)
    streams, groups = [], []
    for project in range(40):
        motif = rng.integers(0, V, 25)
        for _ in range(3):
            streams.append(np.concatenate([motif, rng.integers(0, V, 5)]).astype(np.uint32))
            groups.append(f"p{project}")
    params = ModelParams.default()
    weight = fit_context_weight(streams, groups, params, V, kernels(),
                                lambda docs: build_segment(docs, V), limit=3000)
    assert weight > 1
    assert held_out_projects(groups).sum() >= 0.05 * len(groups)
    assert fit_context_weight(streams, [None] * len(streams), params, V, kernels(),
                              lambda docs: build_segment(docs, V), limit=3000) == 1
