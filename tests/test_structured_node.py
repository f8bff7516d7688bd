"""The Vercel AI SDK under Node against the real server (tests/js/ai_sdk.mjs): generateObject
and tool calls, streamed and not."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.api_helpers import Running, shared_engine, shared_hypercube, start_server

JS = Path(__file__).resolve().parent / "js"
WEATHER = {"type": "object", "required": ["city", "unit"], "additionalProperties": False,
           "properties": {"city": {"type": "string"},
                          "unit": {"enum": ["celsius", "fahrenheit"]}}}


@pytest.fixture(scope="module")
def script() -> Path:
    """tests/js with its node_modules (installed from the lock file if missing)."""
    npm = shutil.which("npm")
    assert shutil.which("node") and npm, "Node.js and npm are needed for the AI SDK test"
    if not (JS / "node_modules" / "ai").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=JS, check=True,
                       timeout=300)
    return JS / "ai_sdk.mjs"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def test_vercel_ai_sdk_objects_and_tools(server: Running, script: Path) -> None:
    result = subprocess.run(["node", str(script), server.url + "/v1", server.model],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    obj = report["object"]
    assert obj["finishReason"] == "stop"
    assert set(obj["value"]) == {"name", "age", "role"}
    assert isinstance(obj["value"]["age"], int) and obj["value"]["role"] in ("user", "admin")
    assert obj["usage"]["outputTokens"] > 0

    call = report["toolCall"]
    assert call["finishReason"] == "tool-calls"
    (first,) = call["calls"]
    assert first["name"] == "get_weather" and first["id"].startswith("call_")
    jsonschema.validate(first["input"], WEATHER)

    streamed = report["streamedCall"]
    assert streamed["finishReason"] == "tool-calls"
    assert streamed["deltas"] > 1
    assert streamed["calls"] == [{"name": "get_weather", "input": first["input"]}]

    assert report["noTool"]["calls"] == 0
    assert isinstance(report["noTool"]["text"], str)
