"""What the hypercube holds, for dashboards and the UI's picture.

- ``GET /v1/hypercube/stats``: documents, atoms, compositions, relations, tokens (the same
  report as ``hypercube db info --json``);
- ``GET /v1/hypercube/points?limit=N``: a sample of the hypercube's points in 4D.

The points are atoms (codepoints, grouped by Unicode category), vocabulary tokens and
identifiers (by the kind and language of the definitions that use the name), each with its
point on S³. The sample is the compositions with the smallest ids; ids are hashes, so that is
an even, stable spread over the hypercube that a page can redraw identically. Ids travel as
strings: they are 63-bit and JavaScript numbers are exact only to 53 bits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import apsw
import falcon
import orjson

from app.api.body import query_int
from app.store import Store, inspect

DEFAULT_POINTS = 4000
MAX_POINTS = 20000
MAX_LABEL = 40

# Unicode general categories folded into the groups a legend can show.
_CATEGORY_GROUPS = {"L": "letter", "N": "digit", "P": "punctuation", "S": "symbol",
                    "Z": "space", "C": "control", "M": "mark"}


def sample_points(store: Store, limit: int) -> list[dict[str, Any]]:
    """Every atom, then compositions (tokens and identifiers) up to ``limit`` points."""
    points: list[dict[str, Any]] = []
    with store.snapshot() as conn:
        for codepoint, x, y, z, w, category in conn.execute(
                "SELECT codepoint, x, y, z, w, category FROM atoms ORDER BY codepoint"):
            points.append({"id": f"U+{codepoint:04X}", "kind": "atom",
                           "group": _CATEGORY_GROUPS.get(category[:1], "other"),
                           "language": None, "label": chr(codepoint), "x": x, "y": y, "z": z,
                           "w": w})
        rows = conn.execute(
            "SELECT id, tag, content, x, y, z, w FROM compositions WHERE tag != 'byte' "
            "ORDER BY id LIMIT ?", (max(0, limit - len(points)),)).fetchall()
        idents = [row[0] for row in rows if row[1] == "ident"]
        uses = _identifier_uses(conn, idents)
        for node, tag, content, x, y, z, w in rows:
            kind, language = uses.get(node, ("identifier", None)) if tag == "ident" else (
                "token", None)
            text = bytes(content).decode("utf-8", "replace")
            points.append({"id": str(node), "kind": "identifier" if tag == "ident" else "token",
                           "group": kind if tag == "ident" else "token", "language": language,
                           "label": text[:MAX_LABEL], "x": x, "y": y, "z": z, "w": w})
    return points


def _identifier_uses(conn: apsw.Connection, nodes: list[int]) -> dict[int, tuple[str, str]]:
    """Each identifier's most frequent definition kind and language."""
    if not nodes:
        return {}
    best: dict[int, tuple[int, str, str]] = {}
    for node, kind, language, count in conn.execute(
            "SELECT n.node, s.kind, d.language, COUNT(*) FROM code_names n "
            "JOIN code_symbols s ON s.name_id = n.id JOIN documents d ON d.id = s.doc_id "
            "WHERE n.node IN (SELECT value FROM json_each(?)) "
            "GROUP BY n.node, s.kind, d.language", (orjson.dumps(nodes).decode(),)):
        if node not in best or count > best[node][0]:
            best[node] = (count, kind, language)
    return {node: (kind, language) for node, (_, kind, language) in best.items()}


class StatsResource:
    accepts = ()

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        with Store(self.db_path, readonly=True) as store:
            resp.media = {"object": "hypercube.stats", **inspect.info(store)}


class PointsResource:
    accepts = ()

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = query_int(req, "limit", DEFAULT_POINTS, 1, MAX_POINTS)
        with Store(self.db_path, readonly=True) as store:
            resp.media = {"object": "list", "data": sample_points(store, limit)}
