"""A :class:`ClientWatch` for an HTTP request served by Waitress.

Waitress's ``waitress.client_disconnected`` turns true only once a write to the connection
failed, so a non-streamed answer, which writes nothing until it is done, would run to its
``max_tokens`` after its client left (19 s of work after a 2 s client timeout, stalling
others). So the watch also looks at the socket itself: a peer that closed its end makes the
socket readable with nothing to read. While a request is served Waitress reads nothing more
from its connection (``channel_request_lookahead`` is off), and a peek consumes nothing, so
a pipelined next request stays where it is.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import Any

import falcon

from app.api.http.metrics import ApiMetrics
from app.api.openai.generation import ClientWatch

# How often the socket is looked at: a poll costs a system call, a token a few microseconds.
POLL_SECONDS = 0.05


def peer_closed(sock: socket.socket) -> bool:
    """Whether the other end closed the connection (without blocking)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):  # reset by the peer, or already closed here
        return True


class _SocketWatch:
    """``is_gone`` for one request: Waitress's flag, else a peek at the socket now and then."""

    def __init__(self, flag: Callable[[], bool] | None, sock: socket.socket | None) -> None:
        self._flag = flag
        self._sock = sock
        self._next_poll = 0.0

    def __call__(self) -> bool:
        if self._flag is not None and self._flag():
            return True
        if self._sock is None:
            return False
        now = time.monotonic()
        if now < self._next_poll:
            return False
        self._next_poll = now + POLL_SECONDS
        return peer_closed(self._sock)


def _socket_of(flag: Any) -> socket.socket | None:
    # The flag is the bound method ``HTTPChannel.check_client_disconnected``.
    channel = getattr(flag, "__self__", None)
    sock = getattr(channel, "socket", None)
    return sock if isinstance(sock, socket.socket) else None


def client_watch(req: falcon.Request, metrics: ApiMetrics) -> ClientWatch:
    flag = req.env.get("waitress.client_disconnected")
    return ClientWatch(_SocketWatch(flag, _socket_of(flag)), metrics.cancelled.inc)
