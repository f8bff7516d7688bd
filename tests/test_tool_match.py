"""The tool matcher behind ``tool_choice: "auto"`` (app/engine/tool_match.py)."""

from __future__ import annotations

import pytest

from app.engine.tool_match import ToolWords, best_tool, ranked, score, words

TOOLS = [
    ToolWords("get_weather", "The current weather in a city.", ("city", "unit")),
    ToolWords("stockPrice", "Latest trading price of a company's shares.", ("ticker",)),
    ToolWords("send_email", "Send an email message to someone.", ("recipient", "subject",
                                                                   "body")),
    ToolWords("search_docs", "Full-text search over the documentation.", ("query",)),
]


def test_words_split_code_names_and_drop_common_words() -> None:
    assert words("getWeatherForecast") == {"weather", "forecast"}
    assert words("get_weather") == {"weather"}
    assert words("HTTPServer stocks") == {"http", "server", "stock"}
    assert words("What is the weather?") == {"weather"}
    assert words("class") == {"class"}  # a double s is no plural


@pytest.mark.parametrize("message, expected", [
    ("What's the weather in Paris?", 0),
    ("Is it raining in Paris? Tell me the weather, in celsius.", 0),
    ("What is the stock price of ACME?", 1),
    ("Show me the latest price for the ticker MSFT", 1),
    ("Email Bob the subject 'lunch'", 2),
    ("Send a message to Ann", 2),
    ("Search the documentation for asyncio", 3),
])
def test_a_fitting_tool_is_found(message: str, expected: int) -> None:
    assert best_tool(message, TOOLS) == expected


@pytest.mark.parametrize("message", [
    "Write a function that reverses a string.",
    "Hello! Who are you?",
    "How do I check if a key exists in a dictionary in Python?",
    "",
])
def test_nothing_fits_unrelated_requests(message: str) -> None:
    assert best_tool(message, TOOLS) is None
    assert all(score(message, t) == 0 for t in TOOLS)


def test_one_description_word_is_not_enough() -> None:
    # "city" is a parameter of get_weather, "message" a word of send_email's description:
    # a single word other than the tool's own name does not make a fit.
    assert best_tool("Which city is biggest?", TOOLS) is None
    assert score("the city and its weather", TOOLS[0]) > score("the weather", TOOLS[0]) > 0


def test_ranked_puts_the_best_first_and_keeps_declaration_order_on_ties() -> None:
    assert ranked("stock price", TOOLS)[0] == 1
    assert ranked("nothing related", TOOLS) == [0, 1, 2, 3]
