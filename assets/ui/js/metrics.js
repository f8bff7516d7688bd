// Metrics: serving charts from GET /metrics (polled; rates from the difference between two
// polls) and ingestion charts from the recorded runs.

import { get } from "./api.js";
import { barChart, compact, lineChart, PALETTE } from "./charts.js";
import { fmt, fmtBytes, fmtSeconds, h } from "./dom.js";
import { parsePrometheus, quantile, sum } from "./prom.js";

const POLL_MS = 2000;
const WINDOW_SECONDS = 180;
const API_ROUTE = (labels) => labels.route !== "/metrics" && labels.route !== "/health" && !(labels.route || "").startsWith("/ui");

function keyOf(s) {
  return `${s.name}|${JSON.stringify(s.labels)}`;
}

export async function render(root) {
  const series = {
    requests: [], tokensOut: [], tokensIn: [], p50: [], p95: [], inFlight: [],
  };
  let previous = null;
  let timer = null;

  const cards = h("div", { class: "grid stats", "aria-live": "polite" });
  const chart = (label) => h("canvas", { class: "chart", role: "img", "aria-label": label });
  const canvases = {
    requests: chart("Requests per second"), tokens: chart("Tokens per second"),
    latency: chart("Latency"), inFlight: chart("Requests in flight"),
    runBytes: chart("Bytes per ingest run"), runSpeed: chart("Ingest throughput per run"),
  };
  const panel = (title, canvas, legend) => h("section", { class: "card" }, h("h2", {}, title), legend || null, canvas);
  const legend = (items) => h("div", { class: "legend" }, items.map(([name, color]) => h("span", {}, h("i", { style: `background:${color}` }), name)));

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Metrics"),
      h("p", { class: "muted" }, "Live from this server's /metrics (Prometheus) and its ingest runs."))),
    cards,
    h("div", { class: "grid two" },
      panel("Requests per second", canvases.requests),
      panel("Tokens per second", canvases.tokens, legend([["generated", PALETTE[0]], ["prompt", PALETTE[1]]])),
      panel("Latency (seconds)", canvases.latency, legend([["p50", PALETTE[0]], ["p95", PALETTE[3]]])),
      panel("Requests in flight", canvases.inFlight),
      panel("Ingested per run", canvases.runBytes),
      panel("Ingest throughput per run (bytes/s)", canvases.runSpeed))));

  function draw() {
    const w = { windowSeconds: WINDOW_SECONDS };
    lineChart(canvases.requests, [{ name: "requests/s", color: PALETTE[0], points: series.requests }], { ...w, unit: "/s" });
    lineChart(canvases.tokens, [
      { name: "generated", color: PALETTE[0], points: series.tokensOut },
      { name: "prompt", color: PALETTE[1], points: series.tokensIn }], { ...w, unit: "/s" });
    lineChart(canvases.latency, [
      { name: "p50", color: PALETTE[0], points: series.p50 },
      { name: "p95", color: PALETTE[3], points: series.p95 }], { ...w, unit: " s" });
    lineChart(canvases.inFlight, [{ name: "in flight", color: PALETTE[1], points: series.inFlight }], w);
  }

  async function poll() {
    try {
      const samples = parsePrometheus(await get("/metrics"));
      const now = Date.now() / 1000;
      const totals = {
        requests: sum(samples, "hypercube_http_requests_total", API_ROUTE),
        out: sum(samples, "hypercube_tokens_total", (l) => l.direction === "completion"),
        in: sum(samples, "hypercube_tokens_total", (l) => l.direction === "prompt"),
        errors: sum(samples, "hypercube_errors_total"),
        cancelled: sum(samples, "hypercube_generations_cancelled_total"),
        inFlight: sum(samples, "hypercube_http_requests_in_flight"),
      };
      const p50all = quantile(samples, "hypercube_http_request_duration_seconds", 0.5, API_ROUTE);
      const ttft = quantile(samples, "hypercube_time_to_first_chunk_seconds", 0.5);
      if (previous) {
        const dt = Math.max(0.001, now - previous.at);
        series.requests.push([now, Math.max(0, totals.requests - previous.totals.requests) / dt]);
        series.tokensOut.push([now, Math.max(0, totals.out - previous.totals.out) / dt]);
        series.tokensIn.push([now, Math.max(0, totals.in - previous.totals.in) / dt]);
        // Latency of the requests answered since the last poll: bucket differences.
        const before = new Map(previous.samples.map((s) => [keyOf(s), s.value]));
        const delta = samples.map((s) => ({ ...s, value: s.value - (before.get(keyOf(s)) || 0) }));
        const p50 = quantile(delta, "hypercube_http_request_duration_seconds", 0.5, API_ROUTE);
        const p95 = quantile(delta, "hypercube_http_request_duration_seconds", 0.95, API_ROUTE);
        if (p50 !== null) series.p50.push([now, p50]);
        if (p95 !== null) series.p95.push([now, p95]);
      }
      series.inFlight.push([now, Math.max(0, totals.inFlight - 1)]);  // less this poll itself
      for (const list of Object.values(series)) while (list.length && list[0][0] < now - WINDOW_SECONDS) list.shift();
      previous = { at: now, totals, samples };
      const stat = (name, value) => h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "name" }, name));
      cards.replaceChildren(
        stat("API requests", fmt(totals.requests)),
        stat("Tokens generated", fmt(totals.out)),
        stat("Prompt tokens", fmt(totals.in)),
        stat("Median latency", p50all === null ? "–" : fmtSeconds(p50all)),
        stat("First token (median)", ttft === null ? "–" : fmtSeconds(ttft)),
        stat("Stopped by client", fmt(totals.cancelled)),
        stat("Errors", fmt(totals.errors)));
      draw();
    } catch (error) {
      cards.replaceChildren(h("p", { class: "muted" }, `Metrics unavailable: ${error.message}`));
    }
    timer = setTimeout(poll, POLL_MS);
  }

  async function runs() {
    try {
      const { data } = await get("/v1/ingest?limit=20");
      const done = data.filter((r) => r.finished_at).reverse();
      barChart(canvases.runBytes, done.map((r, i) => ({ label: `#${r.id}`, value: r.bytes_ingested, color: PALETTE[i % 2 ? 1 : 0] })), { format: (v) => fmtBytes(v) });
      barChart(canvases.runSpeed, done.map((r) => ({ label: `#${r.id}`, value: r.bytes_ingested / Math.max(0.001, r.finished_at - r.started_at), color: PALETTE[2] })), { format: compact });
    } catch { /* the cards already say the server is unavailable */ }
  }

  const onResize = () => { draw(); runs(); };
  window.addEventListener("resize", onResize);
  poll();
  runs();
  return () => { clearTimeout(timer); window.removeEventListener("resize", onResize); };
}
