"""Ingestion over HTTP (admin; the desktop UI uses it).

- ``POST /v1/ingest`` ``{"paths": [...], "prune": false, "workers": 1}``: start a run over
  server-local paths (202 with the run), only inside the operator's ``--ingest-root`` folders
  (none by default: then 403 saying how to allow one); ``workers`` processes prepare the files
  (default 1, at most the server's CPU cores: the cores also answer requests);
- ``GET /v1/ingest``: recent runs with their summaries;
- ``GET /v1/ingest/{run_id}``: one run, with live progress while it runs;
- ``GET /v1/ingest/{run_id}/events``: its progress as server-sent events, then ``[DONE]``;
- ``POST /v1/ingest/{run_id}/cancel``: stop it after the current batch of files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import falcon

from app.api.http import sse
from app.api.http.body import query_int, read_json
from app.api.ingest_contract import IngestBody
from app.api.ingest_jobs import IngestManager
from app.api.openai.contract import read
from app.errors import InvalidRequest, PermissionDenied
from app.paths import is_within, resolve_user_path

# How often a progress stream looks for news.
_POLL_SECONDS = 0.2


class IngestResource:
    """Starts runs over folders inside ``allowed_roots`` (resolved folders) only."""

    def __init__(self, manager: IngestManager, allowed_roots: tuple[Path, ...] = ()) -> None:
        self.manager = manager
        self.allowed_roots = allowed_roots

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self.allowed_roots:
            raise PermissionDenied(
                "ingestion over HTTP is off: start the server with --ingest-root FOLDER "
                "(or HYPERCUBE_INGEST_ROOT) to allow ingesting from that folder, or run "
                "'hypercube ingest PATH' on the server", code="ingest_disabled")
        asked = read(IngestBody, read_json(req))
        roots = [self._allowed(p) for p in asked.paths]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            raise InvalidRequest(f"no such file or folder on the server: {missing[0]}",
                                 param="paths")
        job = self.manager.start(roots, asked.prune, asked.workers)
        assert job.run_id is not None
        resp.status = falcon.HTTP_202
        resp.media = self.manager.run(job.run_id)

    def _allowed(self, text: str) -> Path:
        """The path resolved (``~user``, ``..``, symlinks) before it is compared, so no
        spelling of it leads outside the roots. Nothing is said of whether a path outside
        exists."""
        path = resolve_user_path(text, param="paths")
        if not any(is_within(path, root) for root in self.allowed_roots):
            shown = ", ".join(str(r) for r in self.allowed_roots)
            raise PermissionDenied(f"{text} is outside the folders this server may ingest "
                                   f"from ({shown}); see --ingest-root", param="paths",
                                   code="outside_ingest_roots")
        return path

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"object": "list",
                      "data": self.manager.runs(query_int(req, "limit", 20, 1, 1000))}


class IngestRunResource:
    accepts = ()

    def __init__(self, manager: IngestManager) -> None:
        self.manager = manager

    def on_get(self, req: falcon.Request, resp: falcon.Response, run_id: int) -> None:
        resp.media = self.manager.run(run_id)


class IngestCancelResource:
    accepts = ()

    def __init__(self, manager: IngestManager) -> None:
        self.manager = manager

    def on_post(self, req: falcon.Request, resp: falcon.Response, run_id: int) -> None:
        self.manager.cancel(run_id)
        job = self.manager.job(run_id)
        if job is not None:
            self.manager.wait(job, timeout=30)
        resp.media = self.manager.run(run_id)


class IngestEventsResource:
    accepts = ()

    def __init__(self, manager: IngestManager) -> None:
        self.manager = manager

    def on_get(self, req: falcon.Request, resp: falcon.Response, run_id: int) -> None:
        first = self.manager.run(run_id)  # 404 before the stream starts
        sse.start(resp)
        resp.stream = self._events(run_id, first)

    def _events(self, run_id: int, first: dict[str, object]) -> Iterator[bytes]:
        yield sse.event(first)
        job = self.manager.job(run_id)
        seen = -1 if job is None else job.changes
        while job is not None and not job.finished.is_set():
            time.sleep(_POLL_SECONDS)
            if job.changes != seen:
                seen = job.changes
                yield sse.event(self.manager.run(run_id))
        if job is not None:
            yield sse.event(self.manager.run(run_id))
        yield sse.DONE
