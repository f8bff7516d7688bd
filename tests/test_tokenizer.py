"""The tokenizer: learned by deterministic pair merging, stored as compositions, lossless."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.compositions import composition_id
from app.errors import InvalidText
from app.store import Store
from app.tokenizer import Tokenizer, load_vocabulary, save_vocabulary, train_vocabulary

TRAINING_TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\n",
    "Café au lait, crème brûlée; naïve façade. Ελληνικά και Кириллица тоже.\n",
    "for index in range(10):\n    print(index, index * index)\n",
] * 20


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(train_vocabulary(TRAINING_TEXTS, vocab_size=600))


def test_training_is_deterministic() -> None:
    first = train_vocabulary(TRAINING_TEXTS, vocab_size=600)
    second = train_vocabulary(TRAINING_TEXTS, vocab_size=600)
    assert first.token_bytes == second.token_bytes
    assert first.nodes == second.nodes
    assert first.merges == second.merges


def test_merges_make_longer_tokens_than_characters(tokenizer: Tokenizer) -> None:
    text = "def add(a, b):\n    return a + b\n"
    ids = tokenizer.encode(text)
    assert len(ids) < len(text) / 2
    assert tokenizer.decode(ids) == text


unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unicode_text)
def test_encoding_is_lossless_for_any_unicode(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert "".join(tokenizer.token_strings(ids)) == text


@pytest.mark.parametrize("text", [
    "😀👩‍👩‍👧‍👦🏳️‍🌈",                       # emoji, ZWJ sequences
    "漢字かなカナ한국어",                          # CJK
    "e\u0301a\u0308\u0323o\u0328\u0304",       # combining marks
    "\x00\x01\x07\x1b[31m\r\n\t\x7f\u2028",    # control characters
    "a" * 100_000,                             # a very long run
    " " * 50_000 + "\n" * 50_000,
    "<0x41><0xF0>",                            # text that looks like byte-token names
])
def test_hard_strings_round_trip(tokenizer: Tokenizer, text: str) -> None:
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    assert "".join(tokenizer.token_strings(ids)) == text


def test_unknown_characters_fall_back_to_bytes(tokenizer: Tokenizer) -> None:
    ids = tokenizer.encode("𝄞")  # not in the training texts
    assert [int(i) for i in ids] == list("𝄞".encode())
    assert tokenizer.token_strings(ids) == ["", "", "", "𝄞"]


def test_lone_surrogate_is_a_clear_error(tokenizer: Tokenizer) -> None:
    with pytest.raises(InvalidText, match=r"lone surrogate U\+D800 at character 2"):
        tokenizer.encode("ab\ud800cd")


def test_vocabulary_lives_in_the_store_as_compositions(tmp_path: Path) -> None:
    vocab = train_vocabulary(TRAINING_TEXTS, vocab_size=600)
    with Store(tmp_path / "h.db") as store:
        with store.write() as conn:
            save_vocabulary(conn, vocab)
        loaded = load_vocabulary(store.conn)
        assert loaded is not None
        assert loaded.token_bytes == vocab.token_bytes
        assert loaded.merges == vocab.merges
        # Every merged token is a composition of its two parts, content-addressed.
        for left, right, result in vocab.merges:
            node = vocab.nodes[result]
            children = [c for (c,) in store.conn.execute(
                "SELECT child FROM composition_children WHERE parent = ? ORDER BY position",
                (node,))]
            assert children == [vocab.nodes[left], vocab.nodes[right]]
            assert node == composition_id("pair", children)
            content = store.scalar("SELECT content FROM compositions WHERE id = ?", (node,))
            assert content == vocab.token_bytes[left] + vocab.token_bytes[right]
        compositions = store.scalar("SELECT COUNT(*) FROM compositions")
        assert compositions == len({vocab.nodes[i] for i in range(vocab.size)
                                    if vocab.kinds[i] != "atom"})
    text = "Café def add(a, b): Кириллица 😀"
    assert np.array_equal(Tokenizer(loaded).encode(text), Tokenizer(vocab).encode(text))


def test_same_text_same_ids_across_trainings() -> None:
    text = "class Point:\n    pass\n"
    a = Tokenizer(train_vocabulary(TRAINING_TEXTS, vocab_size=600))
    b = Tokenizer(train_vocabulary(TRAINING_TEXTS, vocab_size=600))
    assert np.array_equal(a.encode(text), b.encode(text))
    assert [a.vocab.nodes[int(i)] for i in a.encode(text)] == \
           [b.vocab.nodes[int(i)] for i in b.encode(text)]
