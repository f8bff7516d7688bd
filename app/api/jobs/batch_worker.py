"""Runs OpenAI batches in the background, one request at a time, resumable after a restart.

A batch moves validating → in_progress → finalizing → completed (or failed, or cancelling →
cancelled). Each request's result is stored as soon as it is made (see
:mod:`app.api.jobs.records`), so a server that stops mid-batch continues from the next unanswered
line when it starts again. The output and error files are written at the end.

The worker is supervised (see :mod:`app.api.runtime.supervision`): a fault that may pass (a full
disk, a locked file) is retried with backoff while ``/health`` reports it; when the retries
run out, or the fault will not pass, the batch is marked ``failed`` with an OpenAI error
object (and the output and error files of the requests already answered, so nothing done is
lost). If even that cannot be written, the worker keeps trying to record it, and a fault
outside any batch restarts the worker's loop instead of ending its thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import orjson

from app.api.http.body import json_type
from app.api.jobs.dispatch import Services
from app.api.jobs.records import ApiRecords
from app.api.openai.generation import ClientWatch
from app.api.openai.identity import new_id
from app.api.runtime.engine_slot import EngineSlot
from app.api.runtime.supervision import Backoff, WorkerStatus, is_transient, reason_of
from app.engine.types import EngineProtocol
from app.errors import HypercubeError, NotReady

log = logging.getLogger("hypercube.batches")

# The most requests one batch file may hold (OpenAI allows 50,000).
MAX_FILE_REQUESTS = 50_000
DEFAULT_BACKOFF = Backoff(1.0, 60.0)


class BatchInvalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = errors


def parse_input(content: bytes, endpoint: str) -> list[tuple[str, dict[str, Any]]]:
    """The (custom_id, body) of every line, or :class:`BatchInvalid` naming each bad line."""
    requests: list[tuple[str, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        errors.append(_problem("empty_file", "the input file holds no requests", None))
    if len(lines) > MAX_FILE_REQUESTS:
        errors.append(_problem("too_many_requests",
                               f"a batch may hold at most {MAX_FILE_REQUESTS} requests", None))
    for number, line in enumerate(lines, start=1):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            errors.append(_problem("invalid_json_line", "this line is not valid JSON", number))
            continue
        if not isinstance(item, dict):
            errors.append(_problem("invalid_request", f"a line must be an object, not "
                                                      f"{json_type(item)}", number))
            continue
        custom_id, url, body = item.get("custom_id"), item.get("url"), item.get("body")
        if not isinstance(custom_id, str) or not custom_id:
            errors.append(_problem("missing_required_parameter", "'custom_id' must be a "
                                   "non-empty string", number, "custom_id"))
        elif custom_id in seen:
            errors.append(_problem("duplicate_custom_id", f"custom_id {custom_id!r} is used "
                                   "twice", number, "custom_id"))
        if item.get("method", "POST") != "POST":
            errors.append(_problem("invalid_method", "'method' must be POST", number, "method"))
        if url != endpoint:
            errors.append(_problem("mismatched_url", f"'url' must be the batch's endpoint "
                                   f"{endpoint}, not {url!r}", number, "url"))
        if not isinstance(body, dict):
            errors.append(_problem("invalid_request", "'body' must be an object", number,
                                   "body"))
        if isinstance(custom_id, str):
            seen.add(custom_id)
        # (The checks above have put an error in for a custom_id or body of another type.)
        if not errors and isinstance(custom_id, str) and isinstance(body, dict):
            requests.append((custom_id, body))
    if errors:
        raise BatchInvalid(errors)
    return requests


def _problem(code: str, message: str, line: int | None,
             param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


class BatchWorker:
    """One daemon thread that works through queued batches in order."""

    def __init__(self, records: ApiRecords, slot: EngineSlot, services: Services, *,
                 backoff: Backoff = DEFAULT_BACKOFF, attempts: int = 6) -> None:
        """
        Args:
            backoff: the pauses between retries of a batch that met a passing fault.
            attempts: how often a batch is tried before it is marked failed (with the
                default backoff, about a minute of faults).
        """
        self.records = records
        self.slot = slot
        self.services = services
        self.backoff = backoff
        self.attempts = attempts
        self.status = WorkerStatus("batches")
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        """Resume unfinished batches, then take new ones."""
        self._thread = threading.Thread(target=self._supervise, name="hypercube-batches",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the request in progress; unfinished batches resume at the next start."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, batch_id: str) -> None:
        self._queue.put(batch_id)

    # -- supervision --------------------------------------------------------------------

    def _supervise(self) -> None:
        """Run the loop; restart it after a pause whenever a fault escapes it."""
        restarts = 0
        resume = True
        while not self._stop.is_set():
            try:
                if resume:  # reading the unfinished batches can fail too: then retry it
                    for batch_id in self.records.unfinished_batches():
                        self._queue.put(batch_id)
                    resume = False
                self._loop()
                return
            except Exception as exc:
                restarts += 1
                delay = self.backoff.delay(restarts)
                log.exception("the batch worker met a fault; restarting in %.1fs", delay)
                self.status.fault(f"the batch worker restarts after a fault: "
                                  f"{reason_of(exc)}", delay)
                self._stop.wait(delay)

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch_id = self._queue.get()
            if batch_id is None:
                return
            self._attempt(batch_id)

    def _attempt(self, batch_id: str) -> None:
        """Run one batch, retrying passing faults; a batch that cannot finish is failed."""
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                self._run(batch_id)
                self.status.recovered()
                return
            except Exception as exc:
                transient = is_transient(exc)
                if transient and attempt < self.attempts:
                    delay = self.backoff.delay(attempt)
                    log.warning("batch %s: %s; retrying in %.1fs", batch_id, reason_of(exc),
                                delay)
                    self.status.fault(f"batch {batch_id}: {reason_of(exc)}; retry "
                                      f"{attempt} of {self.attempts - 1}", delay)
                    self._stop.wait(delay)
                    continue
                if not transient:  # one broken batch must not stop the others
                    log.exception("batch %s failed", batch_id)
                self._fail(batch_id, exc)
                return

    def _fail(self, batch_id: str, exc: Exception) -> None:
        """Mark the batch failed, trying again until that is written (or the worker stops:
        then it resumes, and is retried, at the next start)."""
        code = getattr(exc, "code", None) if is_transient(exc) else None
        message = (f"the batch failed on the server: {reason_of(exc)}" if is_transient(exc)
                   else "the batch failed on the server")
        problem = _problem(code or "server_error", message, None)
        attempt = 0
        while not self._stop.is_set():
            try:
                self._finish(batch_id, failed=problem)
                self.status.fault(f"batch {batch_id} failed: {reason_of(exc)}")
                self.status.recovered()  # the worker works again; last_fault keeps the story
                return
            except Exception as record_exc:
                attempt += 1
                delay = self.backoff.delay(attempt)
                log.warning("cannot record that batch %s failed: %s; retrying in %.1fs",
                            batch_id, reason_of(record_exc), delay)
                self.status.fault(f"batch {batch_id} failed ({reason_of(exc)}) and that "
                                  f"cannot be recorded yet: {reason_of(record_exc)}", delay)
                self._stop.wait(delay)

    def _run(self, batch_id: str) -> None:
        batch = self.records.batch(batch_id)
        try:
            requests = parse_input(self.records.file_content(batch["input_file_id"]),
                                   batch["endpoint"])
        except BatchInvalid as exc:
            self.records.update_batch(batch_id, status="failed", failed_at=int(time.time()),
                                      errors=orjson.dumps(exc.errors).decode())
            return
        self.records.update_batch(batch_id, total=len(requests))
        moved = self.records.set_status(
            batch_id, "in_progress", unless=("cancelling", "cancelled", "in_progress",
                                             "finalizing"))
        if not moved and self.records.batch(batch_id)["status"] in ("cancelling", "cancelled"):
            return self._finish(batch_id, cancelled=True)
        done = self.records.done_lines(batch_id)
        for line, (custom_id, body) in enumerate(requests):
            if line in done:
                continue
            if self.records.batch(batch_id)["status"] == "cancelling":
                return self._finish(batch_id, cancelled=True)
            engine = self._engine()
            if engine is None:  # shutting down: the batch resumes at the next start
                return None
            self._answer(engine, batch_id, batch["endpoint"], line, custom_id, body)
        self.records.set_status(batch_id, "finalizing")
        return self._finish(batch_id, cancelled=False)

    def _answer(self, engine: EngineProtocol, batch_id: str, endpoint: str, line: int,
                custom_id: str, body: dict[str, Any]) -> None:
        request_id = new_id("req_")
        try:
            response = self.services.execute(engine, endpoint, body, ClientWatch())
            status, ok = 200, True
        except HypercubeError as exc:
            response, status, ok = exc.to_openai(), exc.status, False
        usage = response.get("usage") or {}
        result = {"id": new_id("batch_req_"), "custom_id": custom_id,
                  "response": {"status_code": status, "request_id": request_id,
                               "body": response},
                  "error": None}
        self.records.add_result(batch_id, line, ok, orjson.dumps(result),
                                usage.get("prompt_tokens", 0),
                                usage.get("completion_tokens", 0))

    def _engine(self) -> EngineProtocol | None:
        """The current engine, waiting while it loads; None once the worker is stopping."""
        while not self._stop.is_set():
            try:
                return self.slot.get()
            except NotReady:
                self._stop.wait(0.2)
        return None

    def _finish(self, batch_id: str, *, cancelled: bool = False,
                failed: dict[str, Any] | None = None) -> None:
        """End the batch (completed, cancelled, or failed with ``failed`` as its error),
        with the output and error files of every request answered."""
        if self.records.batch(batch_id)["status"] in ("completed", "failed", "cancelled"):
            return  # ended by an earlier attempt whose answer was lost
        now = int(time.time())
        if failed is not None:
            fields: dict[str, Any] = dict(status="failed", failed_at=now,
                                          errors=orjson.dumps([failed]).decode())
        elif cancelled:
            fields = dict(status="cancelled", cancelled_at=now)
        else:
            fields = dict(status="completed", completed_at=now)
        self.records.end_batch(batch_id, fields)
