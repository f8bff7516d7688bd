"""The API's pure parts: the chat template, fields,
seeds, context checks, batch input parsing and embedding vectors."""

from __future__ import annotations

import falcon
import falcon.testing
import numpy as np
import pytest

from app.api.http.body import Fields
from app.api.http.errors import handle_http_error
from app.api.jobs.batch_worker import BatchInvalid, parse_input
from app.api.openai import contract
from app.api.openai.contract_aux import TokenizeBody
from app.api.openai.messages import read_messages
from app.api.openai.vectors import Embedder
from app.chat_template import Message, render
from app.engine.policy import check_context, choice_seeds
from app.engine.types import ModelInfo
from app.errors import ContextLengthExceeded, InvalidRequest

# -- chat template, fields ------------------------------------------------------------------

def test_chat_template_reads_roles_and_renders_plain_text() -> None:
    messages = read_messages(contract.read(TokenizeBody, {"messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "name": "ann", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": None},
    ]}).messages)
    assert messages == [Message("system", "Be brief."), Message("user", "Hi", "ann"),
                        Message("assistant", "")]
    assert render(messages) == "Be brief.\n\nHi\n\n"
    assert render([]) == ""


def test_fields_name_the_full_path() -> None:
    fields = Fields({"a": {"b": "x"}}).nested("a")
    assert fields is not None
    with pytest.raises(InvalidRequest) as info:
        fields.integer("b")
    assert info.value.param == "a.b"
    assert Fields({"n": 2.0}).integer("n") == 2
    with pytest.raises(InvalidRequest):
        Fields({"n": True}).integer("n")


def test_repetition_penalty_fields_are_read_and_checked() -> None:
    def read(**body: object):
        return contract.read(contract.Sampling, body).params(vocab_size=100, max_tokens=16,
                                                             logprobs=None)

    defaults = read()
    assert defaults.dry_multiplier > 0  # on unless turned off
    assert defaults.dry_sequence_breakers == ["\n", ":", '"', "*"]
    params = read(dry_multiplier=0, dry_base=2, dry_allowed_length=4,
                  dry_sequence_breakers=["\n", "###"])
    assert (params.dry_multiplier, params.dry_base, params.dry_allowed_length,
            params.dry_sequence_breakers) == (0.0, 2.0, 4, ["\n", "###"])
    assert read(dry_sequence_breakers=[]).dry_sequence_breakers == []
    for field, value in [("dry_multiplier", -1), ("dry_multiplier", "x"), ("dry_base", 0.9),
                         ("dry_allowed_length", 0), ("dry_allowed_length", 1.5),
                         ("dry_sequence_breakers", "\n"), ("dry_sequence_breakers", [""]),
                         ("dry_sequence_breakers", [1])]:
        with pytest.raises(InvalidRequest) as info:
            read(**{field: value})
        assert info.value.param == field


# -- generation helpers ---------------------------------------------------------------------

def test_choice_seeds_repeat_for_a_seed_and_differ_between_choices() -> None:
    seeds = choice_seeds(7, 4)
    assert seeds == choice_seeds(7, 4)
    assert seeds[0] == 7
    assert len(set(seeds)) == 4
    assert all(0 <= s < 2**63 for s in choice_seeds(-5, 3))


def test_context_check_names_limit_and_request() -> None:
    info = ModelInfo("m", 0, 100, 10, 0, 0, 0)
    check_context(info, 90, 10, "prompt")
    with pytest.raises(ContextLengthExceeded) as info_error:
        check_context(info, 90, 11, "prompt")
    assert "100" in info_error.value.message and "101" in info_error.value.message
    with pytest.raises(ContextLengthExceeded):
        check_context(info, 100, None, "messages")


def test_batch_input_lines_are_checked() -> None:
    good = b'{"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {}}\n'
    assert parse_input(good, "/v1/completions") == [("a", {})]
    with pytest.raises(BatchInvalid) as info:
        parse_input(good + b"[1]\n" + good, "/v1/completions")
    assert [(e["code"], e["line"]) for e in info.value.errors] == [
        ("invalid_request", 2), ("duplicate_custom_id", 3)]


# -- embedding vectors ----------------------------------------------------------------------

def test_vectors_are_unit_length_and_deterministic() -> None:
    embedder = Embedder(np.ones(300, dtype=np.float32))
    ids = np.array([5, 6, 7, 8, 9, 5, 6], dtype=np.uint16)
    a = embedder.embed(ids, 64)
    assert np.linalg.norm(a) == pytest.approx(1.0)
    assert np.array_equal(a, embedder.embed(ids, 64))
    near = embedder.embed(np.array([5, 6, 7, 8, 9, 5, 7], dtype=np.uint16), 64)
    far = embedder.embed(np.array([100, 101, 102, 103, 104, 105], dtype=np.uint16), 64)
    assert float(a @ near) > float(a @ far)
    assert not embedder.embed(np.array([], dtype=np.uint16), 8).any()


def test_falcon_error_headers_given_as_pairs_reach_the_response() -> None:
    # Falcon takes an HTTPError's headers as a mapping or as (name, value) pairs; the
    # handler called .items() on them, so pairs turned the error into a crash.
    def raises(req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPError(falcon.HTTP_409, headers=[("X-Reason", "busy")])

    app = falcon.App()
    app.add_sink(raises, "/")
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    result = falcon.testing.TestClient(app).simulate_get("/x")
    assert result.status_code == 409
    assert result.headers["X-Reason"] == "busy"
    assert result.json["error"]["type"] == "invalid_request_error"
