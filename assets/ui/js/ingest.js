// Ingest: choose server-local files and folders, start a run, watch its progress, cancel it,
// and read each run's summary and the hypercube's statistics. In the desktop window the
// native file dialog fills in paths (pywebview's bridge); in a browser you type them, since a
// web page cannot learn the real path of a file the user picks.

import { get, post, UI_POLL } from "./api.js";
import { loadRoots } from "./paths.js";
import { field, fmt, fmtBytes, fmtSeconds, h, toast } from "./dom.js";

const POLL_MS = 400;

/** A run as the server describes it: progress while it runs, counts once it is over. */
export function progressOf(run) {
  const p = run.progress || {};
  const total = p.bytes_total || 0;
  // Reading the files is the first 90%: after the last one the run still stores its last
  // batch and rebuilds the model, so only a finished run reads 100%.
  const fraction = run.status === "done" ? 1 : total ? 0.9 * (p.bytes_done / total) : 0;
  return { ...p, status: run.status, fraction: Math.max(0, Math.min(run.status === "done" ? 1 : 0.9, fraction)) };
}

/** A skip reason in the UI's words: the CLI's flag names mean nothing here. */
export function skipReason(reason) {
  return String(reason).replace(/\s*\(see --max-file-size\)/, " (the size limit for one file)").replace(/\s*\(see --[\w-]+\)/, "");
}

function runId(run) {
  return run.id;
}

function runSeconds(run) {
  return run.finished_at && run.started_at ? run.finished_at - run.started_at : null;
}

export function statsCards(stats) {
  const c = stats.counts || stats;  // `db info`'s shape (counts, sizes), or a flat one
  const items = [
    ["Documents", fmt(c.documents)],
    ["Tokens", fmt(c.tokens)],
    ["Vocabulary", fmt(c.vocabulary)],
    ["Atoms", fmt(c.atoms)],
    ["Compositions", fmt(c.compositions)],
    ["Relations", fmt(c.relations)],
    ["Text ingested", fmtBytes(c.document_bytes ?? c.bytes)],
    ["File size", fmtBytes(stats.sizes?.file_bytes ?? stats.file_bytes)],
  ];
  return h("div", { class: "grid stats" }, items.map(([name, value]) =>
    h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "name" }, name))));
}

function languageBars(languages) {
  const entries = Object.entries(languages || {}).sort((a, b) => b[1] - a[1]);
  const top = entries[0]?.[1] || 1;
  return h("div", { class: "bars", role: "list", "aria-label": "Documents by language" },
    entries.slice(0, 12).map(([name, n]) => h("div", { class: "bar", role: "listitem" },
      h("span", {}, name), h("span", { class: "track" }, h("span", { class: "fill", style: `width:${(100 * n) / top}%; display:block` })),
      h("span", { class: "num" }, fmt(n)))));
}

export async function render(root) {
  const paths = [];
  let active = null;
  let timer = null;
  let cancelling = false;

  const pathInput = h("input", { type: "text", id: "ingest-path", placeholder: "/home/me/project or C:\\src\\repo", autocomplete: "off", spellcheck: "false" });
  const pathList = h("ul", { class: "path-list", "aria-label": "Paths to ingest" });
  const prune = h("input", { type: "checkbox", id: "ingest-prune" });
  const start = h("button", { class: "primary", type: "button" }, "Start ingest");
  const cancel = h("button", { class: "danger", type: "button", disabled: true }, "Cancel");
  const bar = h("div", { style: "width:0%" });
  const progress = h("div", { class: "progress", role: "progressbar", "aria-label": "Ingest progress", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0 }, bar);
  const percent = h("strong", { id: "ingest-percent" }, "0%");
  const phase = h("span", { id: "ingest-phase" }, "idle");
  const detail = h("div", { class: "run-line" }, h("span", { id: "ingest-current", class: "mono" }, ""), h("span", { id: "ingest-counts" }, ""));
  const summary = h("div", { id: "ingest-summary", "aria-live": "polite" });
  const runsBody = h("tbody");
  const statsBox = h("div", { id: "ingest-stats" }, h("p", { class: "muted" }, "Loading…"));
  const languagesBox = h("div");

  const pathError = h("p", { class: "field-error", id: "ingest-path-error", role: "alert", hidden: true });
  const addPath = (value) => {
    const clean = value.trim();
    if (clean && !paths.includes(clean)) paths.push(clean);
    showPathError("");
    drawPaths();
  };
  function showPathError(message) {
    pathError.textContent = message;
    pathError.hidden = !message;
    if (message) pathInput.setAttribute("aria-invalid", "true");
    else pathInput.removeAttribute("aria-invalid");
  }
  function drawPaths() {
    pathList.replaceChildren(...paths.map((p, i) => h("li", {}, h("span", { class: "path-text" }, p),
      h("button", { class: "small", type: "button", "aria-label": `Remove ${p}`, onclick: () => { paths.splice(i, 1); drawPaths(); } }, "Remove"))));
    start.disabled = !paths.length && !pathInput.value.trim();
  }
  pathInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); addPath(pathInput.value); pathInput.value = ""; } });
  pathInput.addEventListener("input", drawPaths);

  // In the desktop window, pywebview's bridge offers native dialogs (it may arrive later).
  const pickers = h("span", { class: "row" });
  const offerPickers = () => {
    const bridge = window.pywebview && window.pywebview.api;
    if (!bridge || !bridge.pick_paths || pickers.childNodes.length) return;
    pickers.append(
      h("button", { type: "button", onclick: async () => (await bridge.pick_paths("folder")).forEach(addPath) }, "Choose folder…"),
      h("button", { type: "button", onclick: async () => (await bridge.pick_paths("files")).forEach(addPath) }, "Choose files…"));
  };
  offerPickers();
  window.addEventListener("pywebviewready", offerPickers, { once: true });

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Ingest"),
      h("p", { class: "muted" }, "Add files and folders on this machine to the hypercube. .gitignore is honoured; binary and oversized files are skipped with a reason; unchanged files cost nothing."))),
    h("div", { class: "grid two" },
      h("section", { class: "card", "aria-labelledby": "ingest-new" },
        h("h2", { id: "ingest-new" }, "New run"),
        h("div", { class: "field" },
          h("label", { for: "ingest-path" }, "File or folder path"),
          h("div", { class: "row" }, pathInput,
            h("button", { type: "button", onclick: () => { addPath(pathInput.value); pathInput.value = ""; pathInput.focus(); } }, "Add"), pickers),
          h("span", { class: "hint" }, "Paths are read by the server, on this machine. Press Enter to add another."), pathError),
        pathList,
        h("div", { class: "row", style: "margin-top:12px" }, prune, h("label", { for: "ingest-prune" }, "Remove documents whose files are gone")),
        h("div", { class: "row", style: "margin-top:12px" }, start, cancel)),
      h("section", { class: "card", "aria-labelledby": "ingest-progress-h" },
        h("h2", { id: "ingest-progress-h" }, "Progress"),
        h("div", { class: "run-line" }, phase, percent),
        progress, detail, summary)),
    h("section", { class: "card", "aria-labelledby": "ingest-stats-h" },
      h("h2", { id: "ingest-stats-h" }, "Hypercube"), statsBox, languagesBox),
    h("section", { class: "card", "aria-labelledby": "ingest-runs-h" },
      h("h2", { id: "ingest-runs-h" }, "Runs"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Run", "Status", "Added", "Changed", "Unchanged", "Removed", "Skipped", "Bytes", "Time"].map((t, i) => h("th", { class: i > 1 ? "num" : "" }, t)))), runsBody)))));
  drawPaths();

  function showProgress(run) {
    const p = progressOf(run);
    const pct = Math.floor(p.fraction * 100);
    bar.style.width = `${pct}%`;
    progress.setAttribute("aria-valuenow", String(pct));
    percent.textContent = `${pct}%`;
    const reading = p.bytes_total && p.bytes_done >= p.bytes_total;
    phase.textContent = p.status && p.status !== "running" ? p.status
      : cancelling ? "cancelling…" : reading ? "finishing: storing and building the model" : p.phase || "running";
    detail.firstChild.textContent = p.current || "";
    detail.lastChild.textContent = p.files_total ? `${fmt(p.files_done)} / ${fmt(p.files_total)} files · ${fmtBytes(p.bytes_done)} / ${fmtBytes(p.bytes_total)}` : "";
  }

  function showSummary(run) {
    const f = run.files || {};
    const skipped = run.skipped || [];
    summary.replaceChildren(...[
      h("p", {}, h("strong", {}, `Run ${runId(run)} ${run.status}: `),
        `${fmt(f.added)} added, ${fmt(f.changed)} changed, ${fmt(f.unchanged)} unchanged, ${fmt(f.removed)} removed, ${fmt(f.skipped)} skipped · ${fmtBytes(run.bytes_ingested)} in ${fmtSeconds(runSeconds(run))}`,
        run.model_reloaded ? " · model reloaded" : ""),
      run.error ? h("p", { class: "badge err" }, run.error.message) : null,
      skipped.length ? h("details", {}, h("summary", {}, "Skipped files"),
        h("ul", {}, skipped.slice(0, 200).map((k) => h("li", { class: "mono" }, `${k.path} — ${skipReason(k.reason)}`)))) : null,
    ].filter(Boolean));
  }

  async function poll() {
    if (!active) return;
    try {
      const run = await get(`/v1/ingest/${encodeURIComponent(active)}`, { headers: UI_POLL });
      showProgress(run);
      if (run.status !== "running") {
        showSummary(run);
        finish();
        return;
      }
    } catch (error) {
      toast(error.message);
      finish();
      return;
    }
    timer = setTimeout(poll, POLL_MS);
  }

  function finish() {
    active = null;
    cancelling = false;
    cancel.disabled = true;
    drawPaths();
    loadRoots(true);  // the code page shows paths relative to the new roots
    refresh();
  }

  start.addEventListener("click", async () => {
    if (pathInput.value.trim()) { addPath(pathInput.value); pathInput.value = ""; }
    if (!paths.length) return;
    start.disabled = true;
    summary.replaceChildren();
    try {
      const run = await post("/v1/ingest", { paths: [...paths], prune: prune.checked });
      cancelling = false;
      active = runId(run);
      cancel.disabled = false;
      showProgress(run);
      poll();
    } catch (error) {
      // A path the server cannot read: say so under the field and take it off the list.
      const bad = paths.find((p) => error.message.includes(p));
      if (error.status === 400 && bad) {
        paths.splice(paths.indexOf(bad), 1);
        showPathError(error.message.replace(/^no such file or folder on the server: .*$/, `No file or folder ${bad} on this machine — removed from the list.`));
        pathInput.value = bad;
        pathInput.focus();
      } else {
        showPathError(error.message);
      }
      drawPaths();
    }
  });

  cancel.addEventListener("click", async () => {
    if (!active) return;
    cancel.disabled = true;
    cancelling = true;
    phase.textContent = "cancelling…";  // at once: the run stops at its next file
    try { await post(`/v1/ingest/${encodeURIComponent(active)}/cancel`); } catch (error) { toast(error.message); }
  });

  async function refresh() {
    try {
      const stats = await get("/v1/hypercube/stats");
      statsBox.replaceChildren(statsCards(stats));
      languagesBox.replaceChildren(...(stats.languages
        ? [h("h3", { style: "margin-top:16px" }, "Documents by language"), languageBars(stats.languages)] : []));
    } catch (error) {
      statsBox.replaceChildren(h("p", { class: "muted" }, `Statistics unavailable: ${error.message}`));
    }
    try {
      const runs = await get("/v1/ingest");
      const rows = runs.data || [];
      runsBody.replaceChildren(...rows.map((r) => {
        const f = r.files || {};
        const badge = { done: "ok", running: "warn", cancelled: "warn" }[r.status] || "err";
        return h("tr", {}, h("td", {}, String(runId(r))), h("td", {}, h("span", { class: `badge ${badge}` }, r.status)),
          [f.added, f.changed, f.unchanged, f.removed, f.skipped].map((n) => h("td", { class: "num" }, fmt(n))),
          h("td", { class: "num" }, fmtBytes(r.bytes_ingested)), h("td", { class: "num" }, fmtSeconds(runSeconds(r))));
      }));
      if (!rows.length) runsBody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No runs yet.")));
      const running = rows.find((r) => r.status === "running");
      if (running && !active) { active = runId(running); cancel.disabled = false; poll(); }
    } catch (error) {
      runsBody.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "muted" }, `Runs unavailable: ${error.message}`)));
    }
  }

  refresh();
  return () => { clearTimeout(timer); active = null; };
}
