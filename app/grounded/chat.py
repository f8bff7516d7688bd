"""``GroundedChat``: a conversation's last question, answered from the code index.

The router (:mod:`app.grounded.intent`) says what is asked, names resolve through the index
(:mod:`app.grounded.names`), :mod:`app.grounded.retrieve` finds the definitions, call sites,
passages or similar code, and :mod:`app.grounded.answer` writes them up with their sources.
A request to continue code is not answered here: the answer carries the code, and the
caller runs the completion engine on it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

import apsw

from app.chat_template import Message
from app.code.symbols import StoredSymbol
from app.errors import HypercubeError
from app.grounded import intent as intents
from app.grounded.answer import (
    CONTEXT_LINES,
    Answer,
    Composer,
    cut,
    describe,
    plural,
    site_label,
    summary,
)
from app.grounded.intent import Intent, understand
from app.grounded.retrieve import Retriever, SearchResult
from app.store import Store

SHOWN = 3            # definitions, call sites or matches written out in full
MIN_COVERAGE = 0.5   # share of a question's words a match must contain to count as relevant


def capabilities(documents: int, definitions: int) -> str:
    return (f"I answer from the code in this hypercube ({plural(documents, 'file')}, "
            f"{plural(definitions, 'definition')}) and cite the file and line of everything "
            "I show. Ask me where something is defined (“where is parse_args defined?”), "
            "what it does (“explain Store.write”), who calls it, how to do something "
            "(“how do I read a config file?”); paste code to find code like it, or ask me "
            "to complete code.")


class GroundedChat:
    """Answers questions about the ingested code (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.retriever = Retriever(store)
        self._warming: threading.Thread | None = None

    @classmethod
    def open(cls, path: str | Path) -> GroundedChat:
        return cls(Store(path, readonly=True))

    def start_warming(self) -> None:
        """Build the name lexicon and the word index in the background now (seconds on a
        large hypercube), so that the first question does not wait for them."""
        self._warming = threading.Thread(target=self._warm, name="grounded-warm-up",
                                         daemon=True)
        self._warming.start()

    def _warm(self) -> None:
        try:
            with self.retriever.reading() as retriever:
                retriever.lexicon  # noqa: B018 - built on first use
                retriever.text_index  # noqa: B018
        except (apsw.Error, HypercubeError):
            pass  # the first question builds them instead, and reports what is wrong

    def close(self) -> None:
        if self._warming is not None:
            self._warming.join()
        self.store.close()

    def answer(self, messages: Sequence[Message]) -> Answer:
        """The answer to the conversation's last user message."""
        turns = [(m.role, m.content) for m in messages if m.role in ("user", "assistant")]
        while turns and turns[-1][0] != "user":
            turns.pop()
        if not turns:
            return Answer("There is no question to answer: the conversation has no user "
                          "message.\n")
        with self.retriever.reading() as retriever:
            found = understand(turns, lambda text: bool(retriever.resolve(text)))
            return self._dispatch(retriever, found)

    # -- by intent --------------------------------------------------------------------------

    def _dispatch(self, retriever: Retriever, found: Intent) -> Answer:
        if found.kind == intents.CONTINUE and found.code:
            return Answer("", [], found.kind, code=found.code, language=found.language)
        if found.kind == intents.SIMILAR and found.code:
            return self._similar(retriever, found)
        if found.kind == intents.GREETING:
            return Answer(capabilities(*retriever.counts()) + "\n", [], found.kind)
        if found.kind in intents.NAMED and found.subject:
            return self._named(retriever, found)
        if found.kind in (intents.HOWTO, intents.EXPLAIN):
            return self._search(retriever, found, found.query or found.subject or "")
        return self._search(retriever, found, found.query)

    def _named(self, retriever: Retriever, found: Intent) -> Answer:
        subject = found.subject or ""
        candidates = retriever.resolve(subject)
        definitions: list[StoredSymbol] = []
        resolved = None
        for candidate in candidates[:4]:
            definitions = retriever.definitions(candidate, found.symbol_kind)
            if definitions or found.kind == intents.CALLERS:
                resolved = candidate
                break
        if resolved is None:
            if len(subject.split()) > 1 or found.kind == intents.EXPLAIN:
                # "what does the function that parses dates do": words, not a name.
                return self._search(retriever, found, subject, named=subject)
            return self._nothing(retriever, found.kind,
                                 f"No definition named `{subject}` is in the hypercube, "
                                 "and no defined name is close to it.")
        if found.kind == intents.CALLERS:
            return self._callers(retriever, found, resolved.name, resolved.query,
                                 definitions, typed=subject)
        return self._definitions(retriever, found, definitions, typed=subject,
                                 how=resolved.how)

    def _definitions(self, retriever: Retriever, found: Intent, definitions: list[StoredSymbol],
                     *, typed: str, how: str) -> Answer:
        out = Composer(found.kind)
        first = definitions[0].symbol
        name = first.qualified_name
        meant = "" if how == "exact" else f" (the closest defined name to `{typed}`)"
        where = retriever.document(definitions[0].doc_id).display_path
        if found.kind == intents.EXPLAIN:
            text = f"`{name}`{meant} is a {first.kind} in `{where}:{first.start_line}`."
            if first.doc:
                text += f" Its documentation says: {summary(first.doc)}"
            else:
                text += " It has no docstring; here is its code."
            if len(definitions) > 1:
                text += f" ({plural(len(definitions) - 1, 'other definition')} of the name " \
                        "follow.)"
            out.say(text)
        elif len(definitions) == 1:
            out.say(f"`{name}`{meant} is defined once: the {first.kind} in "
                    f"`{where}:{first.start_line}`.")
        else:
            out.say(f"`{first.name}`{meant} has {plural(len(definitions), 'definition')}; "
                    f"the most likely is the {first.kind} `{name}` in "
                    f"`{where}:{first.start_line}`.")
        for stored in definitions[:SHOWN]:
            self._cite_definition(retriever, out, stored, "definition")
        if len(definitions) > SHOWN:
            rest = ", ".join(
                f"`{retriever.document(s.doc_id).display_path}:{s.symbol.start_line}`"
                for s in definitions[SHOWN:SHOWN + 5])
            out.say(f"Also defined at {rest}" + (" and more." if len(definitions) >
                                                 SHOWN + 5 else "."))
        return out.answer()

    def _cite_definition(self, retriever: Retriever, out: Composer, stored: StoredSymbol,
                         kind: str, label: str | None = None) -> None:
        symbol = stored.symbol
        document = retriever.document(stored.doc_id)
        code, more = cut(retriever.lines(stored.doc_id, symbol.start_line, symbol.end_line))
        out.cite(path=document.path, display_path=document.display_path,
                 line=symbol.start_line, end_line=symbol.end_line, kind=kind,
                 name=symbol.qualified_name, language=symbol.language, code=code,
                 label=label or describe(symbol), more_lines=more)

    def _callers(self, retriever: Retriever, found: Intent, name: str, query: str,
                 definitions: list[StoredSymbol], *, typed: str) -> Answer:
        out = Composer(found.kind)
        sites, total = retriever.call_sites(query)
        if not sites:
            defined = ""
            if definitions:
                definition = definitions[0]
                defined = (f" It is defined in "
                           f"`{retriever.document(definition.doc_id).display_path}:"
                           f"{definition.symbol.start_line}`.")
            return self._nothing(retriever, found.kind,
                                 f"Nothing in the hypercube calls or uses `{name}`.{defined}")
        calls = sites[0].kind == "call"
        meant = "" if name == typed.split(".")[-1].split("::")[-1] else \
            f" (the closest defined name to `{typed}`)"
        what = "called" if calls else "used (never called directly)"
        files = len({s.path for s in sites})
        spread = f" ({plural(files, 'file')})" if total == len(sites) else ""
        lead = f"`{name}`{meant} is {what} in {plural(total, 'place')}{spread}"
        out.say(f"{lead}; the first {SHOWN}:" if total > SHOWN else f"{lead}:")
        for site in sites[:SHOWN]:
            document = retriever.document_at(site.path)
            if document is None:
                continue
            first = max(1, site.line - CONTEXT_LINES)
            last = site.line + CONTEXT_LINES
            code = retriever.lines(document.id, first, last).rstrip("\n")
            last = first + code.count("\n")
            out.cite(path=site.path, display_path=document.display_path, line=site.line,
                     end_line=site.line, kind="call" if site.kind == "call" else "reference",
                     name=site.enclosing, language=site.language, code=code,
                     label=site_label(site))
        if total > SHOWN:
            rest = ", ".join(f"`{shown.display_path}:{s.line}`"
                             for s in sites[SHOWN:SHOWN + 6]
                             if (shown := retriever.document_at(s.path)) is not None)
            if rest:
                out.say(f"Others: {rest}" + (" and more." if total > SHOWN + 6 else "."))
        return out.answer()

    def _search(self, retriever: Retriever, found: Intent, text: str, *,
                named: str | None = None) -> Answer:
        results = [r for r in retriever.search(text, limit=8) if r.coverage >= MIN_COVERAGE]
        if not results:
            return self._nothing(retriever, found.kind,
                                 f"I found nothing in the hypercube about “{text.strip()}”."
                                 if text.strip() else "I found nothing relevant.")
        best = results[0].score
        results = [r for r in results if r.score >= 0.35 * best][:SHOWN]
        out = Composer(found.kind)
        top = results[0]
        lead = self._title(retriever, top)
        if named is not None:
            out.say(f"No definition is named `{named}`; by its words, the closest match is "
                    f"{lead}.")
        elif found.kind == intents.EXPLAIN and top.symbol is not None:
            symbol = top.symbol.symbol
            doc = f" Its documentation says: {summary(symbol.doc)}" if symbol.doc else ""
            out.say(f"The best match is {lead}.{doc}")
        else:
            others = plural(len(results) - 1, "other match", "other matches")
            more = f", then {others}" if len(results) > 1 else ""
            out.say(f"For “{text.strip()}”, the best match is {lead}{more}:")
        for result in results:
            self._cite_result(retriever, out, result)
        return out.answer()

    @staticmethod
    def _title(retriever: Retriever, result: SearchResult) -> str:
        if result.symbol is not None:
            symbol = result.symbol.symbol
            where = retriever.document(result.symbol.doc_id).display_path
            return f"the {symbol.kind} `{symbol.qualified_name}` in `{where}:{symbol.start_line}`"
        document = retriever.document(result.entry.doc_id)
        return f"a passage of `{document.display_path}:{result.entry.line}`"

    def _cite_result(self, retriever: Retriever, out: Composer, result: SearchResult) -> None:
        if result.symbol is not None:
            self._cite_definition(retriever, out, result.symbol, "definition")
            return
        entry = result.entry
        document = retriever.document(entry.doc_id)
        code, more = cut(retriever.lines(entry.doc_id, entry.line, entry.end_line))
        out.cite(path=document.path, display_path=document.display_path, line=entry.line,
                 end_line=entry.end_line, kind="passage", name=None,
                 language=document.language, code=code, label="passage", more_lines=more)

    def _similar(self, retriever: Retriever, found: Intent) -> Answer:
        hits = retriever.similar(found.code or "", found.language)
        if not hits:
            names = " ".join(sorted(set(re.findall(r"[A-Za-z_]\w{2,}", found.code or ""))))
            results = [r for r in retriever.search(names, limit=SHOWN) if r.symbol is not None]
            if not results:
                return self._nothing(retriever, found.kind,
                                     "I found no code shaped like your snippet, and none "
                                     "that uses its names.")
            out = Composer(found.kind)
            out.say("I found no code shaped like your snippet; these definitions share most "
                    f"of its names, the closest first ({self._title(retriever, results[0])}):")
            for result in results:
                self._cite_result(retriever, out, result)
            return out.answer()
        out = Composer(found.kind)
        first = hits[0]
        exact = " (the same shape: a copy, perhaps renamed)" if first.exact else ""
        out.say(f"The code most like your snippet is the {first.symbol.kind} "
                f"`{first.symbol.qualified_name}`{exact}; "
                f"{plural(min(len(hits), SHOWN), 'match', 'matches')} by similarity of shape:")
        for hit in hits[:SHOWN]:
            document = retriever.document_at(hit.symbol.path)
            if document is None:
                continue
            stored = StoredSymbol(hit.symbol, document.id, None)
            self._cite_definition(retriever, out, stored, "similar",
                                  f"{describe(hit.symbol)}, similarity {hit.score:.2f}")
        return out.answer()

    @staticmethod
    def _nothing(retriever: Retriever, kind: str, sentence: str) -> Answer:
        documents, definitions = retriever.counts()
        if not documents:
            sentence += " The hypercube holds no documents yet: ingest your code first " \
                        "(`hypercube ingest PATH`)."
        else:
            sentence += " " + capabilities(documents, definitions)
        return Answer(sentence + "\n", [], kind)
