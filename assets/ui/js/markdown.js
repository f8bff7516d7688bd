// Markdown for chat replies, rendered straight to DOM nodes. Model output is untrusted, so
// nothing is ever parsed as HTML: every element here is made by h() from a short list (p,
// headings, lists, quotes, tables, rules, code, emphasis, links), text stays text, and a link
// keeps its href only if it is http(s), mailto or one of the UI's own #/ routes.
//
// What it reads: ATX headings, fenced (``` / ~~~) and indented code blocks, block quotes,
// bullet and numbered lists (nested by indentation), pipe tables, horizontal rules, and
// inline `code`, **strong**, *em* / _em_, ~~strike~~, [links](url) and <autolinks>. A
// paragraph keeps its line breaks and indentation, since replies are often code-like text.
// A code block that is still open (a reply streaming in) renders as a code block so far.

import { h } from "./dom.js";
import { codeBlock } from "./highlight.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^\n]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_DIVIDER = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
const LANGUAGES = { py: "python", python: "python", js: "javascript", javascript: "javascript", mjs: "javascript",
  ts: "typescript", typescript: "typescript", tsx: "typescript", go: "go", rust: "rust", rs: "rust", java: "java",
  c: "c", h: "c", cpp: "cpp", "c++": "cpp", cc: "cpp", cs: "c_sharp", csharp: "c_sharp", "c#": "c_sharp" };

/**
 * A DocumentFragment for `text`.
 * options.codeBlock(code, language) makes a code block (default: highlighted, with a copy
 * button); options.inlineCode(text) may return a node for an inline code span (the chat
 * links `path:line` citations there) or null for plain <code>.
 */
export function renderMarkdown(text, options = {}) {
  const fragment = document.createDocumentFragment();
  fragment.append(...blocks(text.replace(/\r\n?/g, "\n").split("\n"), { codeBlock: defaultCodeBlock, ...options }));
  return fragment;
}

function blocks(lines, options) {
  const out = [];
  let i = 0;
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(h("p", {}, inline(paragraph.join("\n"), options)));
    paragraph = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = line.match(FENCE))) {
      flush();
      const fence = m[1];
      const body = [];
      for (i++; i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length)) && lines[i].trim().replace(new RegExp(`\\${fence[0]}`, "g"), "") === ""); i++) body.push(lines[i]);
      i++;  // the closing fence (or the end of a reply still streaming)
      out.push(options.codeBlock(body.join("\n"), LANGUAGES[m[2].toLowerCase()] || m[2].toLowerCase() || "text"));
      continue;
    }
    if (!line.trim()) { flush(); i++; continue; }
    if ((m = line.match(HEADING))) {
      flush();
      out.push(h(`h${Math.min(6, m[1].length + 2)}`, { class: "md-h" }, inline(m[2], options)));
      i++;
      continue;
    }
    if (RULE.test(line) && !paragraph.length) { out.push(h("hr")); i++; continue; }
    if (QUOTE.test(line)) {
      flush();
      const inner = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i++) inner.push(lines[i].match(QUOTE)[1]);
      out.push(h("blockquote", {}, blocks(inner, options)));
      continue;
    }
    if ((m = line.match(LIST_ITEM)) && (!paragraph.length || m[1].length === 0)) {
      flush();
      const [list, next] = listAt(lines, i, options);
      out.push(list);
      i = next;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_DIVIDER.test(lines[i + 1]) && !paragraph.length) {
      const rows = [];
      for (; i < lines.length && lines[i].includes("|"); i++) rows.push(lines[i]);
      out.push(table(rows, options));
      continue;
    }
    if (/^( {4}|\t)/.test(line) && !paragraph.length) {
      const body = [];
      for (; i < lines.length && (/^( {4}|\t)/.test(lines[i]) || !lines[i].trim()); i++) body.push(lines[i].replace(/^( {4}|\t)/, ""));
      while (body.length && !body[body.length - 1].trim()) body.pop();
      out.push(options.codeBlock(body.join("\n"), "text"));
      continue;
    }
    paragraph.push(line);
    i++;
  }
  flush();
  return out;
}

function listAt(lines, start, options) {
  const first = lines[start].match(LIST_ITEM);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = h(ordered ? "ol" : "ul", ordered && parseInt(first[2], 10) !== 1 ? { start: parseInt(first[2], 10) } : {});
  let i = start;
  while (i < lines.length) {
    const m = lines[i].match(LIST_ITEM);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const body = [m[3]];
    for (i++; i < lines.length; i++) {
      const next = lines[i];
      const nested = next.match(LIST_ITEM);
      if (nested && nested[1].length <= indent) break;
      if (!next.trim()) {
        // A blank line ends the item unless more of it (indented) follows.
        if (i + 1 < lines.length && /^\s+\S/.test(lines[i + 1]) && (lines[i + 1].match(/^\s*/)[0].length > indent)) { body.push(""); continue; }
        break;
      }
      if (!/^\s/.test(next) && !nested) { body.push(next); continue; }  // lazy continuation
      body.push(next.replace(new RegExp(`^\\s{0,${indent + 4}}`), ""));
    }
    const item = body.length === 1 ? [inline(body[0], options)] : blocks(body, options);
    list.append(h("li", {}, item));
    while (i < lines.length && !lines[i].trim() && i + 1 < lines.length && (lines[i + 1].match(LIST_ITEM) || [, ""])[1]?.length === indent && LIST_ITEM.test(lines[i + 1])) i++;
  }
  return [list, i];
}

function cells(row) {
  return row.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

function table(rows, options) {
  const aligns = cells(rows[1]).map((c) => (c.endsWith(":") ? (c.startsWith(":") ? "center" : "right") : ""));
  const row = (text, tag) => h("tr", {}, cells(text).map((c, j) => h(tag, aligns[j] ? { style: `text-align:${aligns[j]}` } : {}, inline(c, options))));
  return h("div", { class: "md-table" }, h("table", {},
    h("thead", {}, row(rows[0], "th")),
    h("tbody", {}, rows.slice(2).map((r) => row(r, "td")))));
}

const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|~~([\s\S]+?)~~|\*(?!\s)([\s\S]+?)\*|(?<![\w])_(?!\s)([\s\S]+?)_(?![\w])|\[([^\]\n]+)\]\(\s*([^)\s]+)(?:\s+"[^"]*")?\s*\)|<((?:https?:\/\/|mailto:)[^>\s]+)>|\\([\\`*_{}[\]()#+\-.!~|>])/g;

function inline(text, options) {
  const out = [];
  let last = 0;
  const re = new RegExp(INLINE.source, "g");  // its own: inline() recurses into emphasis
  for (let m; (m = re.exec(text));) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[2] !== undefined) {
      const code = m[2].length > 2 && m[2].startsWith(" ") && m[2].endsWith(" ") ? m[2].slice(1, -1) : m[2];
      out.push((options.inlineCode && options.inlineCode(code)) || h("code", {}, code));
    } else if (m[3] !== undefined || m[4] !== undefined) out.push(h("strong", {}, inline(m[3] ?? m[4], options)));
    else if (m[5] !== undefined) out.push(h("del", {}, inline(m[5], options)));
    else if (m[6] !== undefined || m[7] !== undefined) out.push(h("em", {}, inline(m[6] ?? m[7], options)));
    else if (m[8] !== undefined) out.push(link(m[9], inline(m[8], options)));
    else if (m[10] !== undefined) out.push(link(m[10], m[10]));
    else out.push(m[11]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** A link only where it is safe to go: the web (opened outside the app) or the UI's routes. */
export function safeHref(url) {
  const value = String(url).trim();
  if (/^#\//.test(value)) return value;
  if (/^(https?:\/\/|mailto:)/i.test(value)) return value;
  return null;
}

function link(url, children) {
  const href = safeHref(url);
  if (!href) return h("span", { class: "md-unsafe-link", title: String(url) }, children);
  const external = !href.startsWith("#");
  return h("a", { href, target: external ? "_blank" : null, rel: external ? "noopener noreferrer" : null }, children);
}

/** A highlighted code block with a Copy button (the copied text is exactly the code). */
export function defaultCodeBlock(code, language) {
  const pre = codeBlock(code, { language, className: "snippet md-code" });
  const copy = h("button", { type: "button", class: "small copy", "aria-label": "Copy code" }, "Copy");
  copy.addEventListener("click", async () => {
    await copyText(code);
    copy.textContent = "Copied";
    copy.dataset.copied = "true";
    setTimeout(() => { copy.textContent = "Copy"; delete copy.dataset.copied; }, 1500);
  });
  return h("div", { class: "code-block", dataset: { language } },
    h("div", { class: "code-head" }, h("span", { class: "muted" }, language === "text" ? "" : language), copy), pre);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (some web views): copy through a hidden selection instead.
    const area = h("textarea", { style: "position:fixed;opacity:0", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}
