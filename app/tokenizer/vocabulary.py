"""The tokenizer's vocabulary as it lives in the hypercube.

Token ids are dense (0..V-1) for the model. Ids 0..255 are byte fallbacks, so every Unicode
string encodes; the rest are atoms (single codepoints) and compositions made by the learned
pair merges, in the order the trainer produced them. Each merged token is stored as a
composition whose two children are the tokens it merged, so the vocabulary *is* a Merkle DAG
over atoms; its coordinates are the length-weighted centroid of its children on S³.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import cast

import apsw
import numpy as np

from app import geometry
from app.compositions import byte_node, composition_id
from app.errors import StoreError
from app.store.rows import integer

BYTE_TOKENS = 256
MERGE_TAG = "pair"


@dataclass
class Vocabulary:
    """Token id → bytes, node and kind, plus the ordered merges (left id, right id, result id)."""

    token_bytes: list[bytes]
    kinds: list[str]
    nodes: list[int]
    merges: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.token_bytes)

    def hf_name(self, token_id: int) -> str:
        """The token's name in the Hugging Face BPE model we encode with."""
        if self.kinds[token_id] == "byte":
            return f"<0x{token_id:02X}>"
        return self.token_bytes[token_id].decode("utf-8")

    @classmethod
    def from_trained(cls, symbols: list[str], merges: list[tuple[str, str]]) -> Vocabulary:
        """Build from a trainer's symbol list (alphabet then merge results) and merge list."""
        token_bytes = [bytes([b]) for b in range(BYTE_TOKENS)]
        kinds = ["byte"] * BYTE_TOKENS
        nodes = [byte_node(b) for b in range(BYTE_TOKENS)]
        ids: dict[str, int] = {}
        for symbol in symbols:
            if symbol in ids:
                continue
            ids[symbol] = len(token_bytes)
            token_bytes.append(symbol.encode("utf-8"))
            if len(symbol) == 1:
                kinds.append("atom")
                nodes.append(ord(symbol))
            else:
                kinds.append("composition")
                nodes.append(-1)  # filled from its merge below
        merge_list: list[tuple[int, int, int]] = []
        for left, right in merges:
            result = ids[left + right]
            merge_list.append((ids[left], ids[right], result))
            nodes[result] = composition_id(MERGE_TAG, [nodes[ids[left]], nodes[ids[right]]])
        missing = [token_bytes[i] for i, node in enumerate(nodes) if node == -1]
        if missing:
            raise StoreError(f"trained vocabulary has tokens without a merge: {missing[:5]!r}")
        return cls(token_bytes, kinds, nodes, merge_list)


def save_vocabulary(conn: apsw.Connection, vocab: Vocabulary) -> None:
    """Store the vocabulary's atoms, compositions and token table (inside a transaction)."""
    if integer(conn, "SELECT COUNT(*) FROM vocabulary"):
        raise StoreError("this hypercube already has a vocabulary; it is fixed once learned")
    atom_ids = sorted({cp for tb, kind in zip(vocab.token_bytes, vocab.kinds, strict=True)
                       if kind != "byte" for cp in map(ord, tb.decode("utf-8"))})
    atom_array = np.array(atom_ids, dtype=np.int64)
    atom_coords = geometry.atom_points(atom_array)
    keys = geometry.hilbert_encode(geometry.quantize(atom_coords))
    point_of: dict[int, np.ndarray] = {}
    conn.executemany(
        "INSERT OR IGNORE INTO atoms(codepoint, x, y, z, w, hilbert, category) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)",
        (
            (cp, *map(float, pt), int(key), unicodedata.category(chr(cp)))
            for cp, pt, key in zip(atom_ids, atom_coords, keys, strict=True)
        ),
    )
    for cp, pt in zip(atom_ids, atom_coords, strict=True):
        point_of[cp] = pt
    # A byte has no codepoint; it sits at the atom of the Latin-1 character it names.
    byte_points = geometry.atom_points(np.arange(BYTE_TOKENS, dtype=np.int64))
    for value in range(BYTE_TOKENS):
        point_of[vocab.nodes[value]] = byte_points[value]
    # Compositions in merge order: each point needs its children's, so they go one by one;
    # the Hilbert keys are then encoded for all of them at once.
    rows: list[tuple[int, str, int, bytes]] = []
    points: list[np.ndarray] = []
    children_rows: list[tuple[int, int, int]] = []
    for token_id, kind in enumerate(vocab.kinds):
        if kind == "byte":
            rows.append((vocab.nodes[token_id], "byte", 0, vocab.token_bytes[token_id]))
            points.append(point_of[vocab.nodes[token_id]])
    for left, right, result in vocab.merges:
        children = [vocab.nodes[left], vocab.nodes[right]]
        weights = np.array([_codepoints(vocab, left), _codepoints(vocab, right)], dtype=np.float64)
        point = geometry.composition_point(np.stack([point_of[c] for c in children]), weights)
        point_of[vocab.nodes[result]] = point
        rows.append((vocab.nodes[result], MERGE_TAG, _codepoints(vocab, result),
                     vocab.token_bytes[result]))
        points.append(point)
        children_rows += [(vocab.nodes[result], i, child) for i, child in enumerate(children)]
    if rows:
        stacked = np.stack(points)
        hilbert = geometry.hilbert_encode(geometry.quantize(stacked))
        conn.executemany(
            "INSERT OR IGNORE INTO compositions(id, tag, length, content, x, y, z, w, hilbert) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((*row, *map(float, pt), int(key))
             for row, pt, key in zip(rows, stacked, hilbert, strict=True)),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO composition_children(parent, position, child) VALUES(?, ?, ?)",
            children_rows,
        )
    rank_of = {result: rank for rank, (_, _, result) in enumerate(vocab.merges)}
    conn.executemany(
        "INSERT INTO vocabulary(token_id, node, kind, merge_rank) VALUES(?, ?, ?, ?)",
        [(i, vocab.nodes[i], vocab.kinds[i], rank_of.get(i)) for i in range(vocab.size)],
    )


def _codepoints(vocab: Vocabulary, token_id: int) -> int:
    return len(vocab.token_bytes[token_id].decode("utf-8"))


def token_bytes_of(token_id: int, kind: str, node: int, content: bytes | None) -> bytes:
    """A token's bytes: an atom's codepoint in UTF-8, else its composition's content."""
    if kind == "atom":
        return chr(node).encode("utf-8")
    if content is None:
        raise StoreError(f"vocabulary token {token_id} has no composition {node}")
    return bytes(content)


def load_vocabulary(conn: apsw.Connection) -> Vocabulary | None:
    """Read the vocabulary back; None when this hypercube has not learned one yet."""
    # content is NULL for atoms only: every other token's node is a composition.
    rows = cast(list[tuple[int, int, str, int | None, bytes | None]], conn.execute(
        "SELECT v.token_id, v.node, v.kind, v.merge_rank, c.content "
        "FROM vocabulary v LEFT JOIN compositions c ON c.id = v.node ORDER BY v.token_id"
    ).fetchall())
    if not rows:
        return None
    token_bytes: list[bytes] = []
    kinds: list[str] = []
    nodes: list[int] = []
    ranked: list[tuple[int, int]] = []
    for expected, (token_id, node, kind, rank, content) in enumerate(rows):
        if token_id != expected:
            raise StoreError(f"vocabulary has a gap at token id {expected}")
        kinds.append(kind)
        nodes.append(node)
        token_bytes.append(token_bytes_of(token_id, kind, node, content))
        if rank is not None:
            ranked.append((rank, token_id))
    token_of = {node: i for i, node in enumerate(nodes)}
    children: dict[int, list[int]] = {}
    # CROSS JOIN keeps the vocabulary the outer loop: SQLite's planner would rather scan every
    # composition's children (identifier names too, ~8 a line of code) and probe the vocabulary.
    for parent, child in conn.execute(
        "SELECT cc.parent, cc.child FROM vocabulary v "
        "CROSS JOIN composition_children cc ON cc.parent = v.node "
        "ORDER BY cc.parent, cc.position"
    ):
        children.setdefault(parent, []).append(child)
    merges = []
    for _, token_id in sorted(ranked):
        left, right = children[nodes[token_id]]
        merges.append((token_of[left], token_of[right], token_id))
    return Vocabulary(token_bytes, kinds, nodes, merges)
