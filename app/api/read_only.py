"""What a read-only server answers where it would have to write (``serve --read-only``).

A replica serves a snapshot from a read-only mount: uploads, batches and ingestion would
all write to the hypercube, so their routes stay in place (clients get a clear reason,
not a 404 that suggests a wrong URL) and every method answers 403 ``read_only``.
"""

from __future__ import annotations

import falcon

from app.errors import ReadOnly

MESSAGE = ("this server serves a read-only hypercube (`hypercube serve --read-only`): {what} "
           "need a writable one — use the server that ingests, or serve a writable copy")


class ReadOnlyResource:
    """Refuses every method of a writing route."""

    accepts = ()

    def __init__(self, what: str) -> None:
        self.what = what

    def _refuse(self, req: falcon.Request, resp: falcon.Response, **_: object) -> None:
        raise ReadOnly(MESSAGE.format(what=self.what))

    on_get = on_post = on_put = on_patch = on_delete = _refuse
