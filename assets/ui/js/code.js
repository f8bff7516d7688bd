// Code: text search, definitions, references and similar code over what was ingested, each
// result a highlighted snippet; opening one shows the whole file at that line (jump to
// location). Double-clicking a name in the open file looks up its definitions.

import { get } from "./api.js";
import { fmt, h, toast } from "./dom.js";
import { codeBlock, languageOf } from "./highlight.js";

const CONTEXT_LINES = 2;
const MODES = {
  search: { label: "Search", placeholder: "text or identifier, e.g. read_config", help: "Substring search over every ingested file.",
    url: (q) => `/v1/code/search?q=${encodeURIComponent(q)}&limit=50&context=${CONTEXT_LINES}`,
    items: (body) => body.data.map(fromSearchHit) },
  defs: { label: "Definitions", placeholder: "name or Qualified.name", help: "Where a function, class, method or variable is defined.",
    url: (q) => `/v1/code/defs?${/:\d+$/.test(q) ? "at" : "name"}=${encodeURIComponent(q)}&limit=50`,
    items: (body) => body.data.map(fromSymbol) },
  refs: { label: "References", placeholder: "name", help: "Every call and use of a name.",
    url: (q) => `/v1/code/refs?name=${encodeURIComponent(q)}&limit=100`,
    items: (body) => body.data.map(fromSite) },
  similar: { label: "Similar", placeholder: "path/to/file.py:LINE", help: "Definitions shaped like the one at FILE:LINE (structural clones first).",
    url: (q) => `/v1/code/similar?at=${encodeURIComponent(q)}&limit=30`,
    items: (body) => body.hits.map((hit) => ({ ...fromSymbol(hit.symbol), score: hit.score, kind: hit.exact ? `${hit.symbol.kind} · exact clone` : hit.symbol.kind })) },
};

function fromSymbol(s) {
  return { path: s.path, line: s.name_line, startLine: s.start_line, endLine: s.end_line, title: s.qualified_name,
    name: s.name, kind: s.kind, language: s.language, score: null,
    snippet: s.signature + (s.doc ? `\n${s.doc.split("\n")[0]}` : ""), snippetStart: s.start_line };
}

function fromSite(site) {
  return { path: site.path, line: site.line, startLine: site.line, endLine: site.line, title: site.enclosing || "",
    name: site.name, kind: site.kind, language: site.language, score: null, snippet: site.snippet, snippetStart: site.line };
}

function fromSearchHit(hit) {
  const before = Math.min(CONTEXT_LINES, hit.line - 1, hit.context.length);
  const lines = [...hit.context.slice(0, before), hit.snippet, ...hit.context.slice(before)];
  return { path: hit.path, line: hit.line, startLine: hit.line, endLine: hit.line, title: hit.symbol || "",
    name: hit.match, kind: "", language: hit.language, score: null, snippet: lines.join("\n"), snippetStart: hit.line - before };
}

export async function render(root, params) {
  let mode = MODES[params.get("mode")] ? params.get("mode") : "search";
  const input = h("input", { type: "search", id: "code-query", autocomplete: "off", spellcheck: "false" });
  const help = h("span", { class: "hint", id: "code-help" });
  input.setAttribute("aria-describedby", "code-help");
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Kind of lookup" });
  const results = h("ol", { class: "results", "aria-label": "Results" });
  const summary = h("p", { class: "muted", role: "status" });
  const viewerHead = h("div", { class: "row", style: "justify-content:space-between" });
  const viewerBody = h("div", {}, h("div", { class: "empty" }, "Open a result to see the file."));
  const viewer = h("section", { class: "card", "aria-label": "File viewer", id: "code-viewer" }, viewerHead, viewerBody);

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Code"),
      h("p", { class: "muted" }, "Search, definitions, references and similar code across everything ingested."))),
    h("div", { class: "code-layout" },
      h("section", { class: "card grid", "aria-label": "Lookup" },
        tabs,
        h("form", { class: "field", role: "search", onsubmit: (e) => { e.preventDefault(); lookup(); } },
          h("label", { for: "code-query", id: "code-query-label" }, "Query"),
          h("div", { class: "row" }, input, h("button", { class: "primary", type: "submit" }, "Go")), help),
        summary, results),
      viewer)));

  function drawTabs() {
    tabs.replaceChildren(...Object.entries(MODES).map(([key, m]) => h("button", {
      role: "tab", type: "button", "aria-selected": String(key === mode), tabindex: key === mode ? 0 : -1,
      onclick: () => { mode = key; drawTabs(); input.focus(); },
      onkeydown: (e) => {
        const keys = Object.keys(MODES);
        const i = keys.indexOf(mode);
        if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
          mode = keys[(i + (e.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length];
          drawTabs();
          tabs.querySelector('[aria-selected="true"]').focus();
        }
      },
    }, m.label)));
    input.placeholder = MODES[mode].placeholder;
    help.textContent = MODES[mode].help;
    document.getElementById("code-query-label").textContent = MODES[mode].label;
  }

  async function lookup(query = input.value.trim(), as = mode) {
    if (!query) return;
    mode = as;
    input.value = query;
    drawTabs();
    history.replaceState(null, "", `#/code?mode=${mode}&q=${encodeURIComponent(query)}`);
    summary.textContent = "Searching…";
    results.replaceChildren();
    try {
      const items = MODES[mode].items(await get(MODES[mode].url(query)));
      summary.textContent = items.length ? `${fmt(items.length)} result${items.length === 1 ? "" : "s"}` : "No results.";
      results.replaceChildren(...items.map((r) => resultItem(r, mode === "search" ? query : r.name)));
    } catch (error) {
      summary.textContent = error.message;
    }
  }

  function resultItem(r, mark) {
    const where = `${r.path}:${r.line}`;
    const language = r.language || languageOf(r.path);
    return h("li", { class: "result" },
      h("div", { class: "where" },
        h("button", { type: "button", class: "link-button", title: `Open ${where}`, onclick: () => openFile(r, mark) }, where),
        h("span", { class: "muted" }, [r.kind, r.title && r.title !== mark ? r.title : "", r.score !== null ? `${Math.round(r.score * 100)}%` : ""].filter(Boolean).join(" · "))),
      r.snippet ? codeBlock(r.snippet.replace(/\n$/, ""), { language, firstLine: r.snippetStart, hits: new Set([r.line]), mark }) : null);
  }

  async function openFile(r, mark = "") {
    const { path, line } = r;
    viewerHead.replaceChildren(h("h2", { class: "mono", style: "margin:0;overflow-wrap:anywhere" }, `${path}:${line}`),
      h("div", { class: "row" },
        h("button", { type: "button", class: "small", onclick: () => lookup(`${path}:${line}`, "defs") }, "Definition here"),
        h("button", { type: "button", class: "small", onclick: () => lookup(`${path}:${line}`, "similar") }, "Similar code")));
    viewerBody.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    delete viewer.dataset.ready;
    viewer.dataset.openPath = path;
    viewer.dataset.openLine = String(line);
    const hits = new Set();
    for (let n = line; n <= Math.max(line, r.endLine || line); n++) hits.add(n);
    let file;
    try {
      // The whole file as the hypercube holds it (what was ingested, not today's disk).
      file = await get(`/v1/code/file?path=${encodeURIComponent(path)}`);
    } catch (error) {
      viewerBody.replaceChildren(h("p", { class: "muted" }, `Cannot open ${path}: ${error.message}`));
      return;
    }
    const pre = codeBlock(file.text.replace(/\n$/, ""), { language: file.language, hits, mark, className: "viewer" });
    pre.setAttribute("aria-label", `${path}, line ${line} of ${fmt(file.lines)}`);
    pre.addEventListener("dblclick", () => {
      const word = String(window.getSelection() || "").trim();
      if (/^[A-Za-z_$][\w$]*$/.test(word)) lookup(word, "defs");
    });
    viewerBody.replaceChildren(pre, h("p", { class: "hint muted", style: "margin-top:6px" }, "Double-click a name to find its definitions."));
    const target = pre.querySelector(`[data-line="${line}"]`) || pre.querySelector(".ln");
    if (target) {
      // Scroll only the viewer, putting the line a third of the way down it.
      const offset = target.getBoundingClientRect().top - pre.getBoundingClientRect().top + pre.scrollTop;
      pre.scrollTop = Math.max(0, offset - pre.clientHeight / 3);
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
    }
    viewer.dataset.lines = String(file.lines);
    viewer.dataset.ready = "true";
  }

  drawTabs();
  input.focus();
  if (params.get("q")) lookup(params.get("q"), mode);
}
