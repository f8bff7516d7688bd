"""Run code when a response is really over, streamed bodies included.

Falcon's ``process_response`` runs before a streamed body is sent, so the access log, the
latency histogram and the in-flight gauge would all close too early for an SSE stream. A
streamed body is wrapped so its callbacks run when the server closes it (finished, or cut
off by a disconnecting client); any other response runs them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import falcon


class ClosingBody:
    """An iterable body that calls ``on_close`` exactly once when the server closes it
    (WSGI servers call ``close`` on every body, whether it was sent whole or cut off)."""

    def __init__(self, body: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._body = body
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            callback, self._on_close = self._on_close, None
            if callback is not None:
                callback()


def when_finished(resp: falcon.Response, callback: Callable[[], None]) -> None:
    """Call ``callback`` once the body of ``resp`` has been sent (or abandoned)."""
    stream = resp.stream
    if stream is not None and not hasattr(stream, "read"):
        resp.stream = ClosingBody(stream, callback)
    else:
        callback()


def is_streamed(resp: falcon.Response) -> bool:
    return resp.stream is not None
