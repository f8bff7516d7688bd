"""``/v1/files``: upload (multipart), list, retrieve, download and delete files.

Files hold batch input (``purpose: batch``) and batch results (``batch_output``); they live in
the hypercube file (migration 0004), so they survive restarts.
"""

from __future__ import annotations

import time
from typing import Any

import falcon

from app.api.http.body import Fields, query_int
from app.api.jobs.records import ApiRecords
from app.errors import InvalidRequest, PayloadTooLarge

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data")
MAX_LIST = 10_000


def file_object(record: dict[str, Any]) -> dict[str, Any]:
    result = {"object": "file", "status": "processed", **record}
    if result.get("expires_at") is None:
        result.pop("expires_at", None)
    return result


def list_object(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    page = items[:limit]
    return {"object": "list", "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit}


class FilesResource:
    accepts = ("multipart/form-data",)

    def __init__(self, records: ApiRecords) -> None:
        self.records = records

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = req.context.get("max_body_bytes")
        form = req.get_media()
        content: bytes | None = None
        filename = "upload"
        fields: dict[str, str] = {}
        for part in form:
            if part.name == "file":
                content = part.stream.read(limit + 1) if limit else part.stream.read()
                if limit and len(content) > limit:
                    raise PayloadTooLarge(f"the file is larger than the limit of {limit} bytes")
                filename = part.secure_filename if part.filename else filename
            else:
                fields[part.name] = part.get_text() or ""
        if content is None:
            raise InvalidRequest("you must provide 'file'", param="file")
        purpose = Fields(fields).string("purpose", required=True, choices=PURPOSES)
        assert purpose is not None
        expires_at = None
        seconds = fields.get("expires_after[seconds]")
        if seconds:
            try:
                expires_at = int(time.time()) + int(seconds)
            except ValueError:
                raise InvalidRequest("'expires_after[seconds]' must be an integer",
                                     param="expires_after") from None
        resp.media = file_object(self.records.add_file(filename, purpose, content, expires_at))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = Fields(dict(req.params))
        limit = query_int(req, "limit", MAX_LIST, 1, MAX_LIST)
        order = query.string("order", "desc", choices=("asc", "desc"))
        items = self.records.files(query.string("purpose"), limit + 1, order == "asc",
                                   query.string("after"))
        resp.media = list_object([file_object(r) for r in items], limit)


class FileResource:
    accepts = ()

    def __init__(self, records: ApiRecords) -> None:
        self.records = records

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        resp.media = file_object(self.records.file(file_id))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        self.records.delete_file(file_id)
        resp.media = {"id": file_id, "object": "file", "deleted": True}


class FileContentResource:
    accepts = ()

    def __init__(self, records: ApiRecords) -> None:
        self.records = records

    def on_get(self, req: falcon.Request, resp: falcon.Response, file_id: str) -> None:
        resp.data = self.records.file_content(file_id)
        resp.content_type = "application/octet-stream"

