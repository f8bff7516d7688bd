"""`hypercube complete` and `hypercube eval` through the real command line."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.conftest import make_root

from .conftest import write_python_corpus

Cli = Callable[..., tuple[int, str, str]]


def _ingest(db: Path, root: Path) -> None:
    """Documents and model only (code analysis is not what these tests are about)."""
    with Store(db) as store:
        IngestRun(store, IngestOptions(roots=[root]), listeners=make_root().listeners()).run()


def test_complete_and_eval(cli: Cli, tmp_path: Path) -> None:
    train, test = tmp_path / "train", tmp_path / "test"
    write_python_corpus(train, files=20, seed=1)
    write_python_corpus(test, files=3, seed=2)
    db = tmp_path / "h.db"
    _ingest(db, train)

    code, out, _ = cli("complete", "--db", db, "--temperature", "0", "--max-tokens", "12",
                       "--json", "--logprobs", "2", "def ")
    assert code == 0
    result = json.loads(out)
    assert result["completion_tokens"] == 12 and result["finish_reason"] == "length"
    assert all(len(t["top"]) == 2 and t["logprob"] <= 0 for t in result["tokens"])
    code, streamed, _ = cli("complete", "--db", db, "--temperature", "0", "--max-tokens", "12",
                            "def ")
    assert code == 0 and streamed == result["text"] + "\n"

    code, out, _ = cli("complete", "--db", db, "--temperature", "0", "--max-tokens", "40",
                       "--stop", "return", "--json", "def ")
    assert code == 0 and "return" not in json.loads(out)["text"]

    code, out, _ = cli("eval", "--db", db, "--json", test)
    assert code == 0
    scores = json.loads(out)
    assert set(scores) >= {"bits_per_byte", "top1", "top5", "tokens", "bytes"}
    assert scores["bytes"] == sum(p.stat().st_size for p in test.rglob("*.py"))
    assert 0 < scores["bits_per_byte"] < 3
    assert 0 < scores["top1"] <= scores["top5"] <= 1

    code, out, _ = cli("eval", "--db", db, test)
    assert code == 0 and "bits per byte" in out and "reset per file" in out

    # The project's earlier files help predict the later ones; the hypercube is unchanged.
    code, out, _ = cli("eval", "--db", db, "--json", "--carry-cache", test)
    assert code == 0
    carried = json.loads(out)
    assert carried["carry_cache"] is True and scores["carry_cache"] is False
    assert carried["tokens"] == scores["tokens"]
    assert carried["bits_per_byte"] < scores["bits_per_byte"]
    code, again, _ = cli("eval", "--db", db, "--json", test)
    assert json.loads(again) == scores


def test_errors_are_one_line(cli: Cli, tmp_path: Path) -> None:
    train = tmp_path / "train"
    write_python_corpus(train, files=4, seed=3)
    db = tmp_path / "h.db"
    _ingest(db, train)
    code, _, err = cli("eval", "--db", db, tmp_path / "missing")
    assert code == 1 and err.count("\n") == 1 and "not a folder" in err
    # Out of the request contract's [0, 1] (0 itself is allowed, as the API allows it).
    code, _, err = cli("complete", "--db", db, "--top-p", "1.5", "x")
    assert code == 1 and "--top-p" in err


def test_chat_reads_turns_from_stdin_and_streams_replies(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = tmp_path / "train"
    write_python_corpus(train, files=10, seed=5)
    db = tmp_path / "h.db"
    _ingest(db, train)
    turns = "def alpha_beta_0(value):\n\n/reset\nreturn total\n/exit\nnever read\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(turns))
    code, out, _ = cli("chat", "--db", db, "--json", "--temperature", "0", "--max-tokens",
                       "20", "--system", "You write Python.")
    assert code == 0
    replies = [json.loads(chunk) for chunk in out.replace("}\n{", "}\x00{").split("\x00")]
    assert len(replies) == 2  # two user lines; the empty line and /reset start over
    for reply in replies:
        assert reply["role"] == "assistant" and reply["finish_reason"] in {"stop", "length"}
        assert "<|end|>" not in reply["content"]

    # Streamed text: the same replies (greedy).
    monkeypatch.setattr("sys.stdin", io.StringIO(turns))
    code, streamed, _ = cli("chat", "--db", db, "--temperature", "0", "--max-tokens", "20",
                            "--system", "You write Python.")
    assert code == 0
    assert all(reply["content"] in streamed for reply in replies)


def test_the_cli_takes_as_many_stop_sequences_as_the_api(cli: Cli, tmp_path: Path) -> None:
    # One limit for a request's stop sequences, wherever it is read (app.engine.limits).
    from app.engine.limits import MAX_STOP_SEQUENCES

    write_python_corpus(tmp_path / "corpus", files=6, seed=3)
    db = tmp_path / "h.db"
    _ingest(db, tmp_path / "corpus")

    def stops(count: int) -> list[str]:
        return [arg for i in range(count) for arg in ("--stop", f"never{i}")]

    code, _, err = cli("complete", "--db", db, "--max-tokens", "4",
                       *stops(MAX_STOP_SEQUENCES), "def ")
    assert code == 0, err
    code, out, err = cli("complete", "--db", db, *stops(MAX_STOP_SEQUENCES + 1), "def ")
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"--stop may be given at most {MAX_STOP_SEQUENCES} times" in err
