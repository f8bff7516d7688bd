"""Schemathesis over our own ``/openapi.json``: every operation but ingest (which reads server
folders and has its own tests) gets generated requests, valid and invalid ones, against the
real server; none may get a 5xx, and every response must match what the document says of
its status, content type, headers and body.

Bounded: a few examples per operation and mode, derandomised (the same requests each run),
on a server whose per-request work cap keeps generated completions short.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api import ApiSettings
from tests.api_helpers import Running, get_json, shared_engine, shared_hypercube, start_server

EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Invalid requests must be refused with a 4xx; what they get is not described by the success
# schemas, so only these apply to them.
NEGATIVE_CHECKS = [not_a_server_error, content_type_conformance]
# Sent with every request: an upload needs a key header (any value on a keyless server).
HEADERS = {"Authorization": "Bearer fuzz"}


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    settings_ = ApiSettings(max_request_tokens=2048)
    running = start_server(shared_hypercube(), settings_, engine=shared_engine())
    yield running
    running.stop()


def operations(document: dict[str, Any]) -> list[Any]:
    # /slots answers 501 on purpose: llama.cpp's own refusal when it keeps no slots
    # (tests/test_dialect_llamacpp.py checks it).
    schema = schemathesis.openapi.from_dict(document).exclude(
        path_regex="^/v1/ingest|^/slots$")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_generated_request_gets_a_server_error(server: Running) -> None:
    status, document = get_json(server.url, "/openapi.json")
    assert status == 200
    ops = operations(document)
    assert len(ops) >= 20
    assert not any(op.path.startswith("/v1/ingest") for op in ops)
    statuses: Counter[int] = Counter()
    session = requests.Session()
    failures: list[str] = []

    def fuzz(operation: Any, mode: GenerationMode, examples: int) -> None:
        checks = CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            response = case.call(base_url=server.url, session=session, headers=HEADERS,
                                 timeout=30)
            statuses[response.status_code] += 1
            try:
                case.validate_response(response, checks=checks, headers=HEADERS)
            except BaseException as exc:  # recorded, not raised: no shrinking, go on
                failures.append(f"{case.method} {case.formatted_path} ({mode.value}) → "
                                f"{response.status_code} {response.text[:300]!r}: "
                                f"{exc}"[:1500])

        try:
            run()
        except Unsatisfiable:  # no invalid request exists (an operation without inputs)
            pass
        except Exception as exc:  # the strategy itself failed
            failures.append(f"{operation.label} ({mode.value}): {exc!r}"[:1500])

    for operation in ops:
        for mode, examples in EXAMPLES.items():
            fuzz(operation, mode, examples)

    total = sum(statuses.values())
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    print(json.dumps({"requests": total, "server_errors": server_errors,
                      "statuses": dict(sorted(statuses.items()))}))
    assert not failures, "\n\n".join(failures)
    assert server_errors == 0
    assert total >= 200
