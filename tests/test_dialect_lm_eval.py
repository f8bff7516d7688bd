"""EleutherAI's lm-evaluation-harness (the real ``lm-eval`` CLI) against the real server:
``--model local-completions`` with ``tokenizer_backend=remote`` on a tiny local task this
test writes (a JSONL file and two task YAMLs, no dataset download), running both
loglikelihood (multiple choice) and generate_until requests.

The harness tokenizes through ``GET /tokenizer_info``, ``POST /tokenize`` and
``POST /detokenize`` (lm_eval/utils.py ``RemoteTokenizer``), scores with ``echo`` +
``logprobs`` + ``max_tokens: 1`` and generates with ``stop`` (lm_eval/models/
openai_completions.py ``LocalCompletionsAPI``); its numbers are checked against the engine's
own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_helpers import Running, post_json, shared_engine, shared_hypercube, start_server

DOCS = [
    {"context": "def total_count(value, count=3):\n    total = value",
     "choices": [" + count", " banana"], "answer": 0},
    {"context": "import", "choices": [" os", " zebra"], "answer": 0},
]
TASK = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: {output_type}
doc_to_text: "{{{{context}}}}"
target_delimiter: ""
{extra}
"""
MULTIPLE_CHOICE = """\
doc_to_choice: "{{choices}}"
doc_to_target: "{{answer}}"
metric_list:
  - metric: acc
"""
GENERATE = """\
doc_to_target: "{{choices[answer]}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
  temperature: 0
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = start_server(shared_hypercube(), engine=shared_engine())
    yield running
    running.stop()


def write_tasks(folder: Path) -> Path:
    folder.mkdir(parents=True)
    data = folder / "tiny.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    for name, output_type, extra in (("hypercube_tiny_mc", "multiple_choice", MULTIPLE_CHOICE),
                                     ("hypercube_tiny_gen", "generate_until", GENERATE)):
        (folder / f"{name}.yaml").write_text(TASK.format(
            name=name, data=data, output_type=output_type, extra=extra), encoding="utf-8")
    return folder


def samples(out: Path, task: str) -> list[dict[str, object]]:
    (path,) = out.glob(f"*/samples_{task}_*.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_lm_eval_local_completions_with_remote_tokenizer(server: Running,
                                                         tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks")
    out = tmp_path / "out"
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    model_args = (f"base_url={server.url}/v1/completions,model={server.model},"
                  "tokenizer_backend=remote,num_concurrent=1,max_retries=1")
    result = subprocess.run(
        [sys.executable, "-m", "lm_eval", "run", "--model", "local-completions",
         "--model_args", model_args, "--tasks", "hypercube_tiny_mc,hypercube_tiny_gen",
         "--include_path", str(tasks), "--output_path", str(out), "--log_samples"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    (results_file,) = out.glob("*/results_*.json")
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]
    assert results["hypercube_tiny_mc"]["acc,none"] == 1.0

    engine = server.engine
    tokenizer = engine.tokenizer
    for sample in samples(out, "hypercube_tiny_mc"):
        doc = sample["doc"]
        assert isinstance(doc, dict)
        context = [int(i) for i in tokenizer.encode(doc["context"])]
        for choice, response in zip(doc["choices"], sample["filtered_resps"], strict=True):
            continuation = [int(i) for i in tokenizer.encode(choice)]
            scored = engine.score(context + continuation)[len(context):]
            expected = sum(t.logprob for t in scored if t.logprob is not None)
            assert float(response[0]) == pytest.approx(expected, rel=1e-9, abs=1e-9)

    for sample in samples(out, "hypercube_tiny_gen"):
        doc = sample["doc"]
        assert isinstance(doc, dict)
        status, same = post_json(server.url, "/v1/completions", {
            "model": server.model, "prompt": doc["context"], "max_tokens": 8,
            "temperature": 0, "stop": ["\n"], "seed": 1234})
        assert status == 200
        assert sample["filtered_resps"] == [same["choices"][0]["text"]]
