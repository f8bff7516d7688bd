"""Fitting the model's parameters on held-out training documents.

The held-out documents are scored by a model built from the *other* training documents,
level by level: for each token, the stats kernel records every level's counts (training
count, cache count, distinct tokens seen 1/2/3+ times, and the target's own counts). The
log-likelihood of any parameter setting is then a cheap vectorised recursion over those
records, and so is its exact gradient, so all parameters are fitted jointly by iRprop
(sign-based steps that adapt per parameter) in an unconstrained space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.model.params import ALPHA_RANGE, BETA_MAX, NCB, NOB, ModelParams, count_bucket
from app.model.runtime import Model
from app.model.segment import Segment
from jit.layout import R_C, R_CB, R_CC, R_CCY, R_CY, R_NT, R_OB, R_U1, R_U2, R_U3, REC_FIELDS

DISC_MAX = np.array([1.0, 2.0, 3.0])


@dataclass
class Records:
    """Per-level counts of held-out tokens, bottom level first within each depth slot.

    ``rec[i, l]`` is level ``l`` of token ``i`` counted from the bottom (0 is order 0);
    ``depth[i]`` is how many levels token ``i`` has.
    """

    rec: np.ndarray     # int64[N, L, REC_FIELDS]
    depth: np.ndarray   # int64[N]
    vocab_size: int

    @property
    def tokens(self) -> int:
        return len(self.depth)


def collect_records(model: Model, streams: Sequence[np.ndarray], limit: int) -> Records:
    """Score ``streams`` (each a document, from its start) with ``model``, keeping records."""
    unigram = model.unigram
    total = int(unigram.sum())
    u = (int((unigram == 1).sum()), int((unigram == 2).sum()), int((unigram >= 3).sum()))
    rows: list[np.ndarray] = []
    session = model.session(4096)
    taken = 0
    for stream in streams:
        if taken >= limit:
            break
        session.reset()
        for token in np.asarray(stream[:limit - taken], dtype=np.int64).tolist():
            levels = session.level_records(token)
            base = np.zeros(REC_FIELDS, dtype=np.int64)
            base[R_OB], base[R_CB], base[R_C] = 0, count_bucket(total), total
            base[R_U1], base[R_U2], base[R_U3] = u
            base[R_CY] = unigram[token]
            base[R_NT] = int((unigram > 0).sum())
            rows.append(np.vstack([base[None, :], levels[::-1]]))
            session.push(token)
            taken += 1
    depth = np.array([len(r) for r in rows], dtype=np.int64)
    rec = np.zeros((len(rows), int(depth.max(initial=1)), REC_FIELDS), dtype=np.int64)
    for i, r in enumerate(rows):
        rec[i, :len(r)] = r
    return Records(rec, depth, model.vocab_size)


class _Objective:
    """Mean log2-likelihood of the records and its gradient w.r.t. the raw parameters.

    Raw space: alpha = exp(a), beta = exp(b), disc = DISC_MAX * sigmoid(d).
    """

    def __init__(self, records: Records) -> None:
        self.r = records
        rec = records.rec
        self.ob = rec[..., R_OB]
        self.cb = rec[..., R_CB]
        self.c = rec[..., R_C].astype(np.float64)
        self.cc = rec[..., R_CC].astype(np.float64)
        self.u = rec[..., [R_U1, R_U2, R_U3]].astype(np.float64)
        self.cy = rec[..., R_CY]
        self.ccy = rec[..., R_CCY].astype(np.float64)
        self.valid = np.arange(rec.shape[1])[None, :] < records.depth[:, None]
        self.bucket = self.ob * NCB + self.cb
        self.alpha_index = self.bucket * 2 + (rec[..., R_NT] == 1)
        # Which discount a target count uses (none for 0).
        self.dsel = np.where(self.cy == 0, -1, np.minimum(self.cy, 3) - 1)
        self.ydisc_onehot = np.stack([(self.dsel == i) for i in range(3)], axis=-1).astype(float)

    def __call__(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        n_alpha, n_disc = NOB * NCB * 2, NOB * NCB * 3
        alpha = np.exp(raw[:n_alpha])
        sig = 1.0 / (1.0 + np.exp(-raw[n_alpha:n_alpha + n_disc]))
        disc = (sig.reshape(-1, 3) * DISC_MAX)
        beta = np.exp(raw[n_alpha + n_disc:])
        a = alpha[self.alpha_index]
        d = disc[self.bucket]                  # [N, L, 3]
        be = beta[self.ob]
        m = self.c + be * self.cc
        denom = m + a
        spent = (d * self.u).sum(-1)
        gamma = (a + spent) / denom
        dy = (d * self.ydisc_onehot).sum(-1)
        num = (self.cy - dy) + be * self.ccy
        share = num / denom
        n, depth = self.c.shape
        p = np.full(n, 1.0 / self.r.vocab_size)
        below = np.zeros((n, depth))
        for level in range(depth):
            below[:, level] = p
            ok = self.valid[:, level]
            p = np.where(ok, share[:, level] + gamma[:, level] * p, p)
        loglik = float(np.log2(p).mean())
        # Backward: delta = d log p_top / d p_level.
        delta = np.zeros((n, depth))
        upstream = 1.0 / p
        for level in range(depth - 1, -1, -1):
            ok = self.valid[:, level]
            delta[:, level] = np.where(ok, upstream, 0.0)
            upstream = np.where(ok, upstream * gamma[:, level], upstream)
        pl = below
        d_alpha_local = (-num + (m - spent) * pl) / denom ** 2
        d_beta_local = (self.ccy / denom - num * self.cc / denom ** 2
                        - (a + spent) * self.cc / denom ** 2 * pl)
        d_disc_local = (-self.ydisc_onehot / denom[..., None]
                        + self.u / denom[..., None] * pl[..., None])
        scale = 1.0 / (n * np.log(2.0))
        g_alpha = np.bincount(self.alpha_index.ravel(), (delta * d_alpha_local).ravel(),
                              minlength=n_alpha) * alpha * scale
        g_beta = np.bincount(self.ob.ravel(), (delta * d_beta_local).ravel(),
                             minlength=NOB) * beta * scale
        g_disc = np.zeros((NOB * NCB, 3))
        for i in range(3):
            g_disc[:, i] = np.bincount(self.bucket.ravel(),
                                       (delta * d_disc_local[..., i]).ravel(),
                                       minlength=NOB * NCB)
        g_disc = (g_disc * DISC_MAX * sig.reshape(-1, 3) * (1 - sig.reshape(-1, 3))
                  ).ravel() * scale
        return loglik, np.concatenate([g_alpha, g_disc, g_beta])


def to_raw(params: ModelParams) -> np.ndarray:
    disc = np.clip(params.disc.reshape(-1, 3) / DISC_MAX, 1e-4, 1 - 1e-4)
    return np.concatenate([np.log(params.alpha), np.log(disc / (1 - disc)).ravel(),
                           np.log(np.maximum(params.beta, 1e-6))])


def from_raw(raw: np.ndarray) -> ModelParams:
    n_alpha, n_disc = NOB * NCB * 2, NOB * NCB * 3
    sig = 1.0 / (1.0 + np.exp(-raw[n_alpha:n_alpha + n_disc]))
    return ModelParams(np.exp(raw[:n_alpha]), (sig.reshape(-1, 3) * DISC_MAX).ravel(),
                       np.exp(raw[n_alpha + n_disc:])).clipped()


def fit_params(records: Records, start: ModelParams | None = None,
               iterations: int = 120) -> tuple[ModelParams, float]:
    """Maximise the held-out likelihood; returns the parameters and bits per token."""
    objective = _Objective(records)
    raw = to_raw(start or ModelParams.default())
    # Bounds in the raw space equal to ModelParams.clipped(), so clipping changes nothing.
    n_alpha, n_disc = NOB * NCB * 2, NOB * NCB * 3
    low = np.full_like(raw, -12.0)
    high = np.full_like(raw, 12.0)
    low[:n_alpha], high[:n_alpha] = np.log(ALPHA_RANGE[0]), np.log(ALPHA_RANGE[1])
    high[n_alpha + n_disc:] = np.log(BETA_MAX)
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
    return from_raw(best_raw), -best


def held_out(doc_hashes: Sequence[str], every: int = 20) -> np.ndarray:
    """Which documents to hold out: a fixed 1/every of them, chosen by content hash."""
    return np.array([int(h[:8], 16) % every == 0 for h in doc_hashes], dtype=bool)


def fit_on_documents(streams: Sequence[np.ndarray], doc_hashes: Sequence[str],
                     vocab_size: int, kernels, build, limit: int = 100_000,
                     start: ModelParams | None = None) -> tuple[ModelParams, float]:
    """Build a model without the held-out documents, record them, fit (see module doc)."""
    mask = held_out(doc_hashes)
    if mask.all() or not mask.any():
        return start or ModelParams.default(), float("nan")
    train = [s for s, m in zip(streams, mask, strict=True) if not m]
    test = [s for s, m in zip(streams, mask, strict=True) if m]
    segment: Segment = build(train)
    model = Model([segment], ModelParams.default(), vocab_size, kernels)
    records = collect_records(model, test, limit)
    return fit_params(records, start)
