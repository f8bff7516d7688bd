"""``/v1/batches``: create, retrieve, list and cancel batches (run by :mod:`batch_worker`)."""

from __future__ import annotations

import time
from typing import Any

import falcon
import orjson

from app.api.http.body import query_int, read_json
from app.api.jobs.batch_worker import BatchWorker
from app.api.jobs.contract import WINDOW_SECONDS, BatchBody
from app.api.jobs.records import ApiRecords
from app.api.openai.contract import read
from app.errors import InvalidRequest

MAX_LIST = 100
_TIMES = ("expires_at", "in_progress_at", "finalizing_at", "completed_at", "failed_at",
          "expired_at", "cancelling_at", "cancelled_at")


def batch_object(row: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's batch object; fields not yet reached are left out rather than null, as the
    specification types them."""
    result: dict[str, Any] = {
        "id": row["id"], "object": "batch", "endpoint": row["endpoint"],
        "input_file_id": row["input_file_id"], "completion_window": row["completion_window"],
        "status": row["status"], "created_at": row["created_at"],
        "request_counts": {"total": row["total"], "completed": row["completed"],
                           "failed": row["failed"]},
        "usage": {"input_tokens": row["input_tokens"],
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": row["output_tokens"],
                  "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": row["input_tokens"] + row["output_tokens"]},
    }
    for name in ("model", "output_file_id", "error_file_id", *_TIMES):
        if row[name] is not None:
            result[name] = row[name]
    if row["errors"]:
        result["errors"] = {"object": "list", "data": orjson.loads(row["errors"])}
    if row["metadata"]:
        result["metadata"] = orjson.loads(row["metadata"])
    return result


class BatchesResource:
    def __init__(self, records: ApiRecords, worker: BatchWorker) -> None:
        self.records = records
        self.worker = worker

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        asked = read(BatchBody, read_json(req))
        if self.records.file(asked.input_file_id)["purpose"] != "batch":
            raise InvalidRequest(f"file {asked.input_file_id} was not uploaded with purpose "
                                 "'batch'", param="input_file_id")
        window = asked.completion_window
        row = self.records.add_batch(asked.endpoint, asked.input_file_id, window,
                                     asked.metadata, int(time.time()) + WINDOW_SECONDS[window])
        self.worker.submit(row["id"])
        resp.media = batch_object(row)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = query_int(req, "limit", 20, 1, MAX_LIST)
        rows = self.records.batches(limit + 1, req.get_param("after"))
        page = [batch_object(r) for r in rows[:limit]]
        result: dict[str, Any] = {"object": "list", "data": page, "has_more": len(rows) > limit}
        if page:
            result.update(first_id=page[0]["id"], last_id=page[-1]["id"])
        resp.media = result


class BatchResource:
    accepts = ()

    def __init__(self, records: ApiRecords) -> None:
        self.records = records

    def on_get(self, req: falcon.Request, resp: falcon.Response, batch_id: str) -> None:
        resp.media = batch_object(self.records.batch(batch_id))


class BatchCancelResource:
    accepts = ()

    def __init__(self, records: ApiRecords) -> None:
        self.records = records

    def on_post(self, req: falcon.Request, resp: falcon.Response, batch_id: str) -> None:
        self.records.batch(batch_id)  # 404 for an unknown id
        # A batch that already ended stays as it is; the worker finishes a cancelling one.
        self.records.set_status(batch_id, "cancelling",
                                unless=("completed", "failed", "expired", "cancelled"))
        resp.media = batch_object(self.records.batch(batch_id))
