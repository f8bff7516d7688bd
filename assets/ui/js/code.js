// Code: text search (substring, regex or identifier; case; language), definitions ranked by
// relevance, references and similar code over what was ingested, and the tree of the
// ingested files. Search shows every hit,
// grouped by file with a count. Opening a result shows the whole file at that line; in the
// file, clicking a name picks it for "Definition", "References" and "Similar code", and
// double-clicking it goes to its definition. Paths read relative to the ingested root.

import { get } from "./api.js";
import { fmt, h } from "./dom.js";
import { codeBlock, languageOf } from "./highlight.js";
import { displayPath, loadRoots, pathLabel } from "./paths.js";

const CONTEXT_LINES = 2;
const SEARCH_LIMIT = 2000;
const FILE_LIMIT = 5000;
const IDENTIFIER = /[A-Za-z_$][\w$]*/g;
const SEARCH_MODES = { substring: "Text", regex: "Regular expression", identifier: "Identifier (definitions)" };
const KIND_WEIGHT = { class: 1, interface: 1, struct: 1, trait: 1, type: 0.8, function: 0.9, method: 0.8, constant: 0.4, variable: 0.2 };

function fromSymbol(s) {
  return { path: s.path, line: s.name_line, col: s.name_col, startLine: s.start_line, endLine: s.end_line, title: s.qualified_name,
    name: s.name, kind: s.kind, language: s.language, score: s.score ?? null,
    snippet: s.signature + (s.doc ? `\n${s.doc.split("\n")[0]}` : ""), snippetStart: s.start_line };
}

function fromSite(site) {
  return { path: site.path, line: site.line, col: site.column, startLine: site.line, endLine: site.line, title: site.enclosing || "",
    name: site.name, kind: site.kind, language: site.language, score: null, snippet: site.snippet, snippetStart: site.line };
}

function fromSearchHit(hit) {
  const before = Math.min(CONTEXT_LINES, hit.line - 1, hit.context.length);
  const lines = [...hit.context.slice(0, before), hit.snippet, ...hit.context.slice(before)];
  return { path: hit.path, line: hit.line, col: hit.column, startLine: hit.line, endLine: hit.line, title: hit.symbol || "",
    name: hit.match, kind: "", language: hit.language, score: hit.score, snippet: lines.join("\n"), snippetStart: hit.line - before };
}

/** Definitions of a name, best first: the exact name and qualified name, then the kind of
 * definition (a class or function over a variable), then documented ones and shorter paths. */
export function rankDefinitions(items, query) {
  const q = query.toLowerCase();
  const score = (r) => (r.score ?? 0)
    + (r.title.toLowerCase() === q ? 3 : 0) + (r.name === query ? 2 : r.name.toLowerCase() === q ? 1.5 : 0)
    + (KIND_WEIGHT[r.kind] ?? 0.3) + (r.snippet.includes("\n") ? 0.3 : 0)
    - 0.05 * (r.path.split(/[\\/]/).length) - (/(^|[\\/])(tests?|_test)/.test(r.path) ? 0.5 : 0)
    - (r.name.startsWith("_") && !query.startsWith("_") ? 0.4 : 0);
  return items.map((r) => [score(r), r]).sort((a, b) => b[0] - a[0]).map(([, r]) => r);
}

export async function render(root, params) {
  const MODES = {
    search: { label: "Search", placeholder: "text, /regex/ or identifier", help: "Every matching line of every ingested file, grouped by file." },
    defs: { label: "Definitions", placeholder: "name or Qualified.name", help: "Where a function, class, method or variable is defined, best match first." },
    refs: { label: "References", placeholder: "name", help: "Every call and use of a name." },
    similar: { label: "Similar", placeholder: "a name, or path/to/file.py:LINE", help: "Definitions shaped like the named one (or the one at FILE:LINE), structural clones first." },
    files: { label: "Files", placeholder: "part of a path (empty: every file)", help: "Every ingested file, as a tree of the folders that were ingested." },
  };
  let mode = MODES[params.get("mode")] ? params.get("mode") : "search";
  let picked = null;  // {path, line, col, name}: the name last clicked in the open file
  let openPath = null;
  loadRoots();

  const input = h("input", { type: "search", id: "code-query", autocomplete: "off", spellcheck: "false" });
  const help = h("span", { class: "hint", id: "code-help" });
  input.setAttribute("aria-describedby", "code-help");
  const searchMode = h("select", { id: "code-search-mode" }, Object.entries(SEARCH_MODES).map(([v, t]) => h("option", { value: v }, t)));
  const caseSensitive = h("input", { type: "checkbox", id: "code-case" });
  const language = h("select", { id: "code-language" }, h("option", { value: "" }, "All languages"));
  const options = h("div", { class: "row code-options" },
    h("label", { for: "code-search-mode", class: "sr-only" }, "Match as"), searchMode,
    h("span", { class: "row nowrap" }, caseSensitive, h("label", { for: "code-case" }, "Match case")),
    h("label", { for: "code-language", class: "sr-only" }, "Language"), language);
  if (params.get("search_mode") && SEARCH_MODES[params.get("search_mode")]) searchMode.value = params.get("search_mode");
  if (params.get("case") === "1") caseSensitive.checked = true;
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Kind of lookup" });
  const results = h("div", { class: "results", "aria-label": "Results", role: "region" });
  const summary = h("p", { class: "muted", role: "status", id: "code-summary" });
  const viewerHead = h("div", { class: "viewer-head" });
  const viewerBody = h("div", {}, h("div", { class: "empty" }, "Open a result to see the file."));
  const viewer = h("section", { class: "card", "aria-label": "File viewer", id: "code-viewer" }, viewerHead, viewerBody);

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Code"),
      h("p", { class: "muted" }, "Search, definitions, references and similar code across everything ingested. Ctrl+K jumps to a symbol from any page."))),
    h("div", { class: "code-layout" },
      h("section", { class: "card grid lookup", "aria-label": "Lookup" },
        tabs,
        h("form", { class: "field", role: "search", onsubmit: (e) => { e.preventDefault(); lookup(); } },
          h("label", { for: "code-query", id: "code-query-label" }, "Query"),
          h("div", { class: "row query-row" }, input, h("button", { class: "primary", type: "submit" }, "Go")), help, options),
        summary, results),
      viewer)));

  function drawTabs() {
    tabs.replaceChildren(...Object.entries(MODES).map(([key, m]) => h("button", {
      role: "tab", type: "button", "aria-selected": String(key === mode), tabindex: key === mode ? 0 : -1,
      onclick: () => { mode = key; drawTabs(); input.focus(); if (key === "files") lookup(input.value.trim(), "files"); },
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
    searchMode.hidden = caseSensitive.parentElement.hidden = mode !== "search";
  }

  const lang = () => (language.value ? `&language=${encodeURIComponent(language.value)}` : "");

  async function query(kind, q) {
    if (kind === "search") {
      const body = await get(`/v1/code/search?q=${encodeURIComponent(q)}&mode=${searchMode.value}&case_sensitive=${caseSensitive.checked}`
        + `&limit=${SEARCH_LIMIT}&per_file=${SEARCH_LIMIT}&context=${CONTEXT_LINES}${lang()}`);
      return body.data.map(fromSearchHit);
    }
    if (kind === "defs") {
      const at = /:\d+(:\d+)?$/.test(q);
      const body = await get(`/v1/code/defs?${at ? "at" : "name"}=${encodeURIComponent(q)}&limit=200${lang()}`);
      const items = body.data.map(fromSymbol);
      return at ? items : rankDefinitions(items, q);
    }
    if (kind === "refs") return (await get(`/v1/code/refs?name=${encodeURIComponent(q)}&limit=1000${lang()}`)).data.map(fromSite);
    // Similar: a position as is; a name through its best definition.
    let at = q;
    if (!/:\d+(:\d+)?$/.test(q)) {
      const defs = rankDefinitions((await get(`/v1/code/defs?name=${encodeURIComponent(q)}&limit=50${lang()}`)).data.map(fromSymbol), q);
      if (!defs.length) throw new Error(`No definition named “${q}” to compare with.`);
      at = `${defs[0].path}:${defs[0].line}`;
    }
    const body = await get(`/v1/code/similar?at=${encodeURIComponent(at)}&limit=30${lang()}`);
    return body.hits.map((hit) => ({ ...fromSymbol(hit.symbol), score: hit.score, kind: hit.exact ? `${hit.symbol.kind} · exact clone` : hit.symbol.kind }));
  }

  async function lookup(q = input.value.trim(), as = mode) {
    if (!q && as !== "files") return;
    mode = as;
    input.value = q;
    drawTabs();
    history.replaceState(null, "", `#/code?mode=${mode}&q=${encodeURIComponent(q)}${mode === "search" ? `&search_mode=${searchMode.value}${caseSensitive.checked ? "&case=1" : ""}` : ""}`);
    summary.textContent = "Searching…";
    results.replaceChildren();
    delete results.dataset.ready;
    try {
      await loadRoots();
      if (mode === "files") {
        const body = await get(`/v1/code/files?limit=${FILE_LIMIT}${q ? `&contains=${encodeURIComponent(q)}` : ""}${lang()}`);
        const files = body.data;
        summary.textContent = files.length
          ? `${fmt(files.length)} file${files.length === 1 ? "" : "s"}${files.length >= FILE_LIMIT ? ` (the first ${fmt(FILE_LIMIT)})` : ""}`
          : q ? `No ingested file's path holds “${q}”.` : "Nothing is ingested yet.";
        results.replaceChildren(fileTree(files, Boolean(q)));
        results.dataset.ready = "true";
        return;
      }
      const items = await query(mode, q);
      const mark = (r) => (mode === "search" && searchMode.value === "substring" ? q : r.name);
      if (mode === "search" && searchMode.value !== "identifier") {
        const groups = new Map();
        for (const r of items) (groups.get(r.path) || groups.set(r.path, []).get(r.path)).push(r);
        summary.textContent = items.length
          ? `${fmt(items.length)} match${items.length === 1 ? "" : "es"} in ${fmt(groups.size)} file${groups.size === 1 ? "" : "s"}${items.length >= SEARCH_LIMIT ? ` (the first ${fmt(SEARCH_LIMIT)})` : ""}`
          : "No results.";
        results.replaceChildren(...[...groups.entries()].map(([path, hits]) => h("details", { class: "file-group", open: true },
          h("summary", {}, pathLabel(path), h("span", { class: "badge count" }, fmt(hits.length))),
          h("ol", { class: "result-list" }, hits.sort((a, b) => a.line - b.line).map((r) => resultItem(r, mark(r), true))))));
      } else {
        summary.textContent = items.length ? `${fmt(items.length)} result${items.length === 1 ? "" : "s"}` : "No results.";
        results.replaceChildren(h("ol", { class: "result-list" }, items.map((r) => resultItem(r, mark(r), false))));
      }
    } catch (error) {
      summary.textContent = error.message;
    }
    results.dataset.ready = "true";
  }

  /** The files as a tree of folders, as their paths read (relative to the ingested roots):
   * the top folders open, or every folder when the list is filtered. */
  function fileTree(files, openAll) {
    const rootNode = { folders: new Map(), files: [] };
    for (const file of files) {
      const parts = displayPath(file.path).split(/[\\/]/).filter(Boolean);
      let node = rootNode;
      for (const part of parts.slice(0, -1)) {
        if (!node.folders.has(part)) node.folders.set(part, { folders: new Map(), files: [] });
        node = node.folders.get(part);
      }
      node.files.push({ ...file, name: parts[parts.length - 1] || file.path });
    }
    const count = (node) => node.files.length + [...node.folders.values()].reduce((n, f) => n + count(f), 0);
    const draw = (node, depth) => h("ul", { class: "file-tree", role: depth ? "group" : "tree", "aria-label": depth ? null : "Ingested files" },
      [...node.folders.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, folder]) => h("li", { role: "treeitem" },
        h("details", { class: "folder", open: openAll || depth === 0 },
          h("summary", {}, h("span", { class: "folder-name" }, `${name}/`), h("span", { class: "badge count" }, fmt(count(folder)))),
          draw(folder, depth + 1)))),
      node.files.sort((a, b) => a.name.localeCompare(b.name)).map((file) => h("li", { role: "treeitem" },
        h("button", { type: "button", class: "link-button", title: `Open ${file.path}`, dataset: { path: file.path },
          onclick: () => openFile({ path: file.path, line: 1 }) }, file.name),
        h("span", { class: "muted" }, ` ${file.language}`))));
    return draw(rootNode, 0);
  }

  function resultItem(r, mark, grouped) {
    const language_ = r.language || languageOf(r.path);
    const where = grouped ? h("span", {}, `line ${r.line}`) : pathLabel(r.path, `:${r.line}`);
    return h("li", { class: "result" },
      h("div", { class: "where" },
        h("button", { type: "button", class: "link-button", title: `Open ${r.path}:${r.line}`, "aria-label": `${displayPath(r.path)}:${r.line}`,
          dataset: { path: r.path, line: r.line }, onclick: () => openFile(r, mark) }, where),
        h("span", { class: "muted" }, [r.kind, r.title && r.title !== mark ? r.title : "", r.score !== null && mode === "similar" ? `${Math.round(r.score * 100)}%` : ""].filter(Boolean).join(" · "))),
      r.snippet ? codeBlock(r.snippet.replace(/\n$/, ""), { language: language_, firstLine: r.snippetStart, hits: new Set([r.line]), mark }) : null);
  }

  function pickAt(pre, x, y) {
    // The identifier under the pointer, as path:line:col.
    const caret = document.caretRangeFromPoint ? document.caretRangeFromPoint(x, y) : null;
    const lineEl = caret && caret.startContainer.parentElement?.closest(".ln");
    if (!lineEl || !pre.contains(lineEl)) return null;
    const before = document.createRange();
    before.setStart(lineEl, 0);
    before.setEnd(caret.startContainer, caret.startOffset);
    const offset = before.toString().length;
    const text = lineEl.textContent;
    for (const m of text.matchAll(IDENTIFIER)) {
      if (m.index <= offset && offset <= m.index + m[0].length) {
        return { path: openPath, line: Number(lineEl.dataset.line), col: m.index + 1, name: m[0] };
      }
    }
    return null;
  }

  function drawViewerHead(path, line) {
    const target = picked ? `“${picked.name}”` : `line ${line}`;
    const at = picked ? `${picked.path}:${picked.line}:${picked.col}` : null;
    viewerHead.replaceChildren(
      h("h2", { class: "mono viewer-title" }, pathLabel(path, `:${line}`)),
      h("div", { class: "row" },
        h("span", { class: "muted picked" }, picked ? `Picked ${target}` : "Click a name to pick it."),
        h("button", { type: "button", class: "small", disabled: !picked, onclick: () => lookup(at, "defs") }, "Definition"),
        h("button", { type: "button", class: "small", disabled: !picked, onclick: () => lookup(picked.name, "refs") }, "References"),
        h("button", { type: "button", class: "small", onclick: () => lookup(`${path}:${picked ? picked.line : line}`, "similar") }, "Similar code")));
  }

  async function openFile(r, mark = "") {
    const { path, line } = r;
    openPath = path;
    picked = r.name && r.col ? { path, line, col: r.col, name: r.name } : null;
    drawViewerHead(path, line);
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
      viewerBody.replaceChildren(h("p", { class: "muted" }, `Cannot open ${displayPath(path)}: ${error.message}`));
      return;
    }
    const pre = codeBlock(file.text.replace(/\n$/, ""), { language: file.language, hits, mark, className: "viewer" });
    pre.setAttribute("aria-label", `${displayPath(path)}, line ${line} of ${fmt(file.lines)}`);
    pre.addEventListener("click", (event) => {
      if (String(window.getSelection() || "").length > 1 && event.detail < 2) return;  // selecting text
      const at = pickAt(pre, event.clientX, event.clientY);
      if (!at) return;
      picked = at;
      for (const old of pre.querySelectorAll(".picked-name")) old.classList.remove("picked-name");
      drawViewerHead(path, Number(viewer.dataset.openLine));
      if (event.detail === 2) lookup(`${at.path}:${at.line}:${at.col}`, "defs");
    });
    viewerBody.replaceChildren(pre, h("p", { class: "hint muted", style: "margin-top:6px" }, "Click a name to pick it; double-click to go to its definition."));
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
  get("/v1/hypercube/stats").then((stats) => {
    for (const name of Object.keys(stats.languages || {}).sort()) language.append(h("option", { value: name }, name));
  }).catch(() => {});
  if (params.get("open")) {
    await loadRoots();
    openFile({ path: params.get("open"), line: Number(params.get("line")) || 1 });
  }
  if (params.get("q") || mode === "files") lookup(params.get("q") || "", mode);
}
