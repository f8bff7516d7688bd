"""Whether an ingest run marked ``running`` still has a process behind it.

An ingest holds an exclusive OS file lock (``<hypercube>.ingest.lock``, via ``filelock``) for
its whole run, and the operating system drops that lock when the process ends, however it
ends. So a run row that says ``running`` while the lock can be taken belongs to a process
that is gone: a crash, a kill, a power cut. Such runs are marked ``interrupted`` when the
store is opened for writing, and reported as interrupted when a read-only store lists them.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import filelock


def ingest_lock(db_path: Path) -> filelock.FileLock:
    """The lock an ingest run into ``db_path`` holds while it runs."""
    return filelock.FileLock(str(db_path) + ".ingest.lock")


def ingest_is_running(db_path: Path) -> bool | None:
    """True while some process holds the ingest lock, False if none does, None if the lock
    cannot be checked (a read-only folder where no lock file could be made)."""
    lock = ingest_lock(db_path)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return True
    except OSError:
        return None
    lock.release()
    return False


def interrupt_dead_runs(conn: apsw.Connection, db_path: Path) -> int:
    """Mark ``running`` runs whose process is gone as ``interrupted``; how many were."""
    if conn.execute("SELECT 1 FROM runs WHERE status = 'running' LIMIT 1").fetchone() is None:
        return 0
    lock = ingest_lock(db_path)
    try:
        lock.acquire(timeout=0)
    except (filelock.Timeout, OSError):
        return 0  # an ingest is running (or we cannot tell): leave its row alone
    try:
        # Under the lock no run can start or finish, so the rows cannot change meanwhile.
        # `finished` stays NULL: when the process died is not known.
        conn.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
        return conn.changes()
    finally:
        lock.release()
