"""Project focus: the file being completed weighs its own project's code more.

Code repeats itself most within a project (its names, helpers, idioms), but in the
hypercube a project of a few hundred kilobytes sits beside megabytes of other code of the
same language, so its statistics are drowned. When a request says which file it edits
(``filename``), the model adds that project's documents of the file's language family once
more as a segment counted ``params.context_weight`` times over — the weight fitted for
exactly this use on held-out projects (app/model/fit.py ``fit_context_weight``), the same
mechanism ``hypercube eval --carry-cache`` uses.

A document's project is the nearest folder above it that holds a project marker the
ingest saw (``pyproject.toml``, ``package.json``, ``go.mod``, ``Cargo.toml``, ``pom.xml``,
a ``.csproj``…), else the ingest root it was found under. A file name from a client is
matched against the stored paths by its trailing components, so ``src/app/main.py``,
an absolute path and a file that was never ingested (matched by its folder) all work.

Built segments are kept for the few most recent projects; a model reloaded after an
ingest gets a new focus, so nothing stale is served.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np

from app.model.families import code_family, family_of
from app.model.runtime import Model
from app.model.segment import Segment, build_segment
from app.store import Store
from app.store.tokens import unpack_tokens

MARKERS = frozenset({
    "pyproject.toml", "setup.py", "setup.cfg", "package.json", "tsconfig.json", "deno.json",
    "go.mod", "Cargo.toml", "pom.xml", "build.gradle", "build.gradle.kts", "CMakeLists.txt",
    "meson.build", "configure.ac",
})
MARKER_SUFFIXES = (".csproj", ".sln", ".fsproj", ".vcxproj")
# Projects whose segments are kept built (one build costs ~0.1 s per 100k tokens).
CACHED_PROJECTS = 4
# A project that is most of its family gains nothing from counting more.
MAX_SHARE = 0.5
# Client file names whose project is remembered (finding one scans every stored path:
# about a millisecond per request on a hypercube of ten thousand files).
CACHED_NAMES = 1024


@dataclass(frozen=True)
class _Document:
    doc_id: int
    parts: tuple[str, ...]       # path components, root first
    family: str
    project: tuple[str, ...]     # the project folder's components


class _Catalog:
    """Every document's path parts, family and project, and the documents by file name."""

    def __init__(self, documents: list[_Document]) -> None:
        self.documents = documents
        self.by_name: dict[str, list[_Document]] = {}
        for document in documents:
            self.by_name.setdefault(document.parts[-1], []).append(document)


class ProjectFocus:
    """Which documents make up a file's project, and the model that counts them more."""

    def __init__(self, store_path: str, model: Model) -> None:
        self.model = model
        self._store_path = store_path
        self._catalog: _Catalog | None = None
        self._catalog_lock = threading.Lock()
        self._cache: OrderedDict[tuple[tuple[str, ...], str], Model] = OrderedDict()
        self._projects: OrderedDict[str, tuple[str, ...] | None] = OrderedDict()
        self._lock = threading.Lock()
        # Every document's path is read in the background from the start: the engine is
        # ready before (loading takes the same time whatever the corpus's size), and the
        # first request that names a file waits only for what is left.
        threading.Thread(target=self._catalog_quietly, name="project-catalog",
                         daemon=True).start()

    def _catalogue(self) -> _Catalog:
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = _Catalog(_read_documents(self._store_path))
            return self._catalog

    def _catalog_quietly(self) -> None:
        # A failure here is the request's to report: the one that needs the catalog reads
        # again and raises.
        with contextlib.suppress(Exception):
            self._catalogue()

    def model_for(self, language: str | None, filename: str | None) -> Model:
        """The model for completing ``filename`` (may be None) written in ``language``."""
        base = self.model.for_language(language)
        family = code_family(language)
        if not filename or family is None:
            return base
        project = self.project_of(filename)
        if project is None:
            return base
        return _remembered(self._cache, (project, family), CACHED_PROJECTS, self._lock,
                           lambda: self._build(base, project, family))

    def project_of(self, filename: str) -> tuple[str, ...] | None:
        """The project folder of a client's file name, or None if no ingested file is near."""
        return _remembered(self._projects, filename, CACHED_NAMES, self._lock,
                           lambda: self._find_project(filename))

    def _find_project(self, filename: str) -> tuple[str, ...] | None:
        parts = _parts(filename)
        if not parts:
            return None
        catalog = self._catalogue()
        # The same file (its longest matching tail wins), else a file of the same folder.
        best: tuple[int, _Document] | None = None
        for document in catalog.by_name.get(parts[-1], ()):
            shared = _shared_tail(document.parts, parts)
            if best is None or shared > best[0]:
                best = (shared, document)
        if best is not None and (best[0] >= 2 or len(parts) == 1):
            return best[1].project
        folder = parts[:-1]
        if not folder:
            return None
        best = None
        for document in catalog.documents:
            shared = _shared_tail(document.parts[:-1], folder)
            if shared and (best is None or shared > best[0]):
                best = (shared, document)
        return best[1].project if best is not None else None

    def _build(self, base: Model, project: tuple[str, ...], family: str) -> Model:
        members = [d.doc_id for d in self._catalogue().documents
                   if d.project == project and d.family == family]
        streams = _read_streams(self._store_path, members)
        tokens = sum(len(s) for s in streams)
        if not tokens or tokens > MAX_SHARE * base.tokens:
            return base
        segment: Segment = build_segment(streams, base.vocab_size)
        return base.extended([segment], base.params.context_weight)


Key = TypeVar("Key")
Value = TypeVar("Value")


def _remembered(cache: OrderedDict[Key, Value], key: Key, size: int, lock: threading.Lock,
                make: Callable[[], Value]) -> Value:
    """``cache[key]``, made (outside the lock: it may take long) when missing; the least
    recently used entries go once there are more than ``size``."""
    with lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with lock:
        cache[key] = value
        while len(cache) > size:
            cache.popitem(last=False)
    return value


_WINDOWS_SEPARATORS = re.compile(r"[\\/]")


def _parts(path: str) -> tuple[str, ...]:
    """A path's components, as pathlib's parts without the root and ``.`` (a Windows path,
    one with a backslash, splits at both slashes), by string splitting: the engine's load
    parses every document's path, and pathlib took most of that time."""
    pieces = _WINDOWS_SEPARATORS.split(path) if "\\" in path else path.split("/")
    return tuple(p for p in pieces if p not in ("", "."))


def _shared_tail(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    shared = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        shared += 1
    return shared


def _read_documents(store_path: str) -> list[_Document]:
    with Store(store_path, readonly=True) as store, store.snapshot() as conn:
        rows = cast(list[tuple[int, str, str, str]], conn.execute(
            "SELECT d.id, d.path, d.language, r.roots FROM documents d"
            " JOIN runs r ON r.id = d.run_id").fetchall())
    # Every run's roots are parsed once, not once a document.
    roots_of = functools.lru_cache(maxsize=None)(
        lambda roots: tuple(_parts(root) for root in json.loads(roots)))
    parsed = [(doc_id, _parts(path), family_of(language), roots_of(roots))
              for doc_id, path, language, roots in rows]
    marked = _marked_folders(parts for _, parts, _, _ in parsed)
    documents = []
    for doc_id, parts, family, roots in parsed:
        project = _nearest(parts[:-1], marked) or _root_of(parts, roots)
        documents.append(_Document(doc_id, parts, family, project))
    return documents


def _marked_folders(paths: Iterable[tuple[str, ...]]) -> set[tuple[str, ...]]:
    return {parts[:-1] for parts in paths
            if parts and (parts[-1] in MARKERS or parts[-1].endswith(MARKER_SUFFIXES))}


def _nearest(folder: tuple[str, ...], marked: set[tuple[str, ...]]) -> tuple[str, ...] | None:
    for end in range(len(folder), 0, -1):
        if folder[:end] in marked:
            return folder[:end]
    return None


def _root_of(parts: tuple[str, ...], roots: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    best: tuple[str, ...] = parts[:-1]
    found = False
    for root_parts in roots:
        if parts[:len(root_parts)] == root_parts and (not found or len(root_parts) > len(best)):
            # A file given as a root is a project of its own folder.
            best = root_parts if len(root_parts) < len(parts) else parts[:-1]
            found = True
    return best


def _read_streams(store_path: str, doc_ids: list[int]) -> list[np.ndarray]:
    if not doc_ids:
        return []
    with Store(store_path, readonly=True) as store, store.snapshot() as conn:
        rows = cast(list[tuple[bytes]], conn.execute(
            "SELECT tokens FROM document_tokens WHERE doc_id IN (SELECT value FROM"
            " json_each(?)) ORDER BY doc_id", (json.dumps(doc_ids),)).fetchall())
    return [unpack_tokens(blob) for blob, in rows]
