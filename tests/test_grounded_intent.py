"""The grounded chat router and fuzzy name resolution, on their own (no hypercube needed)."""

from __future__ import annotations

import pytest

from app.grounded.intent import (
    CALLERS,
    CONTINUE,
    DEFINITION,
    EXPLAIN,
    GREETING,
    HOWTO,
    OTHER,
    SIMILAR,
    classify,
    clean_subject,
    understand,
)
from app.grounded.names import Lexicon

CASES = [
    ("Where is apply_discount defined?", DEFINITION, "apply_discount"),
    ("where's `InventoryStore` declared", DEFINITION, "InventoryStore"),
    ("where is the InventoryStore class", DEFINITION, "InventoryStore"),
    ("Show me the definition of parse_price", DEFINITION, "parse_price"),
    ("go to the function apply_discount", DEFINITION, "apply_discount"),
    ("Which file defines monthly_report?", DEFINITION, "monthly_report"),
    ("who calls apply_discount?", CALLERS, "apply_discount"),
    ("What calls InventoryStore.total_value", CALLERS, "InventoryStore.total_value"),
    ("Where is parse_price used?", CALLERS, "parse_price"),
    ("find usages of `total_value`", CALLERS, "total_value"),
    ("Is apply_discount called anywhere?", CALLERS, "apply_discount"),
    ("what does total_value do?", EXPLAIN, "total_value"),
    ("Explain InventoryStore.add_item", EXPLAIN, "InventoryStore.add_item"),
    ("how does the monthly_report function work?", EXPLAIN, "monthly_report"),
    ("Tell me about parse_price", EXPLAIN, "parse_price"),
    ("What is InventoryStore?", EXPLAIN, "InventoryStore"),
]


@pytest.mark.parametrize(("message", "kind", "subject"), CASES)
def test_named_questions(message: str, kind: str, subject: str) -> None:
    intent = classify(message)
    assert (intent.kind, intent.subject) == (kind, subject)


@pytest.mark.parametrize(("message", "query"), [
    ("how do I reduce a price by a percentage?", "reduce a price by a percentage"),
    ("How to parse a price", "parse a price"),
    ("How can we compute the stock value", "compute the stock value"),
    ("Is there a way to compute the stock value?", "compute the stock value"),
    ("Write a Python function that reverses a string", "reverses a string"),
    ("I want to read a config file", "read a config file"),
])
def test_how_do_i_questions_keep_what_to_search_for(message: str, query: str) -> None:
    intent = classify(message)
    assert (intent.kind, intent.query) == (HOWTO, query)


def test_which_code_does_something_is_an_explanation_by_words() -> None:
    intent = classify("Which code reads a price written like 12.50?")
    assert intent.kind == EXPLAIN
    assert intent.query == "reads a price written like 12.50"


@pytest.mark.parametrize("message", ["Hello! Who are you?", "hi", "thanks", "What can you do?"])
def test_greetings(message: str) -> None:
    assert classify(message).kind == GREETING


def test_code_to_continue() -> None:
    assert classify("def fibonacci(n):") .kind == CONTINUE
    inline = classify("Complete this: def add(a, b):")
    assert (inline.kind, inline.code) == (CONTINUE, "def add(a, b):")
    fenced = classify("continue this\n```python\nfor i in range(10):\n```")
    assert (fenced.kind, fenced.code, fenced.language) == (CONTINUE, "for i in range(10):",
                                                           "python")
    unclosed = classify("```js\nfunction add(a, b) {\n")
    assert unclosed.kind == CONTINUE and unclosed.language == "js"
    trailing = classify("Here is my start:\nimport os\n\ndef walk(top):")
    assert trailing.kind == CONTINUE and trailing.code.startswith("import os")


def test_pasted_snippets_look_for_similar_code() -> None:
    snippet = "def f(x):\n    return x + 1"
    asked = classify(f"Find code like this:\n```python\n{snippet}\n```")
    assert (asked.kind, asked.code, asked.language) == (SIMILAR, snippet, "python")
    bare = classify(f"```\n{snippet}\n```")
    assert bare.kind == SIMILAR and bare.language is None
    unfenced = classify("is there code similar to this?\nfor key in mapping:\n    print(key)")
    assert unfenced.kind == SIMILAR


@pytest.mark.parametrize("message", ["apply_discount", "What is the weather in Paris?",
                                     "Tell me a joke", "where is it"])
def test_questions_without_a_rule_keep_their_words(message: str) -> None:
    intent = classify(message)
    assert intent.kind in (OTHER, EXPLAIN, DEFINITION)
    assert intent.code is None


def test_subjects_lose_articles_markup_and_kind_words() -> None:
    assert clean_subject("the `Store.write` method") == ("Store.write", "method")
    assert clean_subject("a class called Parser in the code") == ("Parser", "class")
    assert clean_subject("parse_args()") == ("parse_args", None)
    assert clean_subject("the helpers") == ("helpers", None)


def _defined(*names: str):  # type: ignore[no-untyped-def]
    return lambda text: text in names


def test_a_follow_up_refers_to_the_last_subject() -> None:
    turns = [("user", "where is apply_discount defined?"),
             ("assistant", "`apply_discount` is defined once: the function in `p.py:11`."),
             ("user", "and who calls it?")]
    intent = understand(turns, _defined("apply_discount"))
    assert (intent.kind, intent.subject, intent.follow_up) == (CALLERS, "apply_discount", True)


def test_a_follow_up_prefers_what_the_last_answer_named() -> None:
    turns = [("user", "how do I reduce a price?"),
             ("assistant", "For “reduce a price”, the best match is the function "
                           "`apply_discount` in `inventory/pricing.py:11`:"),
             ("user", "who calls it")]
    intent = understand(turns, _defined("apply_discount", "price"))
    assert (intent.kind, intent.subject) == (CALLERS, "apply_discount")


def test_what_about_repeats_the_previous_question() -> None:
    turns = [("user", "who calls apply_discount?"), ("assistant", "…"),
             ("user", "what about parse_price?")]
    intent = understand(turns, _defined("apply_discount", "parse_price"))
    assert (intent.kind, intent.subject) == (CALLERS, "parse_price")


def test_a_bare_defined_name_asks_where_it_is() -> None:
    intent = understand([("user", "apply_discount")], _defined("apply_discount"))
    assert intent.kind == DEFINITION
    unknown = understand([("user", "tell me a joke")], _defined("apply_discount"))
    assert unknown.kind == OTHER


def test_a_pronoun_with_no_history_stays_unresolved() -> None:
    intent = understand([("user", "who calls it?")], _defined("apply_discount"))
    assert (intent.kind, intent.subject) == (CALLERS, "it")


# -- names ------------------------------------------------------------------------------------

LEXICON = Lexicon({"get_event_loop": 3, "EventLoopPolicy": 1, "write": 4, "Store": 1,
                   "parse_args": 2, "_parse_args": 1, "len": 5, "lens": 1, "getUserName": 1,
                   "get_user_name": 1})


def _resolved(text: str) -> list[tuple[str, str | None, str]]:
    return [(r.name, r.qualifier, r.how) for r in LEXICON.resolve(text)]


def test_exact_names_first() -> None:
    assert _resolved("get_event_loop")[0] == ("get_event_loop", None, "exact")
    assert _resolved("`parse_args()`")[0] == ("parse_args", None, "exact")


def test_case_and_naming_conventions_meet() -> None:
    assert _resolved("getEventLoop") == [("get_event_loop", None, "folded")]
    assert _resolved("GET_EVENT_LOOP") == [("get_event_loop", None, "folded")]
    assert _resolved("event loop policy") == [("EventLoopPolicy", None, "folded")]
    # Both spellings exist: the one written like the query comes first.
    assert _resolved("getUserName")[:2] == [("getUserName", None, "exact"),
                                            ("get_user_name", None, "folded")]


def test_typos_within_a_few_edits() -> None:
    found = LEXICON.resolve("get_evnet_loop")  # two letters swapped: one edit
    assert (found[0].name, found[0].how, found[0].edits) == ("get_event_loop", "typo", 1)
    assert LEXICON.resolve("gt_evnt_lop") == []  # three edits of nine letters: too far
    assert _resolved("parse_arsg")[0][0] == "parse_args"
    assert LEXICON.resolve("completely_unrelated_name") == []


def test_short_names_must_match_exactly() -> None:
    assert _resolved("len") == [("len", None, "exact")]
    assert LEXICON.resolve("lan") == []


def test_qualified_names_keep_their_qualifier() -> None:
    assert _resolved("Store.write") == [("write", "Store", "exact")]
    assert _resolved("app::Store::write") == [("write", "app.Store", "exact")]
    assert LEXICON.resolve("Store.wirte")[0].name == "write"
    assert LEXICON.resolve("Store.write")[0].query == "Store.write"
