"""The real server in a subprocess, and a client that asks it for completions as an IDE would.

``python -m app serve --db FILE --port 0`` prints the address it bound; the client polls
``/health`` until the model is loaded (no fixed sleep), then sends ``POST /v1/completions``
over one keep-alive connection and times each request on the client side.

The extension fields of the completion contract (``scope``, ``filename``, ``language``) are
sent only to a server that supports them: its ``/openapi.json`` declares ``scope``, or it
refuses a nonsense ``scope`` with a 400 naming the field. A server that ignores them, or
refuses them later, is measured without them and the run is marked "legacy".
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from tests.bench.completion_corpus import MeasuredCode

EXTENSION_FIELDS = ("scope", "filename", "language")
_SERVING = re.compile(r"serving .* on http://([\d.]+):(\d+)")
START_TIMEOUT = 600.0  # loading a large hypercube on a busy machine


class ServerProcess:
    """``hypercube serve`` on a free port, stopped (SIGTERM, then kill) on exit."""

    def __init__(self, db: Path, code: MeasuredCode) -> None:
        self.db, self.code = db, code
        self.host, self.port = "127.0.0.1", 0
        self._log: deque[str] = deque(maxlen=40)
        self._bound = threading.Event()

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--db", str(self.db), "--port", "0",
             "--quiet"],
            env=self.code.env, cwd=self.code.cwd, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._bound.wait(0.05):
            self._check_alive(deadline)
        while True:
            self._check_alive(deadline)
            try:
                status, body = Client(self.host, self.port).get("/health")
                if status == 200 and body.get("status") == "ok":
                    return self
            except OSError:
                pass
            time.sleep(0.05)

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._log.append(line.rstrip())
            found = _SERVING.search(line)
            if found and not self._bound.is_set():
                self.host, self.port = found.group(1), int(found.group(2))
                self._bound.set()

    def _check_alive(self, deadline: float) -> None:
        if self.process.poll() is not None:
            raise SystemExit(f"the server exited ({self.process.returncode}):\n"
                             + "\n".join(self._log))
        if time.monotonic() > deadline:
            self.__exit__()
            raise SystemExit(f"the server did not become ready in {START_TIMEOUT:.0f} s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Client:
    """JSON over one keep-alive HTTP connection."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=300)

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None

    def get(self, path: str) -> tuple[int, Any]:
        return self._send("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        data = json.dumps(body).encode()
        start = time.perf_counter()
        status, answer = self._send("POST", path, data)
        return status, answer, time.perf_counter() - start


class CompletionClient:
    """Completions for the benchmark's cases, each prompt cut to fit the model's context."""

    def __init__(self, server: ServerProcess) -> None:
        self.client = Client(server.host, server.port)
        _, models = self.client.get("/v1/models")
        model = models["data"][0]
        self.model, self.context_length = model["id"], int(model["context_length"])
        self.extensions = self._supports_extensions()
        self.refused_extensions = False

    @property
    def mode(self) -> str:
        return "extended" if self.extensions else "legacy"

    def _supports_extensions(self) -> bool:
        _, spec = self.client.get("/openapi.json")
        declared = (spec or {}).get("components", {}).get("schemas", {}) \
            .get("CompletionRequest", {}).get("properties", {})
        if "scope" in declared:
            return True
        status, answer, _ = self.client.post("/v1/completions", {
            "model": self.model, "prompt": "x", "max_tokens": 1, "temperature": 0,
            "scope": "no-such-scope"})
        return status == 400 and (answer or {}).get("error", {}).get("param") == "scope"

    def complete(self, prefix: str, suffix: str | None, max_tokens: int,
                 extensions: dict[str, str]) -> tuple[str, float]:
        """The completion's text and the request's wall time in seconds."""
        budget = (self.context_length - max_tokens) * 2  # characters; ≥ 2 per token on code
        for _ in range(8):
            prompt, after = window(prefix, suffix, budget)
            body: dict[str, Any] = {"model": self.model, "prompt": prompt,
                                    "max_tokens": max_tokens, "temperature": 0}
            if after is not None:
                body["suffix"] = after
            if self.extensions:
                body.update(extensions)
            status, answer, seconds = self.client.post("/v1/completions", body)
            if status == 200:
                return answer["choices"][0]["text"], seconds
            error = (answer or {}).get("error", {})
            if error.get("code") == "context_length_exceeded":
                budget //= 2
            elif status == 400 and self.extensions and error.get("param") in EXTENSION_FIELDS:
                self.extensions, self.refused_extensions = False, True
            else:
                raise SystemExit(f"POST /v1/completions: {status} {error}")
        raise SystemExit("the prompt never fitted the model's context")


def window(prefix: str, suffix: str | None, budget: int) -> tuple[str, str | None]:
    """The end of the prefix and the start of the suffix that fit ``budget`` characters,
    cut at line boundaries; the prefix gets three quarters unless the suffix needs less."""
    suffix_budget = 0 if suffix is None else min(len(suffix), budget // 4)
    prefix_budget = budget - suffix_budget
    if len(prefix) > prefix_budget:
        cut = len(prefix) - prefix_budget
        newline = prefix.find("\n", cut)
        prefix = prefix[newline + 1:] if newline >= 0 else prefix[cut:]
    if suffix is not None and len(suffix) > suffix_budget:
        newline = suffix.rfind("\n", 0, suffix_budget)
        suffix = suffix[:newline] if newline > 0 else suffix[:suffix_budget]
    return prefix, suffix
