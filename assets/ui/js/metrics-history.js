// A short history of the server's metrics, kept in this browser (localStorage) so the Metrics
// page opens on charts that already have a line: the shell samples /metrics in the background
// (every SAMPLE_MS, whatever page is open), the Metrics page more often. A sample holds the
// rates since the previous one; the UI's own polling is not counted (X-Hypercube-UI: poll).

import { get, UI_POLL } from "./api.js";
import { parsePrometheus, quantile, sum } from "./prom.js";

export const HISTORY_SECONDS = 15 * 60;
export const BACKGROUND_MS = 5000;
const KEY = "hypercube.metrics";

// Requests of the API, not of the page itself (its HTML, scripts and icons).
export const API_ROUTE = (labels) => !["/metrics", "/health", "/", "/favicon.ico", "unmatched"].includes(labels.route)
  && !(labels.route || "").startsWith("/ui");

let last = null;  // {at, totals, samples} of the previous poll (this page load only)

function keyOf(s) {
  return `${s.name}|${JSON.stringify(s.labels)}`;
}

export function loadHistory() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) || "{}");
    return { server: stored.server || "", points: Array.isArray(stored.points) ? stored.points : [] };
  } catch {
    return { server: "", points: [] };
  }
}

function saveHistory(history) {
  try {
    localStorage.setItem(KEY, JSON.stringify(history));
  } catch { /* storage full or off: the page keeps what it has in memory */ }
}

/** Read /metrics once; returns {samples, totals, point} and appends the point to the history. */
export async function sample() {
  const samples = parsePrometheus(await get("/metrics", { headers: UI_POLL }));
  const now = Date.now() / 1000;
  const totals = {
    requests: sum(samples, "hypercube_http_requests_total", API_ROUTE),
    out: sum(samples, "hypercube_tokens_total", (l) => l.direction === "completion"),
    in: sum(samples, "hypercube_tokens_total", (l) => l.direction === "prompt"),
    errors: sum(samples, "hypercube_errors_total"),
    cancelled: sum(samples, "hypercube_generations_cancelled_total"),
    inFlight: sum(samples, "hypercube_http_requests_in_flight"),
  };
  const history = loadHistory();
  // Another server on this port (another hypercube) starts a history of its own.
  const server = location.host;
  if (history.server !== server) { history.server = server; history.points = []; }
  const previous = last && last.server === server ? last : null;
  let point = null;
  if (previous) {
    const dt = Math.max(0.001, now - previous.at);
    const before = new Map(previous.samples.map((s) => [keyOf(s), s.value]));
    const delta = samples.map((s) => ({ ...s, value: s.value - (before.get(keyOf(s)) || 0) }));
    point = {
      t: now,
      requests: Math.max(0, totals.requests - previous.totals.requests) / dt,
      tokensOut: Math.max(0, totals.out - previous.totals.out) / dt,
      tokensIn: Math.max(0, totals.in - previous.totals.in) / dt,
      errors: Math.max(0, totals.errors - previous.totals.errors) / dt,
      p50: quantile(delta, "hypercube_http_request_duration_seconds", 0.5, API_ROUTE),
      p95: quantile(delta, "hypercube_http_request_duration_seconds", 0.95, API_ROUTE),
      inFlight: totals.inFlight,
    };
    history.points.push(point);
  }
  history.points = history.points.filter((p) => p.t >= now - HISTORY_SECONDS);
  saveHistory(history);
  last = { at: now, totals, samples, server };
  return { samples, totals, history };
}
