// The single-page shell: hash routes (#/chat, #/code?name=x) to page modules, each of which
// renders into <main> and returns a function that stops its timers when the user leaves.

import { get, UI_POLL } from "./api.js";
import { fmt, h } from "./dom.js";
import { installJumpShortcut } from "./jump.js";
import { BACKGROUND_MS, sample } from "./metrics-history.js";
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
  if (building) return;
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

let building = false;

async function pollHealth() {
  const box = document.getElementById("server-status");
  const label = box.querySelector(".label");
  try {
    const health = await get("/health", { headers: UI_POLL });
    box.dataset.state = "ok";
    label.textContent = health.model ? `Ready · ${health.model}` : "Ready";
  } catch (error) {
    const body = error.body || {};
    if (body.status === "building") {
      showBuilding(body.building || {});
      box.dataset.state = "loading";
      label.textContent = "First start…";
      return;
    }
    box.dataset.state = body.status === "loading" ? "loading" : "error";
    label.textContent = body.status === "loading" ? "Loading model…" : "Server unavailable";
  }
  if (building) location.reload();  // the build is over: the real app answers now
}

/** First start: the server answers before the default hypercube exists (see
 * app/ui/first_start.py); until it does, the page shows the build instead of a section. */
function showBuilding(progress) {
  const main = document.getElementById("main");
  if (!building) {
    building = true;
    if (leave) { leave(); leave = null; }
    navigation++;
    main.dataset.page = "building";
    main.dataset.ready = "building";
    main.replaceChildren(h("div", { class: "page" }, h("section", { class: "card building", "aria-labelledby": "building-h" },
      h("h1", { id: "building-h" }, "Building the default hypercube"),
      h("p", { class: "muted" }, "The first start turns the starter corpus (part of Python's standard library) into a hypercube, so chat and code search work before you ingest anything. It takes about a minute, once; this page opens the app when it is done."),
      h("div", { class: "run-line" }, h("span", { id: "building-phase" }, "preparing"), h("strong", { id: "building-percent" }, "0%")),
      h("div", { class: "progress", role: "progressbar", "aria-label": "Build progress", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 }, h("div", {})),
      h("p", { class: "muted", id: "building-detail" }))));
  }
  const { files_done: done = 0, files_total: total = 0, bytes_done: bytes = 0, bytes_total: bytesTotal = 0, phase = "", seconds = 0 } = progress;
  // Reading and storing the files is the first 90%; the model is built after the last one
  // (the ingest's phase is "done" then), so the bar never reads 100% before the app opens.
  const reading = bytesTotal ? bytes / bytesTotal : 0;
  const modelling = phase === "done";
  const pct = modelling ? 95 : Math.min(90, Math.floor(reading * 90));
  const words = { scanning: "finding the files", "learning vocabulary": "learning the vocabulary", ingesting: "reading the files", done: "building the model" };
  main.querySelector(".progress > div").style.width = `${pct}%`;
  main.querySelector(".progress").setAttribute("aria-valuenow", String(pct));
  main.querySelector("#building-percent").textContent = `${pct}%`;
  main.querySelector("#building-phase").textContent = words[phase] || "preparing";
  main.querySelector("#building-detail").textContent = total
    ? `${fmt(done)} of ${fmt(total)} files · ${Math.round(seconds)} s so far` : `${Math.round(seconds)} s so far`;
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
installJumpShortcut();
applyTheme(loadSettings().theme);
window.addEventListener("hashchange", show);
pollHealth().then(() => { if (!building) show(); });
setInterval(() => pollHealth(), 5000);
// The metrics history, whatever page is open (the Metrics page samples faster itself).
const sampleMetrics = () => {
  if (!building && document.getElementById("main").dataset.page !== "metrics") sample().catch(() => {});
};
setTimeout(sampleMetrics, 1000);
setInterval(sampleMetrics, BACKGROUND_MS);
// While building, look more often so the bar moves and the app opens soon after.
setInterval(() => { if (building) pollHealth(); }, 1000);
