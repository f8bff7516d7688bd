// Ctrl+K (⌘K): jump to a symbol from anywhere. Type part of a name; the definitions whose
// names match (the identifier search) are listed as you type; Enter or a click opens the
// file at the definition in the Code page.

import { get } from "./api.js";
import { h } from "./dom.js";
import { displayPath, loadRoots } from "./paths.js";

let dialog = null;

function build() {
  const input = h("input", { type: "search", id: "jump-query", autocomplete: "off", spellcheck: "false",
    placeholder: "a function, class or method name", "aria-label": "Jump to symbol", "aria-controls": "jump-results" });
  const list = h("ul", { id: "jump-results", role: "listbox", "aria-label": "Symbols" });
  const status = h("p", { class: "muted", role: "status" });
  const box = h("dialog", { class: "jump", "aria-label": "Jump to a symbol" },
    h("form", { method: "dialog", class: "grid" }, input, status, list,
      h("p", { class: "hint muted" }, "↑ ↓ to choose, Enter to open, Esc to close.")));
  let items = [];
  let chosen = 0;
  let ticket = 0;
  let timer = null;

  const draw = () => {
    list.replaceChildren(...items.map((hit, i) => h("li", { role: "option", "aria-selected": String(i === chosen),
      onclick: () => open(hit), onmousemove: () => { if (chosen !== i) { chosen = i; draw(); } } },
    h("strong", { class: "mono" }, hit.symbol || hit.match), h("span", { class: "muted" }, ` ${displayPath(hit.path)}:${hit.line}`))));
  };
  const open = (hit) => {
    box.close();
    location.hash = `#/code?open=${encodeURIComponent(hit.path)}&line=${hit.line}`;
  };
  const search = async () => {
    const q = input.value.trim();
    const mine = ++ticket;
    if (!q) { items = []; status.textContent = ""; draw(); return; }
    try {
      await loadRoots();
      const body = await get(`/v1/code/search?mode=identifier&q=${encodeURIComponent(q)}&limit=20`);
      if (mine !== ticket) return;  // a later keystroke's answer wins
      items = body.data;
      chosen = 0;
      status.textContent = items.length ? "" : "No symbol matches.";
      draw();
    } catch (error) {
      if (mine === ticket) status.textContent = error.message;
    }
  };
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 120); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (items.length) chosen = (chosen + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      draw();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (items[chosen]) open(items[chosen]);
    }
  });
  box.addEventListener("click", (e) => { if (e.target === box) box.close(); });  // the backdrop
  document.body.append(box);
  return { box, input };
}

export function openJump() {
  if (!dialog) dialog = build();
  if (!dialog.box.open) dialog.box.showModal();
  dialog.input.select();
}

export function installJumpShortcut() {
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
      e.preventDefault();
      openJump();
    }
  });
}
