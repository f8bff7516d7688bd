"""What the last user message asks: rules over its text, then over the code index.

:func:`classify` reads one message and returns its :class:`Intent` from the wording alone;
:func:`understand` finishes the job with the conversation and the index: a subject that is a
pronoun ("and who calls it?") takes the last subject of the conversation, "what about X?"
repeats the previous question for X, and a bare identifier that the index defines is a
"where is it defined" question. The kinds:

- ``definition`` — where is X defined / show me X / go to X
- ``explain`` — what does X do / explain X / what is X / how does X work
- ``callers`` — who calls X / where is X used / references to X
- ``howto`` — how do I Y / how to Y / is there a way to Y / code that Y
- ``similar`` — a pasted snippet (a fenced block, or code with "like this", "similar")
- ``continue`` — "complete/continue this" with code, or a message that ends in code
- ``greeting`` — hello, thanks, who are you, what can you do
- ``other`` — anything else (answered with the most relevant passages)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

DEFINITION, EXPLAIN, CALLERS, HOWTO = "definition", "explain", "callers", "howto"
SIMILAR, CONTINUE, GREETING, OTHER = "similar", "continue", "greeting", "other"
KINDS = (DEFINITION, EXPLAIN, CALLERS, HOWTO, SIMILAR, CONTINUE, GREETING, OTHER)
# Kinds that are about one named thing.
NAMED = (DEFINITION, EXPLAIN, CALLERS)


@dataclass(frozen=True)
class Intent:
    kind: str
    subject: str | None = None    # the thing asked about, as written (cleaned)
    query: str = ""               # words to search for (howto, other, an unresolved subject)
    code: str | None = None       # pasted code (similar, continue)
    language: str | None = None   # a fenced block's language tag
    symbol_kind: str | None = None  # "class", "function"… when the message says so
    follow_up: bool = False       # the subject came from earlier in the conversation


_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:\n?```|\Z)", re.DOTALL)
_CONTINUE_WORDS = re.compile(
    r"\b(?:complete|completion|continue|finish|fill\s+in|autocomplete|extend|write\s+the\s+rest"
    r"|carry\s+on|go\s+on)\b", re.I)
_SIMILAR_WORDS = re.compile(
    r"\b(?:similar|like\s+(?:this|that|it)|resembl\w*|clones?|duplicates?|same\s+shape"
    r"|looks?\s+like|other\s+places|elsewhere|copies)\b", re.I)
_CODE_LINE = re.compile(
    r"^\s*(?:(?:async\s+)?def\s+\w|class\s+\w|import\s+\w|from\s+[\w.]+\s+import\b"
    r"|function\s*\w*\s*\(|(?:export\s+)?(?:const|let|var)\s+\w+\s*=|func\s+|fn\s+\w"
    r"|pub\s+|(?:public|private|protected|static)\s+\w|#include\b|package\s+\w|using\s+\w"
    r"|return\b|@\w+|(?:if|for|while|switch)\s*\(?.*[:{]\s*$|}|\w[\w.]*\s*=[^=].*"
    r"|\w[\w.]*\(.*\)\s*;?\s*$|(?:else|try|finally|elif\b.*|except\b.*|with\b.*)\s*:\s*$)"
    r"|.*[{(,;]\s*$|.*\)\s*:\s*$")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day)|greetings|thanks?"
    r"|thank\s+you|cheers|ok(?:ay)?|cool|great|bye|goodbye|who\s+are\s+you|what\s+are\s+you"
    r"|what\s+can\s+you\s+do|help|how\s+are\s+you|what\s+do\s+you\s+do)\b", re.I)

_S = r"(?P<s>.+?)"
# (kind, pattern) in order: the first match wins, so the specific wordings come first.
_RULES: list[tuple[str, re.Pattern[str]]] = [(kind, re.compile(p, re.I)) for kind, p in [
    (EXPLAIN, r"^(?:and\s+)?what\s+(?:does|do|did)\s+" + _S + r"\s+(?:do|does|mean|return|"
              r"compute|contain|hold)$"),
    (EXPLAIN, r"^(?:and\s+)?how\s+(?:does|do)\s+" + _S + r"\s+work$"),
    (CALLERS, r"\b(?:who|what|which\s+\w+)\s+(?:calls|invokes|uses|references|depends\s+on)\s+"
              + _S + "$"),
    (CALLERS, r"\b(?:callers|usages?|uses|references|call\s*sites?|invocations|calls)\s+"
              r"(?:of|to|for)\s+" + _S + "$"),
    (CALLERS, r"\bwhere(?:'s|\s+(?:is|are|was|were|do\s+we|does\s+\w+))\s+" + _S
              + r"\s+(?:called|used|invoked|referenced|call(?:ed)?|use[ds]?)\b"),
    (CALLERS, r"\b(?:is|are)\s+" + _S + r"\s+(?:used|called|invoked)\b"),
    (CALLERS, r"^(?:and\s+)?(?:its|their|the)\s+(?:callers|usages|uses|call\s*sites)$"),
    (DEFINITION, r"\bwhere(?:'s|\s+(?:is|are|was|were|does|do))\s+" + _S
                 + r"\s+(?:defined|declared|implemented|located|written|live|lives|"
                   r"come\s+from|kept|set\s+up)\b"),
    (DEFINITION, r"\b(?:definition|declaration|source(?:\s+code)?|implementation|code)\s+"
                 r"(?:of|for)\s+" + _S + "$"),
    (DEFINITION, r"\b(?:which|what)\s+(?:file|module|class|package)\s+(?:defines|declares|has|"
                 r"contains|implements)\s+" + _S + "$"),
    (DEFINITION, r"\b(?:go\s+to|jump\s+to|navigate\s+to|open|locate|find\s+(?:the\s+)?"
                 r"definition\s+of|look\s+up)\s+" + _S + "$"),
    (HOWTO, r"\bhow\s+(?:do|can|could|should|would|might|will|does)\s+(?:i|you|we|one|someone)"
            r"\s+(?P<q>.+)$"),
    (HOWTO, r"\bhow\s+(?:to|would\s+i)\s+(?P<q>.+)$"),
    (HOWTO, r"\b(?:is\s+there\s+(?:a|any|some)\s+(?:way|function|method|helper|code|api)|"
            r"(?:i|we)\s+(?:want|need|would\s+like)|what(?:'s|\s+is)\s+the\s+(?:best\s+)?way)"
            r"\s+(?:to|for|that)\s+(?P<q>.+)$"),
    (HOWTO, r"\b(?:write|implement|create|make|give\s+me|show\s+me|find|search\s+for)\s+"
            r"(?:me\s+)?(?:an?\s+|some\s+)?(?:example\s+(?:of\s+)?)?(?:\w+\s+)?"
            r"(?:function|method|class|code|snippet|helper|example)s?\s+(?:that|which|to|for|"
            r"of)\s+(?P<q>.+)$"),
    (HOWTO, r"\b(?:example|examples)\s+(?:of|for)\s+(?P<q>.+)$"),
    (EXPLAIN, r"\b(?:what|which)\s+(?:function|method|class|code|type)s?\s+(?P<q>.+)$"),
    (EXPLAIN, r"\b(?:explain|describe|summari[sz]e|document)\s+(?:to\s+me\s+)?(?:what\s+)?"
              + _S + r"(?:\s+(?:does|is|do))?$"),
    (EXPLAIN, r"\btell\s+me\s+(?:more\s+)?about\s+" + _S + "$"),
    (EXPLAIN, r"^(?:and\s+)?what\s+(?:is|are|'s)\s+(?:the\s+)?(?:purpose|point|meaning|role|"
              r"job)\s+of\s+" + _S + "$"),
    (DEFINITION, r"^(?:and\s+)?where(?:'s|\s+(?:is|are|can\s+i\s+find|do\s+i\s+find|"
                 r"would\s+i\s+find))\s+" + _S + "$"),
    (DEFINITION, r"^(?:show|find|get|give)\s+(?:me\s+)?" + _S + "$"),
    (EXPLAIN, r"^(?:and\s+)?what\s+(?:is|are|'s)\s+" + _S + "$"),
]]
_WHAT_ABOUT = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+" + _S + "$", re.I)

_KIND_WORDS = {"function": "function", "func": "function", "method": "method",
               "class": "class", "type": "class", "struct": "class", "interface": "class",
               "enum": "class", "trait": "class", "variable": "variable", "constant": "variable",
               "field": "field", "attribute": "field", "property": "field", "module": None,
               "file": None, "symbol": None, "definition": None, "identifier": None,
               "name": None, "object": None, "helper": "function", "routine": "function",
               "procedure": "function", "constructor": "method"}
PRONOUNS = {"it", "this", "that", "them", "they", "these", "those", "one", "same", "the same",
            "this one", "that one", "the same one", "he", "she", "its", "itself", "there", ""}
_ARTICLES = re.compile(r"^(?:the|a|an|this|that|our|my|your|its|their|some|all\s+(?:the\s+)?)\s+",
                       re.I)
_TRAILER = re.compile(
    r"\s+(?:in\s+(?:the\s+)?(?:code(?:base)?|project|repo(?:sitory)?|here|this\s+\w+|python|"
    r"javascript|typescript|go|rust|java|c\+\+|c#|c)|here|again|exactly|please|now|for\s+me|"
    r"then|too|also|anyway|at\s+all|first)$", re.I)
_MARKUP = re.compile(r"[`'\"“”‘’*]")


def clean_subject(text: str) -> tuple[str, str | None]:
    """The thing named in ``text`` without articles, markup and kind words, and the kind the
    words gave: ``"the `Store.write` method"`` → ``("Store.write", "method")``."""
    subject = _MARKUP.sub("", text).strip().rstrip("?!.,;: ")
    kind: str | None = None
    for _ in range(4):
        before = subject
        subject = _ARTICLES.sub("", subject)
        subject = _TRAILER.sub("", subject).strip()
        subject = re.sub(r"^(?:called|named)\s+", "", subject, flags=re.I)
        words = subject.split()
        if len(words) > 1 and words[0].lower() in _KIND_WORDS:
            kind = kind or _KIND_WORDS[words[0].lower()]
            subject = " ".join(words[1:])
            subject = re.sub(r"^(?:called|named)\s+", "", subject, flags=re.I)
        elif len(words) > 1 and _kind_word(words[-1]) is not False:
            kind = kind or _kind_word(words[-1]) or None
            subject = " ".join(words[:-1])
        if subject == before:
            break
    subject = re.sub(r"\(\s*\)$", "", subject).strip()
    return subject, kind


def _kind_word(word: str) -> str | Literal[False] | None:
    """The kind a word names ("methods" → "method"; None for "symbol"), False if none."""
    word = word.lower()
    for form in (word, word[:-1] if word.endswith("s") else None):
        if form is not None and form in _KIND_WORDS:
            return _KIND_WORDS[form]
    return False


def _looks_like_code(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return False
    if stripped.endswith("?") or re.match(r"^(?:where|who|what|how|why|which|can|could|please)\b",
                                          stripped, re.I):
        return False
    return bool(_CODE_LINE.match(line)) or line.startswith(("    ", "\t"))


def _code_intent(message: str) -> Intent | None:
    """A message carrying code: fenced, or trailing code lines after (or without) a request."""
    fence = _FENCE.search(message)
    if fence is not None:
        code = fence.group(2)
        if not code.strip():
            return None
        outside = (message[:fence.start()] + " " + message[fence.end():]).strip()
        unclosed = fence.group(0).rstrip().endswith("```") is False
        language = fence.group(1).lower() or None
        if _CONTINUE_WORDS.search(outside) or (unclosed and not _SIMILAR_WORDS.search(outside)):
            return Intent(CONTINUE, code=code, language=language, query=outside)
        return Intent(SIMILAR, code=code, language=language, query=outside)
    inline = re.match(r"^\s*(?:please\s+)?(?P<ask>(?:complete|continue|finish|autocomplete)"
                      r"(?:\s+(?:this|the|my))?(?:\s+(?:code|function|snippet|line|class))?)"
                      r"\s*:\s*(?P<code>\S.*)$", message, re.I | re.DOTALL)
    if inline is not None:
        return Intent(CONTINUE, code=inline.group("code"), query=inline.group("ask"))
    lines = message.split("\n")
    start = len(lines)
    while start > 0 and (_looks_like_code(lines[start - 1]) or
                         (not lines[start - 1].strip() and start < len(lines))):
        start -= 1
    code_lines = [ln for ln in lines[start:] if ln.strip()]
    if not code_lines:
        return None
    code = "\n".join(lines[start:])
    request = "\n".join(lines[:start]).strip()
    single = len(code_lines) == 1 and not request
    if single and not re.search(r"[(){}=:;]|\b(?:def|class|import|function|return)\b", code):
        return None  # one bare word or phrase is a name, not code
    if _SIMILAR_WORDS.search(request):
        return Intent(SIMILAR, code=code, query=request)
    return Intent(CONTINUE, code=code, query=request)


def classify(message: str) -> Intent:
    """The intent of one message from its wording alone."""
    coded = _code_intent(message)
    if coded is not None:
        return coded
    text = " ".join(message.split()).strip().rstrip("?!.").strip()
    if not text:
        return Intent(GREETING)
    about = _WHAT_ABOUT.match(text)
    if about is not None:
        subject, kind = clean_subject(about.group("s"))
        return Intent(OTHER, subject=subject, query=subject, symbol_kind=kind, follow_up=True)
    for kind, pattern in _RULES:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("q") is not None:
            return Intent(kind, query=_MARKUP.sub("", groups["q"]).strip())
        subject, symbol_kind = clean_subject(groups.get("s") or "")
        return Intent(kind, subject=subject, query=subject, symbol_kind=symbol_kind)
    if _GREETING.match(text) and len(text.split()) <= 8:
        return Intent(GREETING, query=text)
    subject, symbol_kind = clean_subject(text)
    return Intent(OTHER, subject=subject if len(subject.split()) <= 4 else None, query=text,
                  symbol_kind=symbol_kind)


def understand(turns: Sequence[tuple[str, str]], resolves: Callable[[str], bool]) -> Intent:
    """The intent of the last turn of a conversation (``(role, text)`` pairs of ``user`` and
    ``assistant`` turns, oldest first, the last one the user's), completed from the turns
    before it; ``resolves`` says whether a text names something the index defines."""
    intent = classify(turns[-1][1])
    earlier = turns[:-1]
    if intent.kind in NAMED and (intent.subject or "").lower() in PRONOUNS:
        subject = _last_subject(earlier, resolves)
        if subject is not None:
            return replace(intent, subject=subject[0], query=subject[0],
                           symbol_kind=intent.symbol_kind or subject[1], follow_up=True)
        return intent
    if intent.kind == OTHER and intent.follow_up:
        # "what about X?": the previous question, about X.
        previous = next((classify(text) for role, text in reversed(earlier)
                         if role == "user"), None)
        kind = previous.kind if previous is not None and previous.kind in NAMED else DEFINITION
        return replace(intent, kind=kind)
    if intent.kind == OTHER and intent.subject and resolves(intent.subject):
        return replace(intent, kind=DEFINITION)
    return intent


_BACKTICKED = re.compile(r"`([^`\n]+)`")


def _last_subject(turns: Sequence[tuple[str, str]],
                  resolves: Callable[[str], bool]) -> tuple[str, str | None] | None:
    """The latest thing the conversation was about: the first name an answer put in
    backticks that the index defines, or the subject of a question."""
    for role, text in reversed(turns):
        if role == "assistant":
            for match in _BACKTICKED.finditer(text):
                candidate = match.group(1)
                if ":" not in candidate and resolves(candidate):
                    return candidate, None
            continue
        intent = classify(text)
        subject = intent.subject
        if subject and subject.lower() not in PRONOUNS and resolves(subject):
            return subject, intent.symbol_kind
    return None
