// The single-page shell: hash routes (#/chat, #/code?name=x) to page modules, each of which
// renders into <main> and returns a function that stops its timers when the user leaves.

import { get } from "./api.js";
import { applyTheme, loadSettings } from "./store.js";

const PAGES = {
  chat: () => import("./chat.js"),
  ingest: () => import("./ingest.js"),
  code: () => import("./code.js"),
  cube: () => import("./cube.js"),
  metrics: () => import("./metrics.js"),
  settings: () => import("./settings.js"),
};
const TITLES = {
  chat: "Chat", ingest: "Ingest", code: "Code", cube: "Hypercube", metrics: "Metrics",
  settings: "Settings",
};

let leave = null;
let navigation = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query = ""] = raw.split("?");
  return { name: PAGES[name] ? name : "chat", params: new URLSearchParams(query) };
}

async function show() {
  const { name, params } = parseHash();
  const ticket = ++navigation;
  if (leave) { leave(); leave = null; }
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${TITLES[name]} · Hypercube`;
  const module = await PAGES[name]();
  if (ticket !== navigation) return;  // the user moved on while the module loaded
  const main = document.getElementById("main");
  main.replaceChildren();
  main.dataset.page = name;
  leave = (await module.render(main, params)) || null;
  if (ticket === navigation) main.dataset.ready = name;
}

async function pollHealth() {
  const box = document.getElementById("server-status");
  const label = box.querySelector(".label");
  try {
    const health = await get("/health");
    box.dataset.state = "ok";
    label.textContent = health.model ? `Ready · ${health.model}` : "Ready";
  } catch (error) {
    const body = error.body || {};
    box.dataset.state = body.status === "loading" ? "loading" : "error";
    label.textContent = body.status === "loading" ? "Loading model…" : "Server unavailable";
  }
}

/** The desktop launcher passes a configured API key once, in the fragment (never sent). */
function takeKeyFromLauncher() {
  const match = location.hash.match(/[#&?]key=([^&]+)/);
  if (!match) return;
  const settings = JSON.parse(localStorage.getItem("hypercube.settings") || "{}");
  settings.apiKey = decodeURIComponent(match[1]);
  localStorage.setItem("hypercube.settings", JSON.stringify(settings));
  history.replaceState(null, "", location.pathname + location.search + "#/chat");
}

takeKeyFromLauncher();
applyTheme(loadSettings().theme);
window.addEventListener("hashchange", show);
show();
pollHealth();
setInterval(pollHealth, 5000);
