"""The API's persisted records (migration 0004): uploaded files, batches and batch results.

It keeps its own connection to the hypercube file, so batch bookkeeping never waits behind a
long read or write elsewhere in the server.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from app.errors import NotFound, StoreCorrupt
from app.store import Store
from app.store.checksums import blob_checksum

BATCH_COLUMNS = (
    "id", "endpoint", "input_file_id", "completion_window", "status", "created_at",
    "expires_at", "in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
    "cancelling_at", "cancelled_at", "output_file_id", "error_file_id", "errors", "metadata",
    "model", "total", "completed", "failed", "input_tokens", "output_tokens",
)
FILE_COLUMNS = ("id", "filename", "purpose", "bytes", "created_at", "expires_at")
UNFINISHED = ("validating", "in_progress", "finalizing", "cancelling")


def new_record_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


class ApiRecords:
    def __init__(self, path: Path) -> None:
        self.store = Store(path)

    def close(self) -> None:
        self.store.close()

    # -- files --------------------------------------------------------------------------

    def add_file(self, filename: str, purpose: str, content: bytes,
                 expires_at: int | None = None) -> dict[str, Any]:
        record = {"id": new_record_id("file-"), "filename": filename, "purpose": purpose,
                  "bytes": len(content), "created_at": int(time.time()),
                  "expires_at": expires_at}
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO api_files(id, filename, purpose, bytes, created_at, expires_at,"
                " content, checksum) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                (*record.values(), content, blob_checksum(content)),
            )
        return record

    def file(self, file_id: str) -> dict[str, Any]:
        with self.store.snapshot() as conn:
            row = conn.execute(f"SELECT {', '.join(FILE_COLUMNS)} FROM api_files WHERE id = ?",
                               (file_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such File object: {file_id}", param="file_id")
        return dict(zip(FILE_COLUMNS, row, strict=True))

    def file_content(self, file_id: str) -> bytes:
        with self.store.snapshot() as conn:
            row = conn.execute("SELECT content, checksum FROM api_files WHERE id = ?",
                               (file_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such File object: {file_id}", param="file_id")
        if blob_checksum(row[0]) != row[1]:
            raise StoreCorrupt(f"the stored content of file {file_id} is damaged (it does not "
                               "match its checksum); upload it again")
        return bytes(row[0])

    def files(self, purpose: str | None, limit: int, ascending: bool,
              after: str | None) -> list[dict[str, Any]]:
        clauses, bindings = self._page("api_files", after, ascending)
        if purpose is not None:
            clauses.append("purpose = ?")
            bindings.append(purpose)
        return self._select("api_files", FILE_COLUMNS, clauses, bindings, ascending, limit)

    def delete_file(self, file_id: str) -> None:
        with self.store.write() as conn:
            conn.execute("DELETE FROM api_files WHERE id = ?", (file_id,))
            if conn.changes() == 0:
                raise NotFound(f"No such File object: {file_id}", param="file_id")

    # -- batches ------------------------------------------------------------------------

    def add_batch(self, endpoint: str, input_file_id: str, completion_window: str,
                  metadata: dict[str, str] | None, expires_at: int) -> dict[str, Any]:
        batch_id = new_record_id("batch_")
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO api_batches(id, endpoint, input_file_id, completion_window, status,"
                " created_at, expires_at, metadata) VALUES(?, ?, ?, ?, 'validating', ?, ?, ?)",
                (batch_id, endpoint, input_file_id, completion_window, int(time.time()),
                 expires_at, None if metadata is None else orjson.dumps(metadata).decode()),
            )
        return self.batch(batch_id)

    def batch(self, batch_id: str) -> dict[str, Any]:
        with self.store.snapshot() as conn:
            row = conn.execute(
                f"SELECT {', '.join(BATCH_COLUMNS)} FROM api_batches WHERE id = ?", (batch_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"No such Batch object: {batch_id}", param="batch_id")
        return dict(zip(BATCH_COLUMNS, row, strict=True))

    def batches(self, limit: int, after: str | None) -> list[dict[str, Any]]:
        clauses, bindings = self._page("api_batches", after, ascending=False)
        return self._select("api_batches", BATCH_COLUMNS, clauses, bindings, False, limit)

    def unfinished_batches(self) -> list[str]:
        marks = ", ".join("?" * len(UNFINISHED))
        with self.store.snapshot() as conn:
            return [r[0] for r in conn.execute(
                f"SELECT id FROM api_batches WHERE status IN ({marks}) ORDER BY created_at, id",
                UNFINISHED)]

    def update_batch(self, batch_id: str, **fields: Any) -> None:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.store.write() as conn:
            conn.execute(f"UPDATE api_batches SET {assignments} WHERE id = ?",
                         (*fields.values(), batch_id))

    def end_batch(self, batch_id: str, fields: dict[str, Any]) -> None:
        """Store the batch's output and error files (of the results so far) and set
        ``fields`` (its final status), in one transaction: a batch ends whole or not at all."""
        with self.store.write() as conn:
            for ok, kind, column in ((True, "output", "output_file_id"),
                                     (False, "error", "error_file_id")):
                lines = [r[0] for r in conn.execute(
                    "SELECT result FROM api_batch_results WHERE batch_id = ? AND ok = ? "
                    "ORDER BY line", (batch_id, int(ok)))]
                if lines:
                    content = "".join(line + "\n" for line in lines).encode()
                    file_id = new_record_id("file-")
                    conn.execute(
                        "INSERT INTO api_files(id, filename, purpose, bytes, created_at,"
                        " content, checksum) VALUES(?, ?, 'batch_output', ?, ?, ?, ?)",
                        (file_id, f"{batch_id}_{kind}.jsonl", len(content), int(time.time()),
                         content, blob_checksum(content)))
                    fields = {**fields, column: file_id}
            assignments = ", ".join(f"{name} = ?" for name in fields)
            conn.execute(f"UPDATE api_batches SET {assignments} WHERE id = ?",
                         (*fields.values(), batch_id))

    def set_status(self, batch_id: str, status: str, *, unless: Iterable[str] = ()) -> bool:
        """Move to ``status`` (stamping ``<status>_at``) unless the batch is in ``unless``."""
        blocked = list(unless)
        marks = ", ".join("?" * len(blocked)) or "NULL"
        stamp = f", {status}_at = ?" if f"{status}_at" in BATCH_COLUMNS else ""
        with self.store.write() as conn:
            conn.execute(
                f"UPDATE api_batches SET status = ?{stamp} WHERE id = ? AND status NOT IN "
                f"({marks})",
                (status, *([int(time.time())] if stamp else []), batch_id, *blocked),
            )
            return conn.changes() > 0

    def add_result(self, batch_id: str, line: int, ok: bool, result: bytes,
                   input_tokens: int, output_tokens: int) -> None:
        """Store one request's result and count it, in one transaction."""
        counter = "completed" if ok else "failed"
        with self.store.write() as conn:
            conn.execute("INSERT OR REPLACE INTO api_batch_results(batch_id, line, ok, result)"
                         " VALUES(?, ?, ?, ?)", (batch_id, line, int(ok), result.decode()))
            conn.execute(
                f"UPDATE api_batches SET {counter} = {counter} + 1,"
                " input_tokens = input_tokens + ?, output_tokens = output_tokens + ?"
                " WHERE id = ?", (input_tokens, output_tokens, batch_id))

    def done_lines(self, batch_id: str) -> set[int]:
        with self.store.snapshot() as conn:
            return {r[0] for r in conn.execute(
                "SELECT line FROM api_batch_results WHERE batch_id = ?", (batch_id,))}

    # -- paging -------------------------------------------------------------------------

    def _page(self, table: str, after: str | None,
              ascending: bool) -> tuple[list[str], list[Any]]:
        if after is None:
            return [], []
        with self.store.snapshot() as conn:
            row = conn.execute(f"SELECT created_at, id FROM {table} WHERE id = ?",
                               (after,)).fetchone()
        if row is None:
            raise NotFound(f"no object with id {after}", param="after")
        op = ">" if ascending else "<"
        return [f"(created_at, id) {op} (?, ?)"], list(row)

    def _select(self, table: str, columns: tuple[str, ...], clauses: list[str],
                bindings: list[Any], ascending: bool, limit: int) -> list[dict[str, Any]]:
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if ascending else "DESC"
        with self.store.snapshot() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table}{where} "
                f"ORDER BY created_at {order}, id {order} LIMIT ?", (*bindings, limit))
            return [dict(zip(columns, row, strict=True)) for row in rows]
