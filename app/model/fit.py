"""Fitting the model's parameters on held-out training documents.

The held-out documents are scored by a model built from the *other* training documents,
level by level: for each token, the stats kernel records every level's counts (training
count, cache count, distinct tokens seen 1/2/3+ times, and the target's own counts), and
the facts the final mixture is chosen by (longest training and cache matches and their
totals). The log-likelihood of any setting of the hierarchy's parameters is then a cheap
vectorised recursion over those records, and so is its exact gradient, so they are fitted
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
    count_bucket,
    kcache_buckets,
    mixture_mask,
    order_buckets,
)
from app.model.runtime import Model
from app.model.segment import Segment
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
# The project context weights tried (each costs one scoring of the held-out projects).
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
        for levels, records, info in session.scored(stream.tolist()):
            # Row ``used`` is level 0, filled in below for every token at once.
            need = used + levels + 1
            if need > len(rec):
                rec = np.concatenate([rec, np.zeros_like(rec)])
            rec[used + 1:need] = records[::-1]
            depth[i] = levels + 1
            infos[i] = info
            used = need
            i += 1
    targets = np.concatenate(tokens) if tokens else np.zeros(0, dtype=np.int64)
    bottom = np.cumsum(depth) - depth
    rec[bottom] = base
    rec[bottom, R_CY] = unigram[targets]
    return Records(rec[:used].copy(), depth, infos, targets, model.vocab_size)


def alpha_indices(rec: np.ndarray) -> np.ndarray:
    """Each level's concentration slot (as jit/reference.py alpha_index)."""
    bucket = rec[:, R_OB] * NCB + rec[:, R_CB]
    return (bucket * ALPHA_SUB + np.minimum(rec[:, R_CC], 3) * 3
            + np.minimum(np.maximum(rec[:, R_NT], 1), 3) - 1)


class _Level:
    """The records of one level slot (every token that has it), as the objective uses them
    (compact: ~1.5M of these rows for the default fit). Columns are kept apart and every
    index the objective gathers or scatters by is computed here once, not per iteration."""

    def __init__(self, tokens: np.ndarray, rec: np.ndarray, everyone: bool) -> None:
        self.tokens = tokens
        # Every token has level 0: its gathers and scatters are then plain slices.
        self.everyone = everyone
        self.rows: np.ndarray | slice = slice(None) if everyone else tokens
        bucket = (rec[:, R_OB] * NCB + rec[:, R_CB]).astype(np.intp)
        self.ia = alpha_indices(rec).astype(np.intp)
        self.ib = bucket
        self.c = rec[:, R_C].astype(np.float64)
        self.cc = rec[:, R_CC].astype(np.float64)
        self.u = [rec[:, field].astype(np.float64) for field in (R_U1, R_U2, R_U3)]
        cy = rec[:, R_CY]
        self.cy = cy.astype(np.float64)
        self.ccy = rec[:, R_CCY].astype(np.float64)
        # Which discount the target's own count uses: slot 3 (a zero) for none.
        use = np.where(cy == 0, 3, np.minimum(cy, 3) - 1)
        # The three discounts of each row's bucket, and its target's, as flat indices into
        # the discounts padded to four a bucket (the fourth is the zero of slot 3).
        # Where the discount gradient of all three slots goes (one bincount); each slot's
        # rows are a view of it, so the indices are held once.
        self.gdisc = np.concatenate([bucket * 3 + i for i in range(3)])
        n = len(bucket)
        self.idisc = [self.gdisc[i * n:(i + 1) * n] for i in range(3)]
        self.itarget = bucket * 4 + use
        # The target's share of each slot's gradient: whether its count uses that slot
        # (bool, 1 byte a row: subtracted from a float it counts as exactly 1.0 or 0.0).
        self.uses = [use == i for i in range(3)]

    def target_discount(self, d: np.ndarray) -> np.ndarray:
        """The discount of each row's target count (0 for a target not seen)."""
        padded = np.concatenate([d.reshape(-1, 3), np.zeros((len(d) // 3, 1))], axis=1)
        return padded.ravel()[self.itarget]


class _Objective:
    """Mean log2-likelihood of the records under the hierarchy alone, and its gradient
    w.r.t. the raw parameters: alpha = exp(a), beta = exp(b), disc = DISC_MAX * sigmoid(d).
    """

    def __init__(self, records: Records) -> None:
        # With the mixture fixed, each token's probability is outer_w * p_h + outer_add.
        self.outer_w: np.ndarray | None = None
        self.outer_add: np.ndarray | None = None
        self.n = records.tokens
        self.vocab_size = records.vocab_size
        starts = np.concatenate([[0], np.cumsum(records.depth)[:-1]]).astype(np.int64)
        self.levels: list[_Level] = []
        for level in range(int(records.depth.max(initial=0))):
            tokens = np.flatnonzero(records.depth > level)
            self.levels.append(_Level(tokens, records.rec[starts[tokens] + level],
                                      len(tokens) == self.n))

    def probabilities(self, alpha: np.ndarray, beta: np.ndarray,
                      disc: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
        p = np.full(self.n, 1.0 / self.vocab_size)
        saved = []
        for lv in self.levels:
            a, be = alpha[lv.ia], beta[lv.ib]
            m = lv.c + be * lv.cc
            denom = m + a
            # Summed in this order, as (d * u).sum(-1) over a row's three slots does.
            spent = disc[lv.idisc[0]] * lv.u[0]
            spent += disc[lv.idisc[1]] * lv.u[1]
            spent += disc[lv.idisc[2]] * lv.u[2]
            above = a + spent
            gamma = above / denom
            num = lv.cy - lv.target_discount(disc) + be * lv.ccy
            # A slice is a view of what the next line overwrites: keep a copy.
            below = p[lv.rows].copy() if lv.everyone else p[lv.rows]
            saved.append((m, denom, spent, above, gamma, num, below))
            p[lv.rows] = num / denom + gamma * below
        return p, saved

    def __call__(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        alpha, beta, sig = _split(raw)
        disc = (sig.reshape(-1, 3) * DISC_MAX).ravel()
        p, saved = self.probabilities(alpha, beta, disc)
        if self.outer_w is None:
            loglik = float(np.log2(p).mean())
            # Backward: upstream = d log p / d p_level, level by level from the top.
            upstream = 1.0 / p
        else:
            final = self.outer_w * p + self.outer_add
            loglik = float(np.log2(final).mean())
            upstream = self.outer_w / final
        g_alpha = np.zeros(NALPHA)
        g_beta = np.zeros(NBETA)
        g_disc = np.zeros(N_DISC)
        for lv, (m, denom, spent, above, gamma, num, below) in zip(
                reversed(self.levels), reversed(saved), strict=True):
            delta = upstream[lv.rows]
            square = denom ** 2
            d_alpha = (-num + (m - spent) * below) / square
            d_beta = (lv.ccy / denom - num * lv.cc / square
                      - above * lv.cc / square * below)
            g_alpha += np.bincount(lv.ia, delta * d_alpha, minlength=NALPHA)
            g_beta += np.bincount(lv.ib, delta * d_beta, minlength=NBETA)
            # d p / d disc_i = (u_i * below - [the target's count uses disc_i]) / denom;
            # the three slots' rows go to disjoint bins, so one bincount adds them all.
            share = delta / denom
            weights = np.concatenate([share * (u * below - uses)
                                      for u, uses in zip(lv.u, lv.uses, strict=True)])
            g_disc += np.bincount(lv.gdisc, weights, minlength=N_DISC)
            upstream[lv.rows] = delta * gamma
        scale = 1.0 / (self.n * np.log(2.0))
        g_disc = g_disc * np.tile(DISC_MAX, NOB * NCB) * sig * (1 - sig)
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


def _components(records: Records, objective: _Objective) -> _Components:
    info = records.info
    cy_top = np.zeros(records.tokens)
    ccy_top = np.zeros(records.tokens)
    # Bottom up, so the highest level with training (cache) counts is written last.
    for lv in objective.levels[1:]:
        has = lv.c > 0
        cy_top[lv.tokens[has]] = lv.cy[has]
        has = lv.cc > 0
        ccy_top[lv.tokens[has]] = lv.ccy[has]
    cinf, ccache = info[:, I_CINF], info[:, I_CCACHE]
    cbucket = np.array([count_bucket(int(c)) for c in cinf], dtype=np.int64)
    bucket = ((order_buckets()[info[:, I_KTRAIN]] * NCB + cbucket) * NKB
              + kcache_buckets()[info[:, I_KCACHE]])
    return _Components(bucket.astype(np.int64),
                       np.where(cinf > 0, cy_top / np.maximum(cinf, 1), 0.0),
                       np.where(ccache > 0, ccy_top / np.maximum(ccache, 1), 0.0),
                       (info[:, I_RECENT] == records.targets).astype(np.float64),
                       (info[:, I_LATEST] == records.targets).astype(np.float64))


def _fit_mixture(hierarchy: np.ndarray, parts: _Components) -> np.ndarray:
    """EM for the per-bucket weights of the components; float64[NMIX * NMIXC]."""
    mask = mixture_mask().astype(np.float64)
    probs = np.stack([hierarchy, parts.inf, parts.cache, parts.recent, parts.latest], axis=1)
    weights = mask * np.array([0.6, 0.1, 0.1, 0.1, 0.1])
    weights /= weights.sum(axis=1, keepdims=True)
    for _ in range(MIX_ITERATIONS):
        share = weights[parts.bucket] * probs
        share /= share.sum(axis=1, keepdims=True)
        overall = share.mean(axis=0)
        totals = np.stack([np.bincount(parts.bucket, share[:, i], minlength=NMIX)
                           for i in range(NMIXC)], axis=1)
        weights = mask * (totals + MIX_PRIOR * overall)
        weights /= weights.sum(axis=1, keepdims=True)
    return weights.ravel()


def mixture_bits(params: ModelParams, records: Records,
                 objective: _Objective | None = None) -> float:
    """Bits per token of the records under ``params`` (hierarchy and mixture)."""
    objective = objective or _Objective(records)
    p, _ = objective.probabilities(params.alpha, params.beta, params.disc)
    parts = _components(records, objective)
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


def fit_params(records: Records, start: ModelParams | None = None,
               iterations: int = 40, rounds: int = 2) -> tuple[ModelParams, float]:
    """Maximise the held-out likelihood; returns the parameters and bits per token.

    The hierarchy is fitted alone first, then the mixture for it; in later rounds the
    hierarchy is refitted under the mixture (it may leave to the ∞-gram and the cache what
    they predict better) and the mixture again.
    """
    start = start or ModelParams.default()
    objective = _Objective(records)
    parts = _components(records, objective)
    raw = to_raw(start)
    mix = ModelParams.default().mix
    for _ in range(rounds):
        raw = _rprop(objective, raw, iterations)
        hierarchy = from_raw(raw, mix)
        p, _ = objective.probabilities(hierarchy.alpha, hierarchy.beta, hierarchy.disc)
        mix = ModelParams(hierarchy.alpha, hierarchy.disc, hierarchy.beta,
                          _fit_mixture(p, parts)).clipped().mix
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
    return fit_params(records, start)


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
                for i, weight in enumerate(candidates):
                    session = base.extended(context.segments, weight).session(len(doc) + 2)
                    # Each token's probability alone (Session.score: what distribution()
                    # gives it, without the whole distribution), added up token by token.
                    for p in np.log2(session.score(doc)).tolist():
                        bits[i] -= p
                left -= len(doc)
            context.add(doc)
    return int(candidates[int(np.argmin(bits))]) if bits.any() else 1
