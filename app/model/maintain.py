"""Keeping the stored model equal to the documents currently in the hypercube.

Like a search engine's index, the model is a few segments: each ingest run's new documents
become one new segment per language family (app/model/families.py: a completion in one
language is predicted from its family's segments only), so ingesting a few files never
rebuilds the rest. A segment that counts a document that has since been deleted or replaced
is rebuilt from its surviving documents. A segment holds at most ``MAX_SEGMENT_TOKENS``
(a larger run is cut into several, whole documents each), so a build's memory is bounded
whatever the corpus's size; when a family has more than ``MAX_SEGMENTS`` segments below half
that cap, its smallest are merged into the new one (queries visit every segment, so fewer is
faster; full segments are left alone, as a search engine's merge policy does). Parameters
are refitted when the corpus has grown or shrunk by ``REFIT_FACTOR`` since they were fitted.

The model is stale exactly when the set of (document id, content hash) pairs its segments
count differs from the documents table; :func:`plan_update` computes that difference, so a
run killed between committing documents and updating the model is repaired by the next
update (on load, or after the next run).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from app.errors import NotReady
from app.model.families import family_of
from app.model.fit import fit_on_documents
from app.model.params import ModelParams
from app.model.segment import KMAX, THRESH, Segment, build_segment
from app.model.storage import delete_segments, load_params, save_params, save_segment
from app.settings import SETTINGS
from app.store import Store
from app.store.segfiles import collect_garbage
from app.store.tokens import unpack_tokens
from jit import Kernels

# Segments per family open to merging (those below half the cap), and the tokens a segment
# holds at most: the cap bounds a build's memory (~75 bytes a token at its peak, so 16M
# tokens, ~64 MB of code, build in ~1.2 GB) whatever the corpus's size; a larger family is
# several segments, which every query visits and whose counts add up exactly as one
# segment's would (as infini-gram's shards do).
MAX_SEGMENTS = 4
MAX_SEGMENT_TOKENS: int = SETTINGS["segment_tokens"].default
REFIT_FACTOR = 2.0
# Held-out tokens recorded per fold, and folds (each one model build without its 5% of the
# documents): more held-out text fits the ~3,000 parameters better, at a model build per
# fold (~0.3 s per million training tokens), ~3 us per recorded token and ~0.05 s per 10k
# tokens of fitting (measured on the 10 MB bench_scale corpus).
FIT_TOKENS = 200_000
FIT_FOLDS = 2
# Held-out project tokens scored for the project context weight (every candidate weight in
# one walk a token, ~4 us a token for all of them).
CONTEXT_FIT_TOKENS = 80_000
# The most tokens the fit reads. Each fold builds a model of its training documents (~50 bytes
# a token at its peak), so a larger corpus is fitted on a sample of whole documents (see
# :func:`fit_sample`) and the fit's time and memory stay bounded however large the corpus
# grows: 8M tokens is ~25 MB of code, ~400 MB at a fold's peak, and twenty times the
# embedded default hypercube (which is fitted on all of its documents, as is any corpus
# below the cap).
FIT_SAMPLE_TOKENS = 8_000_000
_RETRIES = 3


@dataclass
class UpdatePlan:
    vocab_size: int
    remove: list[int] = field(default_factory=list)      # segment ids to delete
    # The segments to build, in order: (family, doc ids), each at most the segment cap.
    build: list[tuple[str, list[int]]] = field(default_factory=list)
    corpus_tokens: int = 0
    documents: int = 0

    @property
    def needed(self) -> bool:
        return bool(self.remove or self.build)


@dataclass
class UpdateReport:
    segments_built: int = 0
    segments_removed: int = 0
    documents_indexed: int = 0
    refitted: bool = False
    heldout_bits_per_token: float | None = None
    seconds: float = 0.0


def vocab_size(conn) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM vocabulary").fetchone()[0])


def plan_update(conn, segment_tokens: int = MAX_SEGMENT_TOKENS) -> UpdatePlan:
    """What to rebuild so the model counts exactly the current documents, each document in
    a segment of its language family holding at most ``segment_tokens`` tokens (or one
    document, if that alone holds more)."""
    size = vocab_size(conn)
    current = {d: (h, n, family_of(language)) for d, h, n, language in conn.execute(
        "SELECT id, content_hash, n_tokens, language FROM documents")}
    plan = UpdatePlan(size, corpus_tokens=sum(n for _, n, _ in current.values()),
                      documents=len(current))
    segments = {sid: (v, k, t, tokens) for sid, v, k, t, tokens in conn.execute(
        "SELECT id, vocab_size, kmax, thresh, tokens FROM model_segments")}
    members: dict[int, list[tuple[int, str]]] = {sid: [] for sid in segments}
    for doc_id, sid, digest in conn.execute(
            "SELECT doc_id, segment_id, content_hash FROM model_segment_docs"):
        members.setdefault(sid, []).append((doc_id, digest))
    # family -> kept segment id -> tokens, for the segments still open to merging (a
    # segment past half the cap is full: merging it would rewrite it for little gain).
    open_kept: dict[str, dict[int, int]] = {}
    covered: set[int] = set()
    for sid, (v, k, t, tokens) in segments.items():
        fresh = (v, k, t) == (size, KMAX, THRESH) and bool(members[sid]) and all(
            current.get(doc_id, (None,))[0] == digest for doc_id, digest in members[sid])
        families = {current[doc_id][2] for doc_id, _ in members[sid]} if fresh else set()
        if fresh and len(families) == 1:
            family = families.pop()
            if 2 * tokens < segment_tokens:
                open_kept.setdefault(family, {})[sid] = tokens
            covered.update(doc_id for doc_id, _ in members[sid])
        else:
            # Stale, or written before segments were split by family: rebuilt.
            plan.remove.append(sid)
    pending: dict[str, list[int]] = {}
    for doc_id in sorted(set(current) - covered):
        pending.setdefault(current[doc_id][2], []).append(doc_id)
    for family in sorted(pending):
        doc_ids = pending[family]
        kept = open_kept.get(family, {})
        smallest = sorted(kept, key=lambda sid: (kept[sid], sid))
        chunks = _chunks(doc_ids, current, segment_tokens)
        # Room for the family's new open segment: merge its smallest open ones into it.
        while smallest and len(kept) + _open_count(chunks, current, segment_tokens) \
                > MAX_SEGMENTS:
            sid = smallest.pop(0)
            del kept[sid]
            plan.remove.append(sid)
            doc_ids = sorted(doc_ids + [doc_id for doc_id, _ in members[sid]])
            chunks = _chunks(doc_ids, current, segment_tokens)
        plan.build.extend((family, chunk) for chunk in chunks)
    return plan


def model_is_current(conn) -> bool:
    """Whether the stored model counts exactly the current documents, each in one segment
    of its family built for this vocabulary: ``not plan_update(conn).needed``, asked of
    SQLite's indexes instead of reading every row here (every engine load asks it)."""
    def any_row(sql: str, *args: object) -> bool:
        return bool(conn.execute(f"SELECT EXISTS({sql})", args).fetchone()[0])

    if any_row("SELECT 1 FROM model_segments WHERE vocab_size != ? OR kmax != ? OR thresh != ?",
               vocab_size(conn), KMAX, THRESH):
        return False
    if any_row("SELECT 1 FROM model_segments s WHERE NOT EXISTS"
               " (SELECT 1 FROM model_segment_docs m WHERE m.segment_id = s.id)"):
        return False          # a segment that counts nothing
    if any_row("SELECT 1 FROM model_segment_docs m LEFT JOIN documents d ON d.id = m.doc_id"
               " WHERE d.id IS NULL OR d.content_hash != m.content_hash"):
        return False          # a counted document since deleted or replaced
    if any_row("SELECT 1 FROM documents d WHERE NOT EXISTS"
               " (SELECT 1 FROM model_segment_docs m WHERE m.doc_id = d.id)"):
        return False          # a document not yet counted
    families: dict[int, set[str]] = {}
    for segment_id, language in conn.execute(
            "SELECT DISTINCT m.segment_id, d.language FROM model_segment_docs m"
            " JOIN documents d ON d.id = m.doc_id"):
        families.setdefault(segment_id, set()).add(family_of(language))
    return all(len(found) == 1 for found in families.values())


def _chunks(doc_ids: list[int], current: dict[int, tuple[str, int, str]],
            cap: int) -> list[list[int]]:
    """The documents (in id order) cut into runs of at most ``cap`` tokens each."""
    chunks: list[list[int]] = []
    taken = 0
    for doc_id in doc_ids:
        tokens = current[doc_id][1] + 1     # and its separator
        if not chunks or taken + tokens > cap:
            chunks.append([])
            taken = 0
        chunks[-1].append(doc_id)
        taken += tokens
    return chunks


def _open_count(chunks: list[list[int]], current: dict[int, tuple[str, int, str]],
                cap: int) -> int:
    return sum(2 * sum(current[d][1] + 1 for d in chunk) < cap for chunk in chunks)


def segment_families(conn, segment_doc_ids: list[np.ndarray]) -> list[str | None]:
    """The language family of each loaded segment (from its documents; None if they are of
    several families, which only a stale model has)."""
    families: list[str | None] = []
    for doc_ids in segment_doc_ids:
        found = {family_of(language) for language, in conn.execute(
            "SELECT DISTINCT language FROM documents WHERE id IN (SELECT value FROM"
            " json_each(?))", (json.dumps([int(d) for d in doc_ids]),))}
        families.append(found.pop() if len(found) == 1 else None)
    return families


SegmentBuild = Callable[[Sequence[np.ndarray], int, Sequence[int]], Segment]


def update_model(store: Store, kernels: Kernels, *,
                 on_phase: Callable[[str], None] | None = None,
                 force_fit: bool = False,
                 segment_tokens: int = MAX_SEGMENT_TOKENS,
                 build: SegmentBuild | None = None) -> UpdateReport:
    """Bring the stored model up to date with the documents (a no-op when it is).

    Stale segments go first, then each planned segment is built from one snapshot and
    committed on its own, so memory holds one segment's documents and arrays at a time
    however many there are; in between the model is stale (refused on load), and a run
    killed there is completed by the next update, which plans the rest. ``build`` makes a
    segment from (token streams, vocabulary size, document ids): :func:`build_segment` in
    this process by default, a cluster's worker in ``ingest --cluster``
    (app/ingest/cluster.py).
    """
    started = time.perf_counter()
    report = UpdateReport()
    say = on_phase or (lambda _phase: None)
    conflicts = 0
    while True:
        with store.snapshot() as conn:
            plan = plan_update(conn, segment_tokens)
        if plan.vocab_size == 0 or plan.documents == 0 or not plan.needed:
            break  # nothing (left) to index; _drop_orphans clears what is left
        if plan.remove:
            with store.write() as conn:
                # Planned again inside the transaction: what is stale now is what goes.
                removed = plan_update(conn, segment_tokens).remove
                delete_segments(conn, removed)
            report.segments_removed += len(removed)
            continue
        for number, (family, doc_ids) in enumerate(plan.build, 1):
            with store.snapshot() as conn:
                streams, hashes = _read_documents(conn, doc_ids)
            say(f"indexing {len(doc_ids)} {family} documents"
                + (f" (segment {number} of {len(plan.build)})" if len(plan.build) > 1 else ""))
            segment = (build or build_segment)(streams, plan.vocab_size, doc_ids)
            del streams
            with store.write() as conn:
                if not _still_pending(conn, doc_ids, hashes):
                    break  # documents changed while we built: plan again
                save_segment(conn, segment, hashes)
            del segment
            report.segments_built += 1
            report.documents_indexed += len(doc_ids)
        else:
            continue  # every planned segment committed: the next plan finds nothing left
        conflicts += 1
        if conflicts >= _RETRIES:
            raise NotReady("the documents kept changing while the model was being updated; "
                           "run the update again when ingestion is finished")
    _drop_orphans(store)
    # After the commits that dropped segments (and on every ingest run, for the files a
    # killed writer left): their files go.
    with store.write() as conn:
        collect_garbage(conn)
    if _needs_fit(store, force_fit):
        say("fitting parameters")
        report.refitted = True
        report.heldout_bits_per_token = refit(store, kernels)
    report.seconds = time.perf_counter() - started
    return report


def _still_pending(conn, doc_ids: list[int], hashes: list[str]) -> bool:
    """Whether these documents are still there with these contents, counted by no segment
    (inside the write that would commit their segment: nothing changed since they were
    read, so the segment built from them is the plan's)."""
    found = {doc_id: (digest, counted) for doc_id, digest, counted in conn.execute(
        "SELECT d.id, d.content_hash, m.doc_id IS NOT NULL FROM documents d"
        " LEFT JOIN model_segment_docs m ON m.doc_id = d.id"
        " WHERE d.id IN (SELECT value FROM json_each(?))", (json.dumps(doc_ids),))}
    return len(found) == len(doc_ids) and all(
        found.get(doc_id) == (digest, 0) for doc_id, digest in zip(doc_ids, hashes, strict=True))


def _read_documents(conn, doc_ids: list[int]) -> tuple[list[np.ndarray], list[str]]:
    streams: list[np.ndarray] = []
    hashes: list[str] = []
    for doc_id in doc_ids:
        row = conn.execute(
            "SELECT t.tokens, d.content_hash FROM document_tokens t JOIN documents d"
            " ON d.id = t.doc_id WHERE t.doc_id = ?", (doc_id,)).fetchone()
        streams.append(unpack_tokens(row[0]))
        hashes.append(row[1])
    return streams, hashes


def _drop_orphans(store: Store) -> None:
    """With no documents left (or no vocabulary), no segment may remain."""
    with store.snapshot() as conn:
        plan = plan_update(conn)
    if plan.documents == 0 and plan.remove:
        with store.write() as conn:
            delete_segments(conn, plan_update(conn).remove)


def _needs_fit(store: Store, force: bool) -> bool:
    with store.snapshot() as conn:
        plan = plan_update(conn)
        stored = load_params(conn)
    if plan.documents == 0:
        return False
    if force or stored is None:
        return True
    ratio = max(plan.corpus_tokens, 1) / max(stored.corpus_tokens, 1)
    return ratio >= REFIT_FACTOR or ratio <= 1 / REFIT_FACTOR


def project_groups(paths: list[str]) -> list[str | None]:
    """Each document's project: the first folder below the folder all documents share
    (None for a document directly in it, a project of its own)."""
    if not paths:
        return []
    try:
        root = os.path.commonpath(paths)
    except ValueError:  # mixed drives or relative and absolute paths
        return [None] * len(paths)
    groups: list[str | None] = []
    for path in paths:
        parts = Path(os.path.relpath(path, root)).parts if path != root else ()
        groups.append(parts[0] if len(parts) > 1 else None)
    return groups


def refit(store: Store, kernels: Kernels) -> float:
    """Fit parameters on the current documents (see app/model/fit.py), or on a bounded
    sample of them (:data:`FIT_SAMPLE_TOKENS`); returns held-out bits per token (nan when
    there are too few documents to hold any out)."""
    with store.snapshot() as conn:
        size = vocab_size(conn)
        catalog = cast(list[tuple[int, str, int]], conn.execute(
            "SELECT d.id, d.content_hash, length(t.tokens) / 2 FROM document_tokens t"
            " JOIN documents d ON d.id = t.doc_id").fetchall())
        chosen = fit_sample(catalog, FIT_SAMPLE_TOKENS)
        rows = cast(list[tuple[bytes, str, str]], conn.execute(
            "SELECT t.tokens, d.content_hash, d.path FROM document_tokens t JOIN documents d"
            " ON d.id = t.doc_id WHERE d.id IN (SELECT value FROM json_each(?))"
            " ORDER BY d.path", (json.dumps(chosen),)).fetchall())
    streams = [unpack_tokens(blob) for blob, _, _ in rows]
    hashes = [digest for _, digest, _ in rows]
    # Always from the defaults, so the result depends on the documents only.
    params, bits = fit_on_documents(
        streams, hashes, size, kernels, lambda docs: build_segment(docs, size),
        limit=FIT_TOKENS, start=ModelParams.default(), folds=FIT_FOLDS,
        groups=project_groups([path for _, _, path in rows]),
        context_limit=CONTEXT_FIT_TOKENS)
    with store.write() as conn:
        save_params(conn, params, sum(tokens for _, _, tokens in catalog),
                    FIT_TOKENS * FIT_FOLDS, bits)
    return bits


def fit_sample(catalog: list[tuple[int, str, int]], cap: int) -> list[int]:
    """The ids of the documents the fit reads, from (id, content hash, tokens) of every one:
    all of them if they hold at most ``cap`` tokens, else whole documents in the order of a
    hash of their content (so the sample is the same whatever the paths or ingest order, and
    mostly the same as the corpus grows) for as long as they fit under ``cap``."""
    if sum(tokens for _, _, tokens in catalog) <= cap:
        return [doc_id for doc_id, _, _ in catalog]
    # Salted, so the sample is not the documents the folds hold out (also chosen by hash).
    ordered = sorted(catalog, key=lambda row: hashlib.sha256(
        b"fit sample\0" + row[1].encode()).digest())
    chosen: list[int] = []
    taken = 0
    for doc_id, _, tokens in ordered:
        if taken + tokens <= cap:
            chosen.append(doc_id)
            taken += tokens
    return chosen
