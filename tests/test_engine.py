"""The engine over a real hypercube: sampling controls, stops, logprobs, scoring, threads."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.engine import CONTEXT_LENGTH, Engine, SamplingParams, load_engine
from app.errors import ContextLengthExceeded, InvalidRequest, NotReady
from app.store import Store
from jit import kernels
from tests.bench.bench_generation_quality import has_loop
from tests.conftest import REPO, copy_of_app, ingested, make_root


@pytest.fixture(scope="module")
def hypercube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The repository's own `app/` package ingested (its model built by the listener)."""
    root = tmp_path_factory.mktemp("engine")
    with ingested(root, copy_of_app(root)):
        yield root / "h.db"


@pytest.fixture(scope="module")
def engine(hypercube: Path) -> Engine:
    with Store(hypercube) as store:
        return load_engine(store, make_root().kernels)


def _prompt(engine: Engine, text: str = "def load(self, path):\n    ") -> np.ndarray:
    return engine.tokenizer.encode(text)


def test_info_describes_the_model(engine: Engine, hypercube: Path) -> None:
    info = engine.info
    assert info.context_length == CONTEXT_LENGTH
    assert info.vocab_size == engine.tokenizer.vocab_size
    with Store(hypercube) as store:
        assert info.documents == store.scalar("SELECT COUNT(*) FROM documents") > 20
    assert info.corpus_tokens == engine.model.tokens > 10_000


def test_greedy_is_deterministic_and_follows_the_model(engine: Engine) -> None:
    # Without the repetition penalty greedy is the model's argmax at every step.
    params = SamplingParams(max_tokens=20, temperature=0.0, logprobs=3, dry_multiplier=0.0)
    first = engine.complete(_prompt(engine), params)
    second = engine.complete(_prompt(engine), params)
    assert first.text == second.text
    assert first.completion_tokens == 20 and first.finish_reason == "length"
    for token in first.tokens:
        # Greedy picks the most likely token: the first alternative is the token itself.
        assert token.top[0][0] == token.token_id
        assert token.logprob == pytest.approx(token.top[0][2])
        assert [t[2] for t in token.top] == sorted((t[2] for t in token.top), reverse=True)
    assert first.logprob == pytest.approx(sum(t.logprob for t in first.tokens))


def test_same_seed_same_text_different_seed_differs(engine: Engine) -> None:
    runs = [engine.complete(_prompt(engine), SamplingParams(max_tokens=40, seed=s)).text
            for s in (7, 7, 8, 9)]
    assert runs[0] == runs[1]
    assert len({runs[0], runs[2], runs[3]}) > 1


def test_seeded_output_is_identical_in_another_process(engine: Engine, hypercube: Path) -> None:
    code = (
        "import sys\n"
        "from app.engine import SamplingParams, load_engine\n"
        "from app.store import Store\n"
        f"store = Store({str(hypercube)!r})\n"
        "from app.compose import Root\n"
        "engine = load_engine(store, Root.from_environment().kernels)\n"
        "p = SamplingParams(max_tokens=30, seed=1234, temperature=0.9, top_p=0.95)\n"
        "sys.stdout.write(engine.complete(engine.tokenizer.encode('import '), p).text)\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=REPO, timeout=120, check=True)
    here = engine.complete(engine.tokenizer.encode("import "),
                           SamplingParams(max_tokens=30, seed=1234, temperature=0.9, top_p=0.95))
    assert child.stdout == here.text


def test_stop_sequences_are_never_emitted(engine: Engine) -> None:
    greedy = engine.complete(_prompt(engine), SamplingParams(max_tokens=40, temperature=0.0))
    # A stop string that starts inside the greedy text and spans tokens.
    stop = greedy.text[5:9]
    assert len(stop) == 4
    stopped = engine.complete(_prompt(engine), SamplingParams(max_tokens=40, temperature=0.0,
                                                               stop=[stop, "\x00never"]))
    assert stopped.finish_reason == "stop"
    assert stopped.text == greedy.text[:greedy.text.find(stop)]
    assert stop not in stopped.text
    pieces = [d.text for d in engine.stream(_prompt(engine), SamplingParams(
        max_tokens=40, temperature=0.0, stop=[stop]))]
    assert "".join(pieces) == stopped.text


def test_stream_deltas_add_up_to_the_completion(engine: Engine) -> None:
    params = SamplingParams(max_tokens=25, seed=3)
    deltas = list(engine.stream(_prompt(engine), params))
    assert [d.finish_reason for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1].finish_reason == "length"
    text = "".join(d.text for d in deltas)
    ids = [t.token_id for d in deltas for t in d.tokens]
    assert len(ids) == 25
    assert text == engine.tokenizer.decode(ids)
    assert text == engine.complete(_prompt(engine), params).text


def test_logprobs_are_the_models_and_match_scoring(engine: Engine) -> None:
    prompt = _prompt(engine)
    result = engine.complete(prompt, SamplingParams(max_tokens=15, temperature=1.5, top_k=5,
                                                    seed=11, logprobs=2))
    ids = [*prompt.tolist(), *(t.token_id for t in result.tokens)]
    scored = engine.score(ids, top=2)
    assert scored[0].logprob is None
    for generated, again in zip(result.tokens, scored[len(prompt):], strict=True):
        # Sampling transforms (temperature, top_k) never change reported log-probabilities.
        assert generated.logprob == again.logprob
        assert generated.top == again.top


def test_scoring_without_alternatives_gives_the_same_logprobs(engine: Engine) -> None:
    # Without alternatives each token's probability comes from one kernel call that reads
    # only that token's: the same values to the bit as the full distribution's.
    ids = _prompt(engine).tolist() * 3
    alone = engine.score(ids)
    with_top = engine.score(ids, top=1)
    assert [t.logprob for t in alone] == [t.logprob for t in with_top]
    assert alone[0].logprob is None and all(not t.top for t in alone)
    assert [t.token_id for t in alone] == ids


def test_scored_distribution_is_normalised(engine: Engine) -> None:
    with engine._session(_prompt(engine)) as session:
        probs = session.distribution()
        assert abs(float(probs.sum()) - 1.0) < 1e-12
        assert (probs > 0).all()


def test_document_logprobs_include_the_first_token(engine: Engine) -> None:
    ids = engine.tokenizer.encode("import os\nimport sys\n")
    logprobs, hits = engine.document_logprobs(ids)
    scored = engine.score(ids)
    assert all(lp < 0 for lp in logprobs)
    assert [s.logprob for s in scored[1:]] == pytest.approx(logprobs[1:].tolist())
    assert (hits >= -1).all() and (hits < 5).all()


def test_penalties_and_bias(engine: Engine) -> None:
    prompt = _prompt(engine)
    greedy = engine.complete(prompt, SamplingParams(max_tokens=10, temperature=0.0))
    banned = greedy.tokens[0].token_id
    biased = engine.complete(prompt, SamplingParams(max_tokens=10, temperature=0.0,
                                                    logit_bias={banned: -100.0}))
    assert biased.tokens[0].token_id != banned
    forced = engine.complete(prompt, SamplingParams(max_tokens=5, temperature=0.0,
                                                    logit_bias={65: 100.0}))
    assert [t.token_id for t in forced.tokens] == [65] * 5
    greedy_ids = [t.token_id for t in engine.complete(
        prompt, SamplingParams(max_tokens=30, temperature=0.0)).tokens]
    assert len(set(greedy_ids)) < len(greedy_ids)  # code repeats tokens
    for penalty in ({"presence_penalty": 100.0}, {"frequency_penalty": 100.0}):
        ids = [t.token_id for t in engine.complete(
            prompt, SamplingParams(max_tokens=30, temperature=0.0, **penalty)).tokens]
        assert len(set(ids)) == len(ids)  # a huge penalty forbids any repeat


def test_top_k_one_and_min_p_one_are_greedy(engine: Engine) -> None:
    prompt = _prompt(engine)
    greedy = engine.complete(prompt, SamplingParams(max_tokens=15, temperature=0.0)).text
    for params in (SamplingParams(max_tokens=15, top_k=1, seed=5),
                   SamplingParams(max_tokens=15, min_p=1.0, seed=6),
                   SamplingParams(max_tokens=15, top_p=1e-9, seed=7)):
        assert engine.complete(prompt, params).text == greedy


def test_context_length_is_enforced_with_a_clear_message(engine: Engine) -> None:
    prompt = np.zeros(CONTEXT_LENGTH - 10, dtype=np.int64) + 65
    with pytest.raises(ContextLengthExceeded) as info:
        engine.stream(prompt, SamplingParams(max_tokens=20))
    assert str(CONTEXT_LENGTH) in info.value.message
    assert str(CONTEXT_LENGTH + 10) in info.value.message
    with pytest.raises(ContextLengthExceeded):
        engine.score(np.zeros(CONTEXT_LENGTH + 1, dtype=np.int64))
    with pytest.raises(InvalidRequest):
        engine.stream(np.array([engine.tokenizer.vocab_size]), SamplingParams())
    with pytest.raises(InvalidRequest):
        engine.stream(_prompt(engine), SamplingParams(logit_bias={10**6: 1.0}))


def test_max_tokens_zero_and_cancel(engine: Engine) -> None:
    empty = engine.complete(_prompt(engine), SamplingParams(max_tokens=0))
    assert empty.text == "" and empty.completion_tokens == 0 and empty.finish_reason == "length"
    cancel = threading.Event()
    deltas = []
    for delta in engine.stream(_prompt(engine), SamplingParams(max_tokens=100, seed=1),
                               cancel=cancel):
        deltas.append(delta)
        if len(deltas) == 3:
            cancel.set()
    assert deltas[-1].finish_reason == "stop"
    assert len(deltas) == 4


def test_concurrent_streams_equal_sequential_ones(engine: Engine) -> None:
    params = [SamplingParams(max_tokens=60, seed=s, temperature=0.8) for s in range(8)]
    expected = [engine.complete(_prompt(engine), p).text for p in params]
    got: list[str | None] = [None] * len(params)

    def work(i: int) -> None:
        got[i] = engine.complete(_prompt(engine), params[i]).text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(params))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == expected


def test_interleaved_streams_in_one_thread_do_not_share_state(engine: Engine) -> None:
    a = engine.stream(_prompt(engine), SamplingParams(max_tokens=20, seed=1))
    b = engine.stream(engine.tokenizer.encode("class "), SamplingParams(max_tokens=20, seed=2))
    texts = ["", ""]
    for da, db in zip(a, b, strict=True):
        texts[0] += da.text
        texts[1] += db.text
    assert texts[0] == engine.complete(_prompt(engine), SamplingParams(max_tokens=20, seed=1)).text
    assert texts[1] == engine.complete(engine.tokenizer.encode("class "),
                                       SamplingParams(max_tokens=20, seed=2)).text


def test_empty_hypercube_is_not_ready(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.db") as store, pytest.raises(NotReady):
        load_engine(store, make_root().kernels)


def test_generated_text_is_valid_unicode(engine: Engine) -> None:
    text = engine.complete(engine.tokenizer.encode("Café "),
                           SamplingParams(max_tokens=50, temperature=2.0, seed=9)).text
    text.encode("utf-8")
    assert not math.isnan(len(text))


# The model's cache copies what it just saw, so this context invites the loop users saw.
LOOP_PRONE = "        self._threads = []\n        self._threads._threads._threads._threads"


def _ids(completion) -> list[int]:
    return [t.token_id for t in completion.tokens]


def test_a_loop_prone_context_does_not_loop_under_the_defaults(engine: Engine) -> None:
    prompt = engine.tokenizer.encode(LOOP_PRONE)
    plain = engine.complete(prompt, SamplingParams(max_tokens=100, temperature=0.0,
                                                   dry_multiplier=0.0))
    assert has_loop(_ids(plain)), "the context should make the plain argmax loop"
    runs = [SamplingParams(max_tokens=100, temperature=0.0)]
    runs += [SamplingParams(max_tokens=100, seed=s, temperature=t)
             for t in (0.7, 1.0) for s in range(5)]
    for params in runs:
        done = engine.complete(prompt, params)
        assert not has_loop(_ids(done)), (params, done.text)
    greedy = [engine.complete(prompt, runs[0]).text for _ in range(2)]
    assert greedy[0] == greedy[1]  # greedy with the penalty is still deterministic


@pytest.mark.parametrize("params", [
    SamplingParams(max_tokens=60, temperature=0.0, logprobs=3),
    SamplingParams(max_tokens=60, seed=4, logprobs=3, dry_multiplier=5.0,
                   dry_allowed_length=1, dry_sequence_breakers=[]),
    SamplingParams(max_tokens=60, seed=5, logprobs=3, temperature=0.7, top_p=0.9),
])
def test_the_repetition_penalty_never_changes_logprobs(engine: Engine,
                                                       params: SamplingParams) -> None:
    prompt = engine.tokenizer.encode(LOOP_PRONE)
    done = engine.complete(prompt, params)
    scored = engine.score([*prompt.tolist(), *_ids(done)], top=3)[len(prompt):]
    for generated, again in zip(done.tokens, scored, strict=True):
        assert generated.logprob == again.logprob
        assert generated.top == again.top
    # The penalty did change what was chosen: greedy without it differs.
    if params.temperature == 0.0:
        plain = engine.complete(prompt, SamplingParams(max_tokens=60, temperature=0.0,
                                                       dry_multiplier=0.0))
        assert _ids(plain) != _ids(done)


def test_bad_repetition_parameters_are_refused_before_generating(engine: Engine) -> None:
    with pytest.raises(InvalidRequest) as info:
        engine.stream(_prompt(engine), SamplingParams(dry_base=0.5))
    assert info.value.param == "dry_base"


def test_native_and_reference_kernels_generate_the_same(engine: Engine, hypercube: Path) -> None:
    with Store(hypercube) as store:
        slow = load_engine(store, kernels(native=False))
    prompt = engine.tokenizer.encode(LOOP_PRONE)
    for params in (SamplingParams(max_tokens=25, temperature=0.0),
                   SamplingParams(max_tokens=25, seed=3),
                   SamplingParams(max_tokens=25, seed=3, temperature=0.7, logprobs=2)):
        fast, reference = engine.complete(prompt, params), slow.complete(prompt, params)
        assert fast.text == reference.text
        assert [t.logprob for t in fast.tokens] == [t.logprob for t in reference.tokens]
