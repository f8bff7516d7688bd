"""What the hypercube holds, for dashboards and the UI's picture.

- ``GET /v1/hypercube/stats``: documents, atoms, compositions, relations, tokens (the same
  report as ``hypercube db info --json``);
- ``GET /v1/hypercube/points?limit=N``: a sample of the hypercube's points in 4D;
  ``?q=TEXT`` instead finds the points whose text is (else contains) ``TEXT``, for the
  picture's search;
- ``GET /v1/hypercube/points/{id}``: one point and its composition tree (the ordered children
  down to atoms, cut at :data:`TREE_NODES` nodes), for the picture's click, with its nearest
  points (``?neighbors=N``, default :data:`DEFAULT_NEIGHBORS`, 0 for none).

The points are atoms (codepoints, grouped by Unicode category), vocabulary tokens and
identifiers (by the kind and language of the definitions that use the name), each with its
point on S³. The sample is the compositions with the smallest ids; ids are hashes, so that is
an even, stable spread over the hypercube that a page can redraw identically. Ids travel as
strings: they are 63-bit and JavaScript numbers are exact only to 53 bits.

The nearest points are found on the Hilbert-key indexes (``atoms_by_hilbert``,
``compositions_by_hilbert``), not by measuring every point: the ball of a chord radius around
the point is bounded by a box of grid cells, the box is cut into a few key ranges
(:func:`app.geometry.hilbert_box_ranges`), and only the rows in those ranges are read and
measured. When fewer than N lie within the radius the radius grows and the search repeats;
once N do, no point outside the box can be nearer, so the answer is exactly the brute-force one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import apsw
import falcon
import numpy as np
import orjson

from app import geometry
from app.api.http.body import query_int
from app.errors import InvalidRequest, NotFound
from app.store import Store, inspect
from app.store.pool import Pool

DEFAULT_POINTS = 4000
MAX_POINTS = 20000
MAX_LABEL = 40
MAX_FOUND = 50
MAX_QUERY = 200
TREE_NODES = 400
DEFAULT_NEIGHBORS = 12
MAX_NEIGHBORS = 50
# The first search radius (a chord on S³, whose diameter is 2): a few atom variants apart.
_FIRST_RADIUS = 1 / 256
# Key ranges per search: more cut the box closer (fewer rows read) at one index seek each.
_KEY_RANGES = 512
# Each table's rows in a set of key ranges; CROSS JOIN keeps the ranges the outer loop, so
# each range is one seek on the table's Hilbert index.
_ATOMS_IN_RANGES = (
    "SELECT a.codepoint, a.x, a.y, a.z, a.w FROM json_each(?) AS r CROSS JOIN atoms AS a "
    "WHERE a.hilbert BETWEEN r.value ->> 0 AND r.value ->> 1")
_COMPOSITIONS_IN_RANGES = (
    "SELECT c.id, c.x, c.y, c.z, c.w FROM json_each(?) AS r CROSS JOIN compositions AS c "
    "WHERE c.hilbert BETWEEN r.value ->> 0 AND r.value ->> 1 AND c.tag != 'byte'")

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
        rows = cast(list[tuple[int, str, bytes, float, float, float, float]], conn.execute(
            "SELECT id, tag, content, x, y, z, w FROM compositions WHERE tag != 'byte' "
            "ORDER BY id LIMIT ?", (max(0, limit - len(points)),)).fetchall())
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


def _atom_point(codepoint: int, x: float, y: float, z: float, w: float,
                category: str) -> dict[str, Any]:
    return {"id": f"U+{codepoint:04X}", "kind": "atom",
            "group": _CATEGORY_GROUPS.get(category[:1], "other"), "language": None,
            "label": chr(codepoint), "x": x, "y": y, "z": z, "w": w}


def _composition_point(conn: apsw.Connection, node: int, tag: str, content: bytes, x: float,
                       y: float, z: float, w: float) -> dict[str, Any]:
    kind, language = _identifier_uses(conn, [node]).get(node, ("identifier", None)) \
        if tag == "ident" else ("token", None)
    return {"id": str(node), "kind": "identifier" if tag == "ident" else "token",
            "group": kind if tag == "ident" else "token", "language": language,
            "label": bytes(content).decode("utf-8", "replace")[:MAX_LABEL],
            "x": x, "y": y, "z": z, "w": w}


def find_points(store: Store, query: str, limit: int = MAX_FOUND) -> list[dict[str, Any]]:
    """Points whose text is ``query`` first, then those containing it, shortest first."""
    found: list[dict[str, Any]] = []
    needle = query.encode("utf-8")
    with store.snapshot() as conn:
        if len(query) == 1:
            row = conn.execute("SELECT codepoint, x, y, z, w, category FROM atoms "
                               "WHERE codepoint = ?", (ord(query),)).fetchone()
            if row:
                found.append(_atom_point(*row))
        for node, tag, content, x, y, z, w in conn.execute(
                "SELECT id, tag, content, x, y, z, w FROM compositions WHERE tag != 'byte' "
                "AND instr(content, ?) > 0 ORDER BY content != ?, length, id LIMIT ?",
                (needle, needle, max(0, limit - len(found)))):
            found.append(_composition_point(conn, node, tag, content, x, y, z, w))
    return found


def composition_tree(store: Store, point_id: str,
                     neighbors: int = DEFAULT_NEIGHBORS) -> dict[str, Any]:
    """The point ``point_id`` (``U+0041`` or a composition id) with its children, recursively,
    and its ``neighbors`` nearest points (each with its ``distance``, an angle in radians).

    Raises:
        NotFound: no such point.
    """
    with store.snapshot() as conn:
        point = _point_row(conn, point_id)
        if point is None:
            raise NotFound(f"no point {point_id!r}")
        near = _neighbors(conn, point, neighbors)
        if point["kind"] == "atom":
            return {**point, "children": [], "neighbors": near}
        node = int(point_id)
        (tag,) = cast(tuple[str], conn.execute("SELECT tag FROM compositions WHERE id = ?",
                                               (node,)).fetchone())
        return {**point, "tag": tag, "children": _children(conn, node, [TREE_NODES]),
                "neighbors": near}


@dataclass(frozen=True)
class Nearest:
    """A nearest-points search: what it found, and what it cost."""

    points: list[tuple[float, str]]  # (angle in radians, point id), nearest first
    rows_read: int  # rows the range scans returned, over all its searches
    searches: int


def nearest_points(conn: apsw.Connection, point: np.ndarray, count: int,
                   exclude: str | None = None) -> Nearest:
    """The ``count`` points nearest ``point``, ties by id, found by Hilbert-key range scans;
    ``exclude`` is a point id left out (the point itself)."""
    if count <= 0:
        return Nearest([], 0, 0)
    radius = _FIRST_RADIUS
    rows_read = searches = 0
    while True:
        lower, upper = geometry.ball_cells(point, radius)
        ranges = orjson.dumps(geometry.hilbert_box_ranges(lower, upper,
                                                          max_ranges=_KEY_RANGES)).decode()
        ids: list[str] = []
        coords: list[tuple[float, float, float, float]] = []
        for codepoint, x, y, z, w in conn.execute(_ATOMS_IN_RANGES, (ranges,)):
            ids.append(f"U+{codepoint:04X}")
            coords.append((x, y, z, w))
        for node, x, y, z, w in conn.execute(_COMPOSITIONS_IN_RANGES, (ranges,)):
            ids.append(str(node))
            coords.append((x, y, z, w))
        rows_read += len(ids)
        searches += 1
        read = _by_distance(point, ids, coords, exclude)
        found = [(chord, point_id) for chord, point_id in read if chord <= radius]
        # Every point is within a chord of 2; past that the whole table has been read.
        if len(found) >= count or radius >= 2.0:
            return Nearest([(float(2.0 * np.arcsin(min(1.0, chord / 2.0))), point_id)
                            for chord, point_id in found[:count]], rows_read, searches)
        # Too few within the radius. The box around the ball read more; if ``count`` of those
        # are known, the nearest ``count`` are no farther than the last of them, so one more
        # search with that radius is the last. Else look four times as far.
        radius = read[count - 1][0] if len(read) >= count else radius * 4


def _by_distance(point: np.ndarray, ids: list[str],
                 coords: list[tuple[float, float, float, float]],
                 exclude: str | None) -> list[tuple[float, str]]:
    """The candidates as (chord to ``point``, id), nearest first, ties by id."""
    if not ids:
        return []
    chords = np.sqrt(((np.array(coords, dtype=np.float64) - point) ** 2).sum(axis=1))
    return sorted((float(chord), point_id) for chord, point_id in zip(chords, ids, strict=True)
                  if point_id != exclude)


def _point_row(conn: apsw.Connection, point_id: str) -> dict[str, Any] | None:
    """The picture's description of one point, or None if there is no such point."""
    if point_id.startswith("U+"):
        try:
            codepoint = int(point_id[2:], 16)
        except ValueError:
            return None
        row = conn.execute("SELECT codepoint, x, y, z, w, category FROM atoms "
                           "WHERE codepoint = ?", (codepoint,)).fetchone()
        return None if row is None else _atom_point(*row)
    try:
        node = int(point_id)
    except ValueError:
        return None
    row = conn.execute("SELECT id, tag, content, x, y, z, w FROM compositions WHERE id = ?",
                       (node,)).fetchone()
    return None if row is None else _composition_point(conn, *row)


def _neighbors(conn: apsw.Connection, of: dict[str, Any], count: int) -> list[dict[str, Any]]:
    point = np.array([of["x"], of["y"], of["z"], of["w"]], dtype=np.float64)
    found = []
    for angle, point_id in nearest_points(conn, point, count, exclude=of["id"]).points:
        described = _point_row(conn, point_id)
        if described is not None:
            found.append({**described, "distance": angle})
    return found


def _children(conn: apsw.Connection, node: int, budget: list[int]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for (child,) in cast(list[tuple[int]], conn.execute(
            "SELECT child FROM composition_children WHERE parent = ? ORDER BY position",
            (node,)).fetchall()):
        budget[0] -= 1
        if budget[0] < 0:
            result.append({"truncated": True})
            break
        if child < 0x110000:  # an atom: children below that are codepoints
            result.append({"id": f"U+{child:04X}", "kind": "atom", "label": chr(child),
                           "children": []})
            continue
        row = conn.execute("SELECT tag, content FROM compositions WHERE id = ?",
                           (child,)).fetchone()
        if row is None:
            continue
        tag, content = row
        result.append({"id": str(child), "kind": tag,
                       "label": bytes(content).decode("utf-8", "replace")[:MAX_LABEL],
                       "children": [] if tag == "byte" else _children(conn, child, budget)})
    return result


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

    def __init__(self, readers: Pool[Store]) -> None:
        self.readers = readers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        with self.readers.lend() as store:
            resp.media = {"object": "hypercube.stats", **inspect.info(store)}


class PointsResource:
    accepts = ()

    def __init__(self, readers: Pool[Store]) -> None:
        self.readers = readers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = req.get_param("q")
        if query is not None:
            if not query or len(query) > MAX_QUERY or "\0" in query:
                raise InvalidRequest(f"'q' must be 1 to {MAX_QUERY} characters", param="q")
            limit = min(MAX_FOUND, query_int(req, "limit", MAX_FOUND, 1, MAX_POINTS))
            with self.readers.lend() as store:
                resp.media = {"object": "list", "data": find_points(store, query, limit)}
            return
        limit = query_int(req, "limit", DEFAULT_POINTS, 1, MAX_POINTS)
        with self.readers.lend() as store:
            resp.media = {"object": "list", "data": sample_points(store, limit)}


class PointResource:
    accepts = ()

    def __init__(self, readers: Pool[Store]) -> None:
        self.readers = readers

    def on_get(self, req: falcon.Request, resp: falcon.Response, point_id: str) -> None:
        neighbors = query_int(req, "neighbors", DEFAULT_NEIGHBORS, 0, MAX_NEIGHBORS)
        with self.readers.lend() as store:
            resp.media = {"object": "hypercube.point",
                          **composition_tree(store, point_id, neighbors)}
