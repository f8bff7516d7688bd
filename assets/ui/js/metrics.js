// Metrics: serving charts from GET /metrics (rates from the difference between two polls,
// with the short history the shell keeps in this browser, see metrics-history.js), cards that
// open their breakdown (errors by type and by route), and ingestion charts from the runs.

import { get, UI_POLL } from "./api.js";
import { barChart, compact, lineChart, PALETTE } from "./charts.js";
import { fmt, fmtBytes, fmtSeconds, h } from "./dom.js";
import { API_ROUTE, loadHistory, sample } from "./metrics-history.js";
import { quantile } from "./prom.js";

const POLL_MS = 2000;
const WINDOW_SECONDS = 5 * 60;

export async function render(root) {
  let timer = null;
  let opened = null;  // the card whose breakdown is shown

  const cards = h("div", { class: "grid stats", "aria-live": "polite" });
  const breakdown = h("section", { class: "card breakdown", id: "metrics-breakdown", hidden: true, "aria-live": "polite" });
  const chart = (label) => h("canvas", { class: "chart", role: "img", "aria-label": label });
  const canvases = {
    requests: chart("Requests per second"), tokens: chart("Tokens per second"),
    latency: chart("Latency"), errors: chart("Errors per second"),
    runBytes: chart("Bytes per ingest run"), runSpeed: chart("Ingest throughput per run"),
  };
  const panel = (title, canvas, legend) => h("section", { class: "card" }, h("h2", {}, title), legend || null, h("div", { class: "chart-box" }, canvas));
  const legend = (items) => h("div", { class: "legend" }, items.map(([name, color]) => h("span", {}, h("i", { style: `background:${color}` }), name)));

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Metrics"),
      h("p", { class: "muted" }, "Live from this server's /metrics (Prometheus) and its ingest runs. The UI's own polling is not counted. Hover a chart for its values."))),
    cards, breakdown,
    h("div", { class: "grid two" },
      panel("Requests per second", canvases.requests),
      panel("Tokens per second", canvases.tokens, legend([["generated", PALETTE[0]], ["prompt", PALETTE[1]]])),
      panel("Latency", canvases.latency, legend([["median", PALETTE[0]], ["95th percentile", PALETTE[3]]])),
      panel("Errors per second", canvases.errors),
      panel("Ingested per run", canvases.runBytes),
      panel("Ingest throughput per run (bytes/s)", canvases.runSpeed))));

  function draw() {
    const points = loadHistory().points;
    const line = (key) => points.filter((p) => p[key] !== null && p[key] !== undefined).map((p) => [p.t, p[key]]);
    const w = { windowSeconds: WINDOW_SECONDS };
    lineChart(canvases.requests, [{ name: "requests", color: PALETTE[0], points: line("requests") }], { ...w, unit: "/s" });
    lineChart(canvases.tokens, [
      { name: "generated", color: PALETTE[0], points: line("tokensOut") },
      { name: "prompt", color: PALETTE[1], points: line("tokensIn") }], { ...w, unit: "/s" });
    lineChart(canvases.latency, [
      { name: "median", color: PALETTE[0], points: line("p50") },
      { name: "95th percentile", color: PALETTE[3], points: line("p95") }], { ...w, unit: " s" });
    lineChart(canvases.errors, [{ name: "errors", color: PALETTE[3], points: line("errors") }], { ...w, unit: "/s" });
  }

  function showBreakdown(kind, samples) {
    if (!opened) { breakdown.hidden = true; return; }
    breakdown.hidden = false;
    const table = (head, rows) => h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { class: i === head.length - 1 ? "num" : "" }, t)))),
      h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: i === r.length - 1 ? "num" : "" }, c))))
        : h("tr", {}, h("td", { colspan: head.length, class: "empty" }, "None so far.")))));
    const close = h("button", { type: "button", class: "small", onclick: () => { opened = null; breakdown.hidden = true; drawCards(lastSamples); } }, "Close");
    if (kind === "errors") {
      const byType = samples.filter((s) => s.name === "hypercube_errors_total" && s.value > 0)
        .sort((a, b) => b.value - a.value).map((s) => [s.labels.type, s.labels.code || "–", fmt(s.value)]);
      const byRoute = samples.filter((s) => s.name === "hypercube_http_requests_total" && Number(s.labels.status) >= 400 && s.value > 0)
        .sort((a, b) => b.value - a.value).map((s) => [`${s.labels.method} ${s.labels.route}`, s.labels.status, fmt(s.value)]);
      breakdown.replaceChildren(h("div", { class: "row spread" }, h("h2", {}, "Errors"), close),
        h("h3", {}, "By type"), table(["Type", "Code", "Count"], byType),
        h("h3", { style: "margin-top:12px" }, "By route"), table(["Route", "Status", "Count"], byRoute));
    } else {
      const routes = new Map();
      for (const s of samples) {
        if (s.name !== "hypercube_http_requests_total" || !API_ROUTE(s.labels)) continue;
        routes.set(`${s.labels.method} ${s.labels.route}`, (routes.get(`${s.labels.method} ${s.labels.route}`) || 0) + s.value);
      }
      const rows = [...routes.entries()].sort((a, b) => b[1] - a[1]).map(([route, n]) => {
        const median = quantile(samples, "hypercube_http_request_duration_seconds", 0.5, (l) => l.route === route.split(" ")[1]);
        return [route, median === null ? "–" : fmtSeconds(median), fmt(n)];
      });
      breakdown.replaceChildren(h("div", { class: "row spread" }, h("h2", {}, "API requests by route"), close), table(["Route", "Median latency", "Requests"], rows));
    }
  }

  let lastSamples = [];
  let lastTotals = null;
  function drawCards(samples) {
    const totals = lastTotals;
    if (!totals) return;
    const p50all = quantile(samples, "hypercube_http_request_duration_seconds", 0.5, API_ROUTE);
    const ttft = quantile(samples, "hypercube_time_to_first_chunk_seconds", 0.5);
    const stat = (name, value, opens) => opens
      ? h("button", { type: "button", class: `stat opens${opened === opens ? " open" : ""}`, "aria-expanded": String(opened === opens), "aria-controls": "metrics-breakdown",
        onclick: () => { opened = opened === opens ? null : opens; drawCards(lastSamples); } },
        h("span", { class: "value" }, value), h("span", { class: "name" }, name))
      : h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "name" }, name));
    cards.replaceChildren(
      stat("API requests", fmt(totals.requests), "requests"),
      stat("Tokens generated", fmt(totals.out)),
      stat("Prompt tokens", fmt(totals.in)),
      stat("Median latency", p50all === null ? "–" : fmtSeconds(p50all)),
      stat("First token (median)", ttft === null ? "–" : fmtSeconds(ttft)),
      stat("Stopped by client", fmt(totals.cancelled)),
      stat("Errors", fmt(totals.errors), "errors"));
    showBreakdown(opened, samples);
  }

  async function poll() {
    try {
      const { samples, totals } = await sample();
      lastSamples = samples;
      lastTotals = totals;
      drawCards(samples);
      draw();
    } catch (error) {
      cards.replaceChildren(h("p", { class: "muted" }, `Metrics unavailable: ${error.message}`));
    }
    timer = setTimeout(poll, POLL_MS);
  }

  async function runs() {
    try {
      const { data } = await get("/v1/ingest?limit=20", { headers: UI_POLL });
      const done = data.filter((r) => r.finished_at).reverse();
      barChart(canvases.runBytes, done.map((r, i) => ({ label: `#${r.id}`, value: r.bytes_ingested, color: PALETTE[i % 2 ? 1 : 0] })), { format: (v) => fmtBytes(v) });
      barChart(canvases.runSpeed, done.map((r) => ({ label: `#${r.id}`, value: r.bytes_ingested / Math.max(0.001, r.finished_at - r.started_at), color: PALETTE[2] })), { format: compact });
    } catch { /* the cards already say the server is unavailable */ }
  }

  const onResize = () => { draw(); runs(); };
  window.addEventListener("resize", onResize);
  draw();  // the history this browser kept: the charts are not empty on open
  poll();
  runs();
  return () => { clearTimeout(timer); window.removeEventListener("resize", onResize); };
}
