"""Line and block decoding: a beam search for the most probable completion of the scope.

IDE completion wants the most probable *line* (or block), not a greedy chain of tokens: a
greedy first token that starts a rare line can beat the first token of a common one. The
search keeps ``width`` partial completions (each in its own session, copied from its parent
rather than re-read), extends each by its most likely tokens, and collects those that reach
the end of the scope (the end of the line, of the block, the start of the suffix, a stop
sequence). Scores are the model's own log-probabilities; ranking them (length-aware, parse
and names checked) is app/engine/ranking.py's job.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from app.engine.healing import TokenPrefixIndex
from app.engine.indent_prior import IndentPrior
from app.engine.scope import (
    BlockEnd,
    SuffixLine,
    first_body_indent,
    indent_width,
    suffix_takeover,
)
from app.engine.types import FinishReason
from app.model import Session
from jit import Kernels

# A live beam this far (in nats) below the best finished candidate cannot catch up.
PRUNE_MARGIN = 12.0
# A candidate that starts repeating itself loses this much per token that extends the loop.
LOOP_PENALTY = 3.0
# ... and a new block whose first line is not one indentation step (the file's own) deeper
# than its opener, this much once: a body at 8 spaces under a `def` at 0 is legal Python
# and nobody writes it, but the model, which sees a few tokens back (a method's body is
# commoner than a function's), offers it first by several nats.
INDENT_PENALTY = 8.0
# ... and a line started at the cursor at a depth the file rarely gives such a line, this
# share of how much rarer it is than the likeliest depth (at most INDENT_PRIOR_MAX nats).
INDENT_PRIOR_WEIGHT = 1.0
INDENT_PRIOR_MAX = 8.0
# ... and a block that ends with a parenthesis or square bracket it opened still open,
# this much per bracket, and per line it ends inside a string (as ranking.PARSE_PENALTY
# does for a parse error).
UNCLOSED_PENALTY = 15.0
_LOOP_MIN = 4
# Places for beams that hold only blanks yet, per unit of width: a new block's first line
# can start with any of a dozen line-break-and-indentation tokens (see search()).
NEW_BLOCK_BLANK_WIDTH = 3
# Blank lines in a row a block may hold (code keeps one or two between its parts; a run of
# them is the model's cache copying line breaks until the budget runs out).
MAX_BLANK_LINES = 2
_LOOP_MAX = 48
# Places for beams that have written only part of the text healing took back, per unit of
# width. The tokenizer writes a line break and its indentation as one token but the last
# space with the next word (``\n       `` + `` return``), so a prompt ending in an indent is
# continued by a token that covers part of it; the likeliest such tokens are often the
# wrong part (``\n   `` after a 10-space indent, whose rest no token then writes
# plausibly), and without places of their own they crowd out the one the line grows from.
HEALING_WIDTH = 4
# Beams kept after the first token, per unit of width. The first token decides what the
# line is (``total = `` + `` self`` / `` c`` / `` None`` / `` 0``), and its likeliest few
# are often starts that go nowhere the ranker accepts (names nothing defines); later tokens
# mostly go on in the line's direction. Dev split: lines ES +0.4 at 2 to 5 alike.
FIRST_STEP_WIDTH = 3
# What a block's closing line holds besides its bracket.
_CLOSING = " \t\n)]};,"



@dataclass
class SearchPlan:
    scope: str                    # "line" or "block"
    required: bytes               # text healing took back from the prompt
    block: BlockEnd | None        # the block's end tracker (block scope)
    suffix_line: SuffixLine | None  # the suffix's first non-blank line (block scope, FIM)
    stops: list[str]
    width: int
    budget: int
    at_line_start: bool           # the cursor's line is blank so far: no empty line
    indented: bool = False        # the cursor follows an indent: code starts right here
    # The cursor's block opener (`{`, `:`) was just typed (the cursor right after it, or on
    # the blank line below it): the completion is the new block's body, so neither a
    # closing bracket alone (an empty block) nor, right after the opener, more code on the
    # opener's line (a healed `{` taken on as `{@code`) is a completion.
    new_block: bool = False
    after_opener: bool = False
    # The indentation the new block's first line should have (a candidate elsewhere loses
    # INDENT_PENALTY), or the deepest the line being started may go (deeper is dropped);
    # None: not judged. And the cursor's line before the completion.
    body_indent: int | None = None
    indent_limit: int | None = None
    line_head: str = ""
    # The indentation a closing bracket starting the line must have (the line of the
    # bracket it closes); a closer elsewhere loses INDENT_PENALTY. None: not judged.
    closer_indent: int | None = None
    # How likely each depth is for the line started at the cursor, by the file's own
    # habits (app/engine/indent_prior.py); None: not judged.
    indent_prior: IndentPrior | None = None


@dataclass
class Found:
    tokens: list[int]
    logprobs: list[float]
    text: str
    finish: FinishReason          # "stop": the scope ended; "length": the budget did
    logprob: float


@dataclass
class _Beam:
    session: Session
    tokens: list[int]
    logprobs: list[float]
    logprob: float
    required: bytes
    data: bytes = b""
    text: str = ""
    exact: bool = True            # every token's text was whole UTF-8
    block: BlockEnd | None = None
    indent_judged: bool = False   # the new block's first line has shown its indentation


def _best_per_text(found: list[Found]) -> dict[str, float]:
    best: dict[str, float] = {}
    for item in found:
        if item.logprob > best.get(item.text, -math.inf):
            best[item.text] = item.logprob
    return best


def blank_width(plan: SearchPlan) -> int:
    """How many beams holding only blanks a search keeps besides ``width`` others (0: they
    take the same places as the others)."""
    return NEW_BLOCK_BLANK_WIDTH * plan.width if plan.new_block else 0


def healing_width(plan: SearchPlan) -> int:
    """How many beams that still owe part of the healed indentation a search keeps besides
    the others (0 when healing took back no line break or indentation)."""
    return HEALING_WIDTH * plan.width if plan.required and not plan.required.strip() else 0


def sessions_needed(plan: SearchPlan) -> int:
    """Spare sessions :func:`search` needs: its live beams and their children."""
    return 2 * (plan.width * FIRST_STEP_WIDTH + blank_width(plan) + healing_width(plan))


def search(sessions: list[Session], base: Session, index: TokenPrefixIndex,
           token_bytes: list[bytes], kernels: Kernels, plan: SearchPlan,
           cancel: threading.Event | None = None) -> list[Found]:
    """The finished candidates, unordered. ``base`` holds the prompt (healed) and is not
    changed; ``sessions`` are :func:`sessions_needed` spare sessions of the same model."""
    spare = list(sessions)
    root = spare.pop()
    root.copy_from(base)
    beams = [_Beam(root, [], [], 0.0, plan.required,
                   block=plan.block.copy() if plan.block else None)]
    finished: list[Found] = []
    blank_places = blank_width(plan)
    healing_places = healing_width(plan)
    log = math.log
    largest = kernels.top
    line_ends = index.compatible(b"\n") if plan.scope == "line" else None
    if line_ends is not None and not len(line_ends):
        line_ends = None
    budget_spent = True
    for step in range(plan.budget):
        width = plan.width * (FIRST_STEP_WIDTH if step == 0 else 1)
        if cancel is not None and cancel.is_set():
            budget_spent = False
            break
        pool: list[tuple[float, int, int, float]] = []
        for number, beam in enumerate(beams):
            probs = beam.session.distribution()
            if beam.required:
                ids = index.compatible(beam.required)
                values = probs[ids]
            else:
                ids = None
                values = probs
            # Until the completion shows its first character, more continuations are looked
            # at: some of the likeliest (more indentation, an empty line) are not allowed.
            wanted = width if beam.text.strip() else 4 * width
            for j in (beam.session.top(wanted) if ids is None else largest(values, wanted)):
                p = float(values[j])
                token = j if ids is None else int(ids[j])
                lp = log(p)
                pool.append((beam.logprob + lp, number, token, lp))
            if line_ends is not None and ids is None and beam.text.strip():
                # The line ending here is one event, whichever of the dozens of line-break
                # (and indentation) tokens writes it: its probability is theirs summed.
                # Each alone is often below the width-th continuation, so a short line
                # (``return``) lost to longer ones while the chance that it ends was high.
                mass = probs[line_ends]
                total = float(mass.sum())
                if total > 0.0:
                    lp = log(total)
                    token = int(line_ends[int(mass.argmax())])
                    pool.append((beam.logprob + lp, number, token, lp))
        pool.sort(reverse=True)
        ceiling = max((f.logprob for f in finished), default=-math.inf) - PRUNE_MARGIN
        # Continuations are judged in the model's order until no later one can reach the
        # best ``width`` judged live ones (penalties only lower a score), then the best
        # are kept: the penalties (a loop, a misindented body) reorder them, so a penalised
        # one does not take a place a better one needed.
        extended: list[tuple[float, int, int, _Beam | Found]] = []
        live: list[float] = []
        # Only a beam with nothing but blanks yet has children that are blank too, and
        # only one that owes healed text has children that owe some.
        blank_live = 0 if any(not beam.text.strip() for beam in beams) else blank_places
        healing_live = 0 if any(beam.required for beam in beams) else healing_places
        for score, number, token, lp in pool:
            if score < ceiling:
                break
            full = len(live) >= width and score <= live[width - 1] \
                and blank_live >= blank_places
            if full and healing_live >= healing_places:
                break
            outcome = _extend(beams[number], token, lp, token_bytes, plan)
            if outcome is None or (full and not _owes(outcome)):
                continue  # (only a beam that owes healed text may still take a place)
            extended.append((outcome.logprob, number, token, outcome))
            if isinstance(outcome, _Beam):
                if healing_places and _owes(outcome):
                    healing_live += 1
                elif outcome.text.strip() or not blank_places:
                    live.append(outcome.logprob)
                    live.sort(reverse=True)
                else:
                    blank_live += 1
        extended.sort(key=lambda item: -item[0])
        # Beams that have written only a line break and indentation get places of their
        # own: the tokenizer joins a line break with some of the indentation, so the
        # likeliest such beams are often indented wrongly (a body line at the opener's
        # depth ends the block) and would crowd out the one the right line grows from.
        survivors: list[_Beam] = []
        chosen: list[int] = []  # each survivor's token
        blanks = healing = 0
        for _, number, token, outcome in extended:
            full = len(survivors) - blanks - healing >= width and blanks >= blank_places
            if full and healing >= healing_places:
                break
            if full and not _owes(outcome):
                continue
            if isinstance(outcome, Found):
                finished.append(outcome)
                continue
            if healing_places and _owes(outcome):
                if healing >= healing_places:
                    continue
                healing += 1
            elif outcome.text.strip() or not blank_places:
                if len(survivors) - blanks - healing >= width:
                    continue
            elif blanks >= blank_places:
                continue
            else:
                blanks += 1
            outcome.session = beams[number].session  # the parent's, until _give_sessions
            survivors.append(outcome)
            chosen.append(token)
        _give_sessions(survivors, [beam.session for beam in beams], spare, chosen)
        beams = survivors
        if not beams:
            budget_spent = False
            break
        # Enough when ``width`` different texts are done (two tokenizations of one text
        # are one candidate to the caller) and no open beam can beat the width-th best.
        texts = _best_per_text(finished)
        if len(texts) >= width:
            top = sorted(texts.values(), reverse=True)[width - 1]
            if max(b.logprob for b in beams) < top:
                budget_spent = False
                break
    # Beams still open are partial lines: candidates only when the budget ran out first
    # or too few texts finished (a search stopped early keeps what reached the end).
    if len(_best_per_text(finished)) < plan.width or budget_spent:
        for beam in beams:
            text = beam.text
            if beam.block is not None:
                text = _whole_lines(text[:beam.block.finish()])
            if not text.strip() and (plan.at_line_start or plan.scope == "block"):
                continue  # blanks only: no completion (the caller gets none rather than them)
            finished.append(Found(beam.tokens, beam.logprobs, text, "length", beam.logprob))
    spare.extend(b.session for b in beams)
    return finished


def _owes(outcome: _Beam | Found) -> bool:
    """Whether ``outcome`` is a live beam that has yet to write part of the healed text."""
    return isinstance(outcome, _Beam) and bool(outcome.required)


def _give_sessions(children: list[_Beam], parents: list[Session], spare: list[Session],
                   tokens: list[int]) -> None:
    """Give each child (whose ``session`` is still its parent's) a session holding the
    parent's history and then the child's token. A parent's last child takes the parent's
    own session, so a beam with one child (most of them) costs no copy; the others get a
    spare session copied from it, before the parent's moves on. Parents' sessions that no
    child took go back to ``spare``."""
    owners = [child.session for child in children]
    last = {id(owner): number for number, owner in enumerate(owners)}
    for number, (child, owner) in enumerate(zip(children, owners, strict=True)):
        if last[id(owner)] != number:
            child.session = spare.pop()
            child.session.copy_from(owner)
            child.session.push(tokens[number])
    for number, owner in enumerate(owners):
        if last[id(owner)] == number:
            owner.push(tokens[number])
    spare.extend(session for session in parents if id(session) not in last)


def _extend(parent: _Beam, token: int, lp: float, token_bytes: list[bytes],
            plan: SearchPlan) -> _Beam | Found | None:
    """The parent with ``token`` appended: a live beam (its session still to be set), a
    finished candidate, or None for a continuation that is not worth keeping."""
    piece = token_bytes[token]
    required = parent.required
    if required:
        if piece.startswith(required):
            piece = piece[len(required):]
            required = b""
        else:
            required = required[len(piece):]
            piece = b""
    try:
        new = piece.decode("utf-8")
        exact = parent.exact
    except UnicodeDecodeError:
        new = piece.decode("utf-8", errors="replace")
        exact = False
    tokens = [*parent.tokens, token]
    logprobs = [*parent.logprobs, lp]
    logprob = parent.logprob + lp
    before = parent.text
    text = before + new
    if plan.indented and not before and text[:1] in (" ", "\t"):
        return None  # the caller typed the indentation: no more of it
    if plan.scope == "block" and "\n" in new:
        blanks = _blank_lines_at_end(text)
        if blanks > MAX_BLANK_LINES or (blanks and plan.new_block and not text.strip()):
            return None  # a run of blank lines, or a new block's body after a blank one
    if plan.after_opener and "\n" not in before and not _rest_of_opener_line(text):
        return None
    if len(text) >= 2 * _LOOP_MIN and new.strip():
        logprob -= LOOP_PENALTY * _looping(text)
    indent_judged = parent.indent_judged
    if not indent_judged and (plan.body_indent is not None or plan.indent_limit is not None):
        indent_judged, wrong = _judge_indent(plan, text)
        if wrong and plan.body_indent is None:
            return None  # deeper than the line above it: a syntax error, not a completion
        logprob -= INDENT_PENALTY * wrong
    if plan.closer_indent is not None and not before.strip() and new.strip():
        logprob -= INDENT_PENALTY * _misplaced_closer(plan, text)
    if plan.indent_prior is not None and not before.strip() and new.strip():
        logprob -= INDENT_PRIOR_WEIGHT * min(plan.indent_prior.cost(text), INDENT_PRIOR_MAX)
    cut = _stop_at(before, new, plan.stops)
    block = None
    if plan.scope == "line":
        newline = new.find("\n")
        if newline >= 0:
            line_cut = len(before) + newline
            cut = line_cut if cut is None else min(cut, line_cut)
    else:
        block = parent.block.copy() if parent.block is not None else None
        if block is not None:
            broken = block.unterminated
            block_cut = block.feed(new)
            # A line left inside a string: broken code, whatever it scores.
            logprob -= UNCLOSED_PENALTY * (block.unterminated - broken)
            if plan.new_block and not block.plausible_close(block.text):
                return None
            if block_cut is not None:
                # Ended with a bracket of its own still open (a call's `(` when a `}` came):
                # broken code, whatever it scores.
                logprob -= UNCLOSED_PENALTY * len(block.inner.strip("{"))
                block_cut = len(text[:block_cut].rstrip(" \t\n"))
                cut = block_cut if cut is None else min(cut, block_cut)
        if plan.suffix_line is not None and "\n" in new:
            taken = suffix_takeover(text, plan.suffix_line, complete=False)
            if taken is not None:
                taken = len(text[:taken].rstrip(" \t\n"))
                cut = taken if cut is None else min(cut, taken)
    if cut is not None:
        if not exact:
            text = (parent.data + piece).decode("utf-8", errors="replace")
        done = text[:cut]
        if not done.strip() and (plan.at_line_start or plan.scope == "block"):
            return None  # an empty line or block: not a completion anyone wants
        if plan.new_block and not done.strip(_CLOSING):
            return None  # the block closed with nothing in it
        return Found(tokens, logprobs, done, "stop", logprob)
    return _Beam(parent.session, tokens, logprobs, logprob, required, parent.data + piece, text,
                 exact, block, indent_judged)


def _judge_indent(plan: SearchPlan, text: str) -> tuple[bool, bool]:
    """(judged, wrong) for the indentation of the first line the completion starts. Blanks
    deeper than allowed are wrong already: judged before the beam fills up with them and
    the right indentation is pruned unjudged."""
    exact, limit = plan.body_indent, plan.indent_limit
    deepest = exact if exact is not None else limit
    opener_here = exact is not None and bool(plan.line_head.strip())
    indent = first_body_indent(plan.line_head, text, opener_here, deepest)
    if indent is None:
        return False, False
    if exact is not None:
        return True, indent != exact
    return True, limit is not None and indent > limit


def _misplaced_closer(plan: SearchPlan, text: str) -> bool:
    """Whether the line ``text`` starts opens with a closing bracket indented otherwise than
    the line of the bracket it closes."""
    code = text.lstrip(" \t")
    if not code or code[0] not in ")]}" or "\n" in text[:len(text) - len(code)]:
        return False
    return indent_width(plan.line_head + text[:len(text) - len(code)]) != plan.closer_indent


def _blank_lines_at_end(text: str) -> int:
    """Blank lines ``text`` ends with (the line it ends on counts once it is blank)."""
    tail = text[len(text.rstrip(" \t\n")):]
    return max(tail.count("\n") - 1, 0)


def _whole_lines(text: str) -> str:
    """A block the budget cut short, without its unfinished last line (when it has a
    finished one with code) or the comment it ends inside: half a statement or an unclosed
    ``/*`` is a parse error and no help to anyone."""
    last = text.rfind("\n")
    if last <= 0 or not text[:last].strip():
        return text
    text = text[:last].rstrip(" \t\n")
    opened = text.rfind("/*")
    if opened > text.rfind("*/"):
        line = text.rfind("\n", 0, opened)
        if line > 0 and text[:line].strip():
            text = text[:line].rstrip(" \t\n")
    return text


def _rest_of_opener_line(text: str) -> bool:
    """Whether ``text``, written right after a block opener, may still be the end of the
    opener's line: blanks, then a line break or a comment."""
    head = text.split("\n", 1)[0].lstrip(" \t")
    return not head or head[0] in "#/"


def _looping(text: str) -> int:
    """1 if the text ends with a piece of it written twice in a row (``"a", "a", "``), the
    loop a model with a copy cache falls into; pieces without a letter (``0, 0, ``) and
    shorter than _LOOP_MIN characters may repeat."""
    for size in range(_LOOP_MIN, min(_LOOP_MAX, len(text) // 2) + 1):
        unit = text[-size:]
        if text[-2 * size:-size] == unit and any(c.isalpha() for c in unit):
            return 1
    return 0


def _stop_at(before: str, new: str, stops: list[str]) -> int | None:
    if not stops or not new:
        return None
    text = before + new
    cuts = [text.find(stop, max(0, len(before) - len(stop) + 1)) for stop in stops]
    cuts = [c for c in cuts if c >= 0]
    return min(cuts) if cuts else None
