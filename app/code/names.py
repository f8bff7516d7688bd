"""Identifier names: interned ids for compact tables, and their place in the hypercube.

Every distinct name is a node of the same Merkle DAG as the text: a name that is one
vocabulary token is that token's node; a longer one is a composition tagged ``ident`` whose
children are its tokens (its coordinates follow the vocabulary's rule: the length-weighted
centroid of its children on S³), stored once a relation between code entities points at it.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict

import apsw
import numpy as np

from app import geometry
from app.compositions import ATOM_LIMIT, composition_id
from app.store.rows import integer
from app.tokenizer import Tokenizer

NAME_TAG = "ident"
# Names the writer keeps in memory: a run's files mostly use the same few thousand.
CACHED_NAMES = 200_000

_SEPARATORS = re.compile(r"[_\-$]+")


def fold(name: str) -> str:
    """The form in which naming conventions meet: ``get_user_name`` → ``getusername``."""
    return _SEPARATORS.sub("", name).lower()


_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def words(name: str) -> list[str]:
    """Lower-case words of an identifier in any convention: ``parseHTTPResponse_v2`` →
    ``['parse', 'http', 'response', 'v', '2']``."""
    return [w.lower() for w in _CAMEL.findall(name)]


class NameTable:
    """The ``code_names`` table, with a bounded cache of the names one ingest run's writer
    used last.

    Every name gets an id and a node id (its content address), but a multi-token name's
    composition is only stored once a relation points at it (``keep``): names that are only
    ever referenced would otherwise be most of the compositions table. A name the cache
    lacks is looked up in the table (its UNIQUE index), so the writer's memory stays
    ``CACHED_NAMES`` entries however many names the hypercube holds (a gigabyte of C holds
    ~2.5 million) and a run over a large hypercube reads only the names its files use. The
    cache is checked against the table's highest id before each use, so a rolled-back batch
    (whose names vanished with it) is noticed and the cache emptied.
    """

    def __init__(self) -> None:
        # name → (id, node, whether the node exists in the DAG), least recently used first
        self._cache: OrderedDict[str, tuple[int, int, bool]] = OrderedDict()
        self._max_id = -1
        self._points = np.zeros((0, 4))
        self._token_lengths = np.zeros(0)
        self._points_vocab: int | None = None

    def lookup(self, conn: apsw.Connection, names: set[str], keep: set[str],
               tokenizer: Tokenizer) -> dict[str, tuple[int, int]]:
        """(id, node) of each name, interning new ones and storing the nodes of ``keep``."""
        top = integer(conn, "SELECT coalesce(max(id), 0) FROM code_names")
        if top != self._max_id:
            self._cache.clear()
            self._max_id = top
        cache = self._cache
        for name in names:
            if name in cache:
                cache.move_to_end(name)
        missing = [n for n in names if n not in cache]
        if missing:
            cache.update(self._read(conn, missing))
        streams: dict[str, list[int]] = {}
        new = sorted(n for n in names if n not in cache)
        if new:
            self._intern(conn, new, tokenizer, streams)
        unstored = sorted(n for n in keep if not cache[n][2])
        if unstored:
            self._store(conn, unstored, tokenizer, streams)
        found = {n: cache[n][:2] for n in names}
        while len(cache) > CACHED_NAMES:
            cache.popitem(last=False)
        return found

    @staticmethod
    def _read(conn: apsw.Connection, names: list[str]) -> dict[str, tuple[int, int, bool]]:
        return {name: (name_id, node, bool(stored)) for name, name_id, node, stored in
                conn.execute(
                    "SELECT n.name, n.id, n.node, n.node < ?1 OR EXISTS"
                    " (SELECT 1 FROM compositions c WHERE c.id = n.node) FROM code_names n"
                    " WHERE n.name IN (SELECT value FROM json_each(?2))",
                    (ATOM_LIMIT, json.dumps(names)))}

    def _encode(self, names: list[str], tokenizer: Tokenizer,
                streams: dict[str, list[int]]) -> list[list[int]]:
        todo = [n for n in names if n not in streams]
        for name, tokens in zip(todo, tokenizer.encode_batch(todo), strict=True):
            streams[name] = tokens.tolist()
        return [streams[n] for n in names]

    def _intern(self, conn: apsw.Connection, new: list[str], tokenizer: Tokenizer,
                streams: dict[str, list[int]]) -> None:
        """Each name's node: the vocabulary's own node when the name is a single token (the
        same content already has an id), else the ``ident`` composition of its tokens."""
        nodes = tokenizer.vocab.nodes
        rows = []
        for name, tokens in zip(new, self._encode(new, tokenizer, streams), strict=True):
            single = len(tokens) == 1
            node = nodes[tokens[0]] if single else composition_id(
                NAME_TAG, [nodes[t] for t in tokens])
            self._max_id += 1
            # A single token's node is the vocabulary's own, already in the DAG.
            self._cache[name] = (self._max_id, node, single)
            rows.append((self._max_id, name, fold(name), node))
        conn.executemany("INSERT INTO code_names(id, name, folded, node) VALUES(?, ?, ?, ?)",
                         rows)

    def _store(self, conn: apsw.Connection, names: list[str], tokenizer: Tokenizer,
               streams: dict[str, list[int]]) -> None:
        """Store the ``ident`` compositions of multi-token names (and their children)."""
        vocab = tokenizer.vocab
        token_streams = self._encode(names, tokenizer, streams)
        points = self._token_points(conn, tokenizer)
        flat = np.fromiter((t for tokens in token_streams for t in tokens), dtype=np.int64)
        lengths = np.array([len(tokens) for tokens in token_streams], dtype=np.int64)
        name_points = _centroids(points[flat], self._token_lengths[flat], lengths)
        keys = geometry.hilbert_encode(geometry.quantize(name_points))
        conn.executemany(
            "INSERT OR IGNORE INTO compositions(id, tag, length, content, x, y, z, w, hilbert) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(self._cache[name][1], NAME_TAG, len(name), name.encode("utf-8"),
              *map(float, point), int(key))
             for name, point, key in zip(names, name_points, keys, strict=True)],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO composition_children(parent, position, child) VALUES(?, ?, ?)",
            [(self._cache[name][1], position, vocab.nodes[token])
             for name, tokens in zip(names, token_streams, strict=True)
             for position, token in enumerate(tokens)],
        )
        for name in names:
            name_id, node, _ = self._cache[name]
            self._cache[name] = (name_id, node, True)

    def _token_points(self, conn: apsw.Connection, tokenizer: Tokenizer) -> np.ndarray:
        """Each token's point: computed for atoms, stored for compositions (cached per vocab)."""
        if self._points_vocab == id(tokenizer.vocab):
            return self._points
        vocab = tokenizer.vocab
        stored = {
            node: np.array(xyzw) for node, *xyzw in conn.execute(
                "SELECT c.id, c.x, c.y, c.z, c.w FROM vocabulary v "
                "JOIN compositions c ON c.id = v.node")
        }
        atom_ids = [i for i, node in enumerate(vocab.nodes) if 0 <= node < ATOM_LIMIT
                    and vocab.kinds[i] == "atom"]
        atom_points = geometry.atom_points(np.array([vocab.nodes[i] for i in atom_ids]))
        points = np.zeros((vocab.size, 4), dtype=np.float64)
        points[atom_ids] = atom_points
        atoms = set(atom_ids)
        for token_id, node in enumerate(vocab.nodes):
            if token_id not in atoms:
                points[token_id] = stored[node]
        self._points, self._points_vocab = points, id(tokenizer.vocab)
        self._token_lengths = np.array(
            [len(b.decode("utf-8", "replace")) for b in vocab.token_bytes], dtype=np.float64)
        return points


def _centroids(points: np.ndarray, weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``geometry.composition_point`` for many compositions at once, bit for bit.

    Each composition's children are a consecutive run of ``points``. Their weighted sum is
    accumulated child by child in order, for all compositions at once (numpy's own
    reductions may sum in another order and differ in the last bit), then projected onto S³,
    falling back to the first child's point when the centroid is (nearly) the origin.
    """
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    weighted = points * weights[:, None]
    sums = weighted[starts].copy()
    for k in range(1, int(lengths.max(initial=1))):
        more = lengths > k
        sums[more] += weighted[starts[more] + k]
    norms = np.sqrt(sums[:, 0] * sums[:, 0] + sums[:, 1] * sums[:, 1]
                    + sums[:, 2] * sums[:, 2] + sums[:, 3] * sums[:, 3])
    totals = np.add.reduceat(weights, starts)
    degenerate = (totals <= 0.0) | (norms <= 1e-9 * totals)
    result = sums / np.where(degenerate, 1.0, norms)[:, None]
    if degenerate.any():
        first = points[starts[degenerate]]
        result[degenerate] = first / np.sqrt((first * first).sum(axis=1))[:, None]
    return result
