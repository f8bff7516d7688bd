"""Fitting the model's parameters on held-out training documents.

The held-out documents are scored by a model built from the *other* training documents,
level by level: for each token, the stats kernel records every level's counts (training
count, cache count, distinct tokens seen 1/2/3+ times, and the target's own counts), and
the facts the final mixture is chosen by (longest training and cache matches and their
totals). The log-likelihood of any setting of the hierarchy's parameters is then a cheap
recursion over those records, and so is its exact gradient (the fit kernels, jit/ir_kernels.py
``hc_fit_forward``/``hc_fit_backward``: ~10 ms for 1M records), so they are fitted
jointly by iRprop (sign-based steps that adapt per parameter) in an unconstrained space.
The mixture weights are fitted next, by EM on the same tokens (each bucket's weights are
smoothed towards the overall ones, so sparse buckets stay sensible).

Records are kept ragged (only the levels a token has), level by level: a token has 4-5
levels on average but up to KMAX + 1, so padding them to the deepest would cost ~15x the
memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.model.params import (
    ALPHA_RANGE,
    BETA_MAX,
    CONTEXT_WEIGHT_MAX,
    NALPHA,
    NBETA,
    NCB,
    NKB,
    NMIX,
    NOB,
    ModelParams,
    base_distribution,
    count_bucket,
    count_buckets,
    kcache_buckets,
    mixture_mask,
    order_buckets,
)
from app.model.runtime import Model
from app.model.segment import KMAX, Segment
from jit import FitTable, Kernels, ScoringTable
from jit.layout import (
    ALPHA_SUB,
    I_CCACHE,
    I_CINF,
    I_KCACHE,
    I_KTRAIN,
    I_LATEST,
    I_RECENT,
    INFO_FIELDS,
    NMIXC,
    R_C,
    R_CB,
    R_CC,
    R_CCY,
    R_CY,
    R_NT,
    R_OB,
    R_U1,
    R_U2,
    R_U3,
    REC_FIELDS,
)

DISC_MAX = np.array([1.0, 2.0, 3.0])
# The project context weights tried (all scored in one walk of the held-out projects).
CONTEXT_WEIGHTS = (1, 2, 3, 4, 6, CONTEXT_WEIGHT_MAX)
N_DISC = NOB * NCB * 3
# EM's pull of every mixture bucket towards the overall weights, in tokens.
MIX_PRIOR = 2.0
MIX_ITERATIONS = 40


@dataclass
class Records:
    """Per-level counts of held-out tokens.

    ``rec`` holds each token's levels bottom first (level 0 is order 0), tokens one after
    another; ``depth[i]`` is how many levels token ``i`` has; ``info[i]`` is the kernel's
    INFO after scoring it (the mixture's facts).
    """

    rec: np.ndarray     # int32[sum(depth), REC_FIELDS]
    depth: np.ndarray   # int64[N]
    info: np.ndarray    # int64[N, INFO_FIELDS]
    targets: np.ndarray  # int64[N] the tokens themselves
    vocab_size: int

    @property
    def tokens(self) -> int:
        return len(self.depth)

    @staticmethod
    def join(parts: Sequence[Records]) -> Records:
        return Records(np.concatenate([p.rec for p in parts]),
                       np.concatenate([p.depth for p in parts]),
                       np.concatenate([p.info for p in parts]),
                       np.concatenate([p.targets for p in parts]), parts[0].vocab_size)


def collect_records(model: Model, streams: Sequence[np.ndarray], limit: int) -> Records:
    """Score ``streams`` (each a document, from its start) with ``model``, keeping records."""
    unigram = model.unigram
    total = int(unigram.sum())
    base = np.zeros(REC_FIELDS, dtype=np.int64)
    base[R_OB], base[R_CB], base[R_C] = 0, count_bucket(total), total
    base[R_U1], base[R_U2], base[R_U3] = (
        int((unigram == 1).sum()), int((unigram == 2).sum()), int((unigram >= 3).sum()))
    base[R_NT] = int((unigram > 0).sum())
    tokens: list[np.ndarray] = []
    n = 0
    for stream in streams:
        tokens.append(np.asarray(stream[:max(limit - n, 0)], dtype=np.int64))
        n += len(tokens[-1])
    # Growing buffers rather than small arrays per token (~100 bytes of overhead each);
    # int32 holds any count, as a segment holds fewer than 2**31 tokens.
    rec = np.zeros((max(8 * n, 1), REC_FIELDS), dtype=np.int32)
    infos = np.zeros((n, INFO_FIELDS), dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    used = i = 0
    session = model.session(4096)
    for stream in tokens:
        if not len(stream):
            continue
        session.reset()
        done = 0
        while done < len(stream):
            # A token takes at most KMAX + 2 rows: the kernel stops where one might not fit.
            if len(rec) - used < KMAX + 2:
                rec = np.concatenate([rec, np.zeros_like(rec)])
            # Row ``used`` of each token is its level 0, filled in below for all at once.
            count = session.collect(stream[done:], rec[used:], depth[i:], infos[i:])
            used += int(depth[i:i + count].sum())
            i += count
            done += count
    targets = np.concatenate(tokens) if tokens else np.zeros(0, dtype=np.int64)
    bottom = np.cumsum(depth) - depth
    rec[bottom] = base
    rec[bottom, R_CY] = unigram[targets]
    return Records(rec[:used].copy(), depth, infos, targets, model.vocab_size)


class _Objective:
    """Mean log2-likelihood of the records under the hierarchy alone, and its gradient
    w.r.t. the raw parameters: alpha = exp(a), beta = exp(b), disc = DISC_MAX * sigmoid(d).

    The recursion over the levels and its gradient are the fit kernels' (jit/reference.py
    fit_forward and fit_backward: native code, or the same numpy as a fallback); they read
    the records where they are, and the tokens' order level by level is computed once.
    """

    def __init__(self, records: Records, kernels: Kernels) -> None:
        # With the mixture fixed, each token's probability is outer_w * p_h + outer_add.
        self.outer_w: np.ndarray | None = None
        self.outer_add: np.ndarray | None = None
        self.n = records.tokens
        self.kernels = kernels
        depth = records.depth
        levels = int(depth.max(initial=0))
        # Level by level, the tokens that have it (every token has level 0), and their
        # records in that order: the kernels read them in sequence (in the tokens' order
        # each level's would be ~200 bytes apart, a cache miss each).
        order = [np.flatnonzero(depth > level) for level in range(levels)]
        lstart = np.concatenate([[0], np.cumsum([len(o) for o in order])]).astype(np.int64)
        starts = np.cumsum(depth) - depth
        rows = np.concatenate([starts[o] + level for level, o in enumerate(order)]
                              if order else [np.zeros(0, dtype=np.int64)])
        nbucket = NOB * NCB
        self.table = FitTable({
            "NTOK": self.n, "NLEVELS": levels, "V": records.vocab_size, "NCB": NCB,
            "NBUCKET": nbucket,
            "REC": np.ascontiguousarray(records.rec[rows], dtype=np.int32),
            "ORDER": (np.concatenate(order) if order else np.zeros(0)).astype(np.int32),
            "LSTART": lstart,
            "P": np.zeros(self.n), "BELOW": np.zeros(int(lstart[-1])),
            "UP": np.zeros(self.n), "GALPHA": np.zeros(NALPHA), "GBETA": np.zeros(NBETA),
            "GDISC": np.zeros(N_DISC), "BINS": np.zeros(nbucket * (ALPHA_SUB + 4)),
        })

    def _forward(self, alpha: np.ndarray, beta: np.ndarray, disc: np.ndarray) -> np.ndarray:
        """Each token's hierarchy probability (the table's buffer: overwritten by the next
        call)."""
        table = self.table
        for name, values in (("ALPHA", alpha), ("BETA", beta), ("DISC", disc)):
            table.set(name, np.ascontiguousarray(values, dtype=np.float64))
        self.kernels.fit_forward(table)
        return table.array("P")

    def probabilities(self, alpha: np.ndarray, beta: np.ndarray,
                      disc: np.ndarray) -> np.ndarray:
        """Each token's probability under the hierarchy alone."""
        return self._forward(alpha, beta, disc).copy()

    def __call__(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        alpha, beta, sig = _split(raw)
        disc = (sig.reshape(-1, 3) * DISC_MAX).ravel()
        p = self._forward(alpha, beta, disc)
        if self.outer_w is None:
            loglik = float(np.log2(p).mean())
            # Backward: upstream = d log p / d p_level, level by level from the top.
            upstream = 1.0 / p
        else:
            final = self.outer_w * p + self.outer_add
            loglik = float(np.log2(final).mean())
            upstream = self.outer_w / final
        table = self.table
        np.copyto(table.array("UP"), upstream)
        self.kernels.fit_backward(table)
        g_alpha, g_beta = table.array("GALPHA"), table.array("GBETA")
        scale = 1.0 / (self.n * np.log(2.0))
        g_disc = table.array("GDISC") * np.tile(DISC_MAX, NOB * NCB) * sig * (1 - sig)
        return loglik, np.concatenate([g_alpha * alpha, g_beta * beta, g_disc]) * scale


def _split(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    alpha = np.exp(raw[:NALPHA])
    beta = np.exp(raw[NALPHA:NALPHA + NBETA])
    sig = 1.0 / (1.0 + np.exp(-raw[NALPHA + NBETA:]))
    return alpha, beta, sig


def to_raw(params: ModelParams) -> np.ndarray:
    disc = np.clip(params.disc.reshape(-1, 3) / DISC_MAX, 1e-4, 1 - 1e-4)
    return np.concatenate([np.log(params.alpha), np.log(np.maximum(params.beta, 1e-6)),
                           np.log(disc / (1 - disc)).ravel()])


def from_raw(raw: np.ndarray, mix: np.ndarray) -> ModelParams:
    alpha, beta, sig = _split(raw)
    return ModelParams(alpha, (sig.reshape(-1, 3) * DISC_MAX).ravel(), beta, mix).clipped()


@dataclass
class _Components:
    """Each token's probability under the mixture's sparse components, and its bucket."""

    bucket: np.ndarray     # int64[N]
    inf: np.ndarray        # float64[N] P_∞-gram(target)
    cache: np.ndarray      # float64[N] P_cache(target)
    recent: np.ndarray     # float64[N] 1 where the most recent longest cache match's next
                           # token is the target
    latest: np.ndarray     # float64[N] 1 where the most recent cache match's next token is
                           # the target


def _components(records: Records) -> _Components:
    info = records.info
    cy_top = np.zeros(records.tokens)
    ccy_top = np.zeros(records.tokens)
    starts = np.cumsum(records.depth) - records.depth
    # Bottom up, so the highest level with training (cache) counts is written last.
    for level in range(1, int(records.depth.max(initial=0))):
        tokens = np.flatnonzero(records.depth > level)
        rec = records.rec[starts[tokens] + level]
        has = rec[:, R_C] > 0
        cy_top[tokens[has]] = rec[has, R_CY]
        has = rec[:, R_CC] > 0
        ccy_top[tokens[has]] = rec[has, R_CCY]
    cinf, ccache = info[:, I_CINF], info[:, I_CCACHE]
    bucket = ((order_buckets()[info[:, I_KTRAIN]] * NCB + count_buckets(cinf)) * NKB
              + kcache_buckets()[info[:, I_KCACHE]])
    return _Components(bucket.astype(np.int64),
                       np.where(cinf > 0, cy_top / np.maximum(cinf, 1), 0.0),
                       np.where(ccache > 0, ccy_top / np.maximum(ccache, 1), 0.0),
                       (info[:, I_RECENT] == records.targets).astype(np.float64),
                       (info[:, I_LATEST] == records.targets).astype(np.float64))


def _fit_mixture(hierarchy: np.ndarray, parts: _Components, kernels: Kernels) -> np.ndarray:
    """EM for the per-bucket weights of the components; float64[NMIX * NMIXC]. The E step
    over the tokens is the fit_mixture kernel's (jit/reference.py fit_mixture)."""
    mask = mixture_mask().astype(np.float64)
    n = len(hierarchy)
    probs = np.stack([hierarchy, parts.inf, parts.cache, parts.recent, parts.latest], axis=1)
    weights = mask * np.array([0.6, 0.1, 0.1, 0.1, 0.1])
    weights /= weights.sum(axis=1, keepdims=True)
    table = FitTable({"NTOK": n, "NMIX": NMIX, "MIXP": np.ascontiguousarray(probs),
                      "MIXB": np.ascontiguousarray(parts.bucket, dtype=np.int64),
                      "MIXSUM": np.zeros(NMIXC), "MIXTOT": np.zeros(NMIX * NMIXC)})
    for _ in range(MIX_ITERATIONS):
        table.set("MIXW", np.ascontiguousarray(weights.ravel()))
        kernels.fit_mixture(table)
        # The mean share of each component (as numpy's mean: the sum over n).
        overall = table.array("MIXSUM") / n
        totals = table.array("MIXTOT").reshape(NMIX, NMIXC)
        weights = mask * (totals + MIX_PRIOR * overall)
        weights /= weights.sum(axis=1, keepdims=True)
    return weights.ravel()


def mixture_bits(params: ModelParams, records: Records, objective: _Objective) -> float:
    """Bits per token of the records under ``params`` (hierarchy and mixture);
    ``objective``: the records' (its kernels)."""
    p = objective.probabilities(params.alpha, params.beta, params.disc)
    parts = _components(records)
    w = params.mix.reshape(NMIX, NMIXC)[parts.bucket]
    return float(-np.log2(w[:, 0] * p + _sparse(w, parts)).mean())


def _sparse(w: np.ndarray, parts: _Components) -> np.ndarray:
    """The sparse components' share of each token's probability."""
    return (w[:, 1] * parts.inf + w[:, 2] * parts.cache + w[:, 3] * parts.recent
            + w[:, 4] * parts.latest)


def _rprop(objective: _Objective, raw: np.ndarray, iterations: int) -> np.ndarray:
    """iRprop- ascent from ``raw``; the best point seen."""
    # Bounds in the raw space equal to ModelParams.clipped(), so clipping changes nothing.
    low = np.full_like(raw, -12.0)
    high = np.full_like(raw, 12.0)
    low[:NALPHA], high[:NALPHA] = np.log(ALPHA_RANGE[0]), np.log(ALPHA_RANGE[1])
    high[NALPHA:NALPHA + NBETA] = np.log(BETA_MAX)
    raw = np.clip(raw, low, high)
    step = np.full_like(raw, 0.1)
    previous = np.zeros_like(raw)
    best_raw, best = raw.copy(), -np.inf
    for _ in range(iterations):
        value, grad = objective(raw)
        if value > best:
            best, best_raw = value, raw.copy()
        agree = grad * previous
        step = np.where(agree > 0, np.minimum(step * 1.2, 2.0),
                        np.where(agree < 0, np.maximum(step * 0.5, 1e-4), step))
        grad = np.where(agree < 0, 0.0, grad)   # iRprop-: skip the step after a sign flip
        raw = np.clip(raw + np.sign(grad) * step, low, high)
        previous = grad
    return best_raw


def fit_params(records: Records, kernels: Kernels, start: ModelParams | None = None,
               iterations: int = 40, rounds: int = 2) -> tuple[ModelParams, float]:
    """Maximise the held-out likelihood; returns the parameters and bits per token.

    The hierarchy is fitted alone first, then the mixture for it; in later rounds the
    hierarchy is refitted under the mixture (it may leave to the ∞-gram and the cache what
    they predict better) and the mixture again.
    """
    start = start or ModelParams.default()
    objective = _Objective(records, kernels)
    parts = _components(records)
    raw = to_raw(start)
    mix = ModelParams.default().mix
    for _ in range(rounds):
        raw = _rprop(objective, raw, iterations)
        hierarchy = from_raw(raw, mix)
        p = objective.probabilities(hierarchy.alpha, hierarchy.beta, hierarchy.disc)
        mix = ModelParams(hierarchy.alpha, hierarchy.disc, hierarchy.beta,
                          _fit_mixture(p, parts, objective.kernels)).clipped().mix
        w = mix.reshape(NMIX, NMIXC)[parts.bucket]
        objective.outer_w = w[:, 0]
        objective.outer_add = _sparse(w, parts)
    params = from_raw(raw, mix)
    return params, mixture_bits(params, records, objective)


def held_out(doc_hashes: Sequence[str], every: int = 20, fold: int = 0) -> np.ndarray:
    """Which documents to hold out: a fixed 1/every of them, chosen by content hash."""
    return np.array([int(h[:8], 16) % every == fold for h in doc_hashes], dtype=bool)


def fit_on_documents(streams: Sequence[np.ndarray], doc_hashes: Sequence[str],
                     vocab_size: int, kernels, build, limit: int = 100_000,
                     start: ModelParams | None = None, folds: int = 1,
                     groups: Sequence[str | None] | None = None,
                     context_limit: int = 0) -> tuple[ModelParams, float]:
    """For each fold, build a model without its held-out documents and record them (up to
    ``limit`` tokens per fold); fit on all the records (see module doc). With ``groups``
    (each document's project, None for none) and ``context_limit`` > 0, the project
    context weight is then chosen (:func:`fit_context_weight`)."""
    params, bits = _fit_folds(streams, doc_hashes, vocab_size, kernels, build, limit, start,
                              folds)
    if groups is not None and context_limit > 0:
        params.context_weight = fit_context_weight(streams, groups, params, vocab_size,
                                                   kernels, build, context_limit)
    return params, bits


def _fit_folds(streams: Sequence[np.ndarray], doc_hashes: Sequence[str], vocab_size: int,
               kernels, build, limit: int, start: ModelParams | None,
               folds: int) -> tuple[ModelParams, float]:
    parts: list[Records] = []
    for fold in range(folds):
        mask = held_out(doc_hashes, fold=fold)
        if mask.all() or not mask.any():
            continue
        train = [s for s, m in zip(streams, mask, strict=True) if not m]
        test = [s for s, m in zip(streams, mask, strict=True) if m]
        segment: Segment = build(train)
        model = Model([segment], ModelParams.default(), vocab_size, kernels)
        parts.append(collect_records(model, test, limit))
    parts = [p for p in parts if p.tokens]
    if not parts:
        return start or ModelParams.default(), float("nan")
    records = Records.join(parts)
    parts.clear()  # the joined copy is all the fit needs
    return fit_params(records, kernels, start)


def held_out_projects(groups: Sequence[str | None], share: float = 0.05) -> np.ndarray:
    """Whole projects to hold out (those of several documents, chosen by the hash of their
    name) until about ``share`` of the documents are: unseen projects, like the code the
    model meets outside its training data."""
    sizes: dict[str, int] = {}
    for group in groups:
        if group is not None:
            sizes[group] = sizes.get(group, 0) + 1
    chosen: set[str] = set()
    taken = 0
    for group in sorted((g for g, n in sizes.items() if n >= 2),
                        key=lambda g: hashlib.sha256(g.encode()).hexdigest()):
        if taken >= share * len(groups):
            break
        chosen.add(group)
        taken += sizes[group]
    return np.array([g in chosen for g in groups], dtype=bool)


def fit_context_weight(streams: Sequence[np.ndarray], groups: Sequence[str | None],
                       params: ModelParams, vocab_size: int, kernels, build,
                       limit: int) -> int:
    """How much a project's own earlier files should count, relative to training data.

    Whole projects are held out of the training data; each is scored file by file in
    order, with its earlier files as project context counted w times (up to ``limit``
    tokens in all, shared equally between the projects), and the w in CONTEXT_WEIGHTS
    with the best likelihood wins. Random held-out files would
    not do: their "project" is the training data itself.
    """
    from app.model.context import ProjectContext  # it imports this package
    mask = held_out_projects(groups)
    if not mask.any() or mask.all():
        return 1
    base = Model([build([s for s, m in zip(streams, mask, strict=True) if not m])], params,
                 vocab_size, kernels)
    members: dict[str, list[np.ndarray]] = {}
    for stream, group, held in zip(streams, groups, mask, strict=True):
        if held and group is not None:
            members.setdefault(group, []).append(np.asarray(stream, dtype=np.int64))
    candidates = CONTEXT_WEIGHTS
    bits = np.zeros(len(candidates))
    table = _scoring_table(candidates, vocab_size)
    # An equal share per project, so one large project does not decide for all.
    share = limit // max(len(members), 1)
    for docs in members.values():
        context = ProjectContext(vocab_size)
        left = share
        for doc in docs:
            if left <= 0:
                break
            doc = doc[:left]
            if context.segments:
                # Every weight's probability of each token in one walk (what
                # base.extended(context.segments, weight)'s distribution() gives it),
                # added up token by token.
                probs = _context_probabilities(base, context.segments, table, doc)
                for i in range(len(candidates)):
                    for p in np.log2(probs[:, i]).tolist():
                        bits[i] -= p
                left -= len(doc)
            context.add(doc)
    return int(candidates[int(np.argmin(bits))]) if bits.any() else 1


def _scoring_table(weights: Sequence[int], vocab_size: int) -> ScoringTable:
    """Scratch and weights for scoring under each of ``weights`` (Session.score_weights)."""
    nw = len(weights)
    return ScoringTable({"NW": nw, "WEIGHTS": np.array(weights, dtype=np.int64),
                         "STATE": np.zeros(2 * nw), "ISTATE": np.zeros(2 * nw, dtype=np.int64),
                         "MCX": np.zeros(vocab_size + 1, dtype=np.uint32),
                         "XTOUCH": np.zeros(vocab_size + 1, dtype=np.int32)})


def _context_probabilities(base: Model, context: Sequence[Segment], table: ScoringTable,
                           doc: np.ndarray) -> np.ndarray:
    """float64[len(doc), weights]: each token's probability after the ones before it,
    under ``base`` with ``context`` counted each of the table's weights times."""
    model = base.extended(context, 1)
    extra = model.unigram - base.unigram  # the context's counts, once each
    table.set("NBASE", len(base.segments))
    # Order 0 under each weight: base_distribution of that model's unigram (integers, so
    # base + weight * context is exactly what Model sums for it).
    table.set("P0W", np.concatenate([base_distribution(base.unigram + weight * extra,
                                                       base.params)
                                     for weight in table.array("WEIGHTS").tolist()]))
    return model.session(len(doc) + 2).score_weights(np.ascontiguousarray(doc), table)
