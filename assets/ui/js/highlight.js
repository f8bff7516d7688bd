// A small syntax highlighter for the languages Hypercube parses: one scanner over the whole
// text (so multi-line strings and comments stay coloured), then the tokens are cut into
// numbered lines. It builds DOM nodes, never HTML strings.

import { h } from "./dom.js";

const C_LIKE = "if else for while do switch case default break continue return goto sizeof typedef struct union enum const static extern volatile inline void char short int long float double signed unsigned bool true false NULL nullptr class public private protected virtual override template typename namespace using new delete this throw try catch operator friend auto register";
const KEYWORDS = {
  python: "False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda match case nonlocal not or pass raise return try type while with yield self",
  javascript: "await break case catch class const continue debugger default delete do else export extends false finally for from function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while with yield async",
  typescript: "abstract any as async await boolean break case catch class const constructor continue declare default delete do else enum export extends false finally for from function if implements import in infer instanceof interface is keyof let module namespace never new null number object of private protected public readonly return static string super switch symbol this throw true try type typeof undefined unknown var void while yield",
  go: "break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false iota",
  rust: "as async await break const continue crate dyn else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while",
  java: "abstract assert boolean break byte case catch char class const continue default do double else enum extends final finally float for goto if implements import instanceof int interface long native new null package private protected public return short static super switch synchronized this throw throws transient try void volatile while true false var record",
  c: C_LIKE,
  cpp: C_LIKE,
  c_sharp: "abstract as base bool break byte case catch char checked class const continue decimal default delegate do double else enum event explicit extern false finally fixed float for foreach goto if implicit in int interface internal is lock long namespace new null object operator out override params private protected public readonly ref return sbyte sealed short sizeof static string struct switch this throw true try typeof uint ulong unchecked unsafe ushort using var virtual void volatile while async await record",
};
KEYWORDS.csharp = KEYWORDS.c_sharp;
KEYWORDS.tsx = KEYWORDS.typescript;

const HASH_COMMENT = new Set(["python"]);
const keywordSets = {};

function keywords(language) {
  const key = KEYWORDS[language] ? language : "";
  if (!keywordSets[key]) keywordSets[key] = new Set((KEYWORDS[key] || "").split(" "));
  return keywordSets[key];
}

export function languageOf(path) {
  const ext = (path.split(".").pop() || "").toLowerCase();
  return { py: "python", pyi: "python", js: "javascript", mjs: "javascript", cjs: "javascript", jsx: "javascript",
    ts: "typescript", tsx: "typescript", go: "go", rs: "rust", java: "java", c: "c", h: "c",
    cc: "cpp", cpp: "cpp", cxx: "cpp", hpp: "cpp", hh: "cpp", cs: "c_sharp" }[ext] || "text";
}

/** Split text into [class, text] tokens. */
export function tokenize(text, language) {
  const kw = keywords(language);
  const hash = HASH_COMMENT.has(language);
  const source = hash
    ? String.raw`([rbfuRBFU]{0,2}"""[\s\S]*?(?:"""|$)|[rbfuRBFU]{0,2}'''[\s\S]*?(?:'''|$)|[rbfuRBFU]{0,2}"(?:\\.|[^"\\\n])*"?|[rbfuRBFU]{0,2}'(?:\\.|[^'\\\n])*'?)|(#.*)`
    : String.raw`("(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?|` + "`(?:\\\\.|[^`\\\\])*`?" + String.raw`)|(\/\/.*|\/\*[\s\S]*?(?:\*\/|$))`;
  const re = new RegExp(`${source}|(\\b\\d[\\d_]*(?:\\.\\d+)?(?:[eE][+-]?\\d+)?[a-zA-Z]*\\b|\\b0[xX][\\da-fA-F_]+\\b)|([A-Za-z_$][\\w$]*)(\\s*\\()?`, "g");
  const tokens = [];
  let last = 0;
  for (let m; (m = re.exec(text));) {
    if (m.index > last) tokens.push(["", text.slice(last, m.index)]);
    if (m[1] !== undefined) tokens.push(["tok-str", m[1]]);
    else if (m[2] !== undefined) tokens.push(["tok-com", m[2]]);
    else if (m[3] !== undefined) tokens.push(["tok-num", m[3]]);
    else {
      const word = m[4];
      tokens.push([kw.has(word) ? "tok-kw" : m[5] ? "tok-fn" : "", word]);
      if (m[5]) tokens.push(["", m[5]]);
    }
    last = re.lastIndex;
  }
  if (last < text.length) tokens.push(["", text.slice(last)]);
  return tokens;
}

/**
 * A <pre> of numbered lines, starting at `firstLine`; lines in `hits` are marked, and
 * `mark` (a string) is highlighted wherever it occurs, even across token boundaries.
 */
export function codeBlock(text, { language = "text", firstLine = 1, hits = new Set(), mark = "", className = "snippet" } = {}) {
  const pre = h("pre", { class: className, tabindex: 0 });
  const code = h("code", {});
  pre.append(code);
  const lines = [[]];
  for (const [cls, piece] of tokenize(text, language)) {
    piece.split("\n").forEach((part, i) => {
      if (i > 0) lines.push([]);
      if (part) lines[lines.length - 1].push([cls, part]);
    });
  }
  lines.forEach((pieces, i) => {
    const n = firstLine + i;
    const line = h("span", { class: hits.has(n) ? "ln hit" : "ln", "data-n": n, "data-line": n });
    line.append(...renderLine(pieces, mark), "\n");
    code.append(line);
  });
  return pre;
}

function renderLine(pieces, mark) {
  const ranges = [];
  if (mark) {
    const lower = pieces.map(([, t]) => t).join("").toLowerCase();
    const needle = mark.toLowerCase();
    for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, i + needle.length)) {
      ranges.push([i, i + needle.length]);
    }
  }
  const out = [];
  let offset = 0;
  let open = null;  // the <mark> being filled, if a match spans several tokens
  for (const [cls, textPiece] of pieces) {
    let at = 0;
    while (at < textPiece.length) {
      const pos = offset + at;
      const range = ranges.find(([s, e]) => pos >= s && pos < e);
      const next = range ? range[1] : Math.min(textPiece.length + offset, ...ranges.map(([s]) => s).filter((s) => s > pos));
      const chunk = textPiece.slice(at, Math.min(textPiece.length, next - offset));
      const node = cls ? h("span", { class: cls }, chunk) : document.createTextNode(chunk);
      if (range) {
        if (!open || open.dataset.start !== String(range[0])) {
          open = h("mark", { "data-start": range[0] });
          out.push(open);
        }
        open.append(node);
      } else {
        open = null;
        out.push(node);
      }
      at += chunk.length;
    }
    offset += textPiece.length;
  }
  for (const m of out) if (m.nodeName === "MARK") m.removeAttribute("data-start");
  return out;
}
