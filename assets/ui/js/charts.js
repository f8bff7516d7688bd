// Hand-written canvas charts (no library, no network): a time-series line chart and a bar
// chart, drawn at the screen's pixel density in the current theme's colours. Each canvas has
// an aria-label that states the latest values, so the chart is not only a picture.

import { cssVar } from "./dom.js";

export const PALETTE = ["#7c5cff", "#19b6c9", "#f29d38", "#e5527a", "#3fbf7f", "#c06ee0", "#6d8fff", "#b8a13a"];

function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const { width, height } = canvas.getBoundingClientRect();
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = `11px ${cssVar("--font") || "sans-serif"}`;
  return { ctx, width, height };
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function compact(value) {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 10 || value === 0) return value.toFixed(0);
  return value.toPrecision(2);
}

/** A readable tick or value: 0.0063 s reads "6.3 ms", 0.5/s reads "0.5". */
export function readable(value, unit = "") {
  if (unit === " s") {
    if (value === 0) return "0";
    if (value < 1) return `${+(value * 1000).toPrecision(2)} ms`;
    return `${+value.toPrecision(3)} s`;
  }
  if (value !== 0 && Math.abs(value) < 10) return String(+value.toPrecision(2));
  return compact(value);
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * series: [{name, color, points: [[seconds, value], ...]}]. Hovering (or touching) the chart
 * shows the values at that moment.
 */
export function lineChart(canvas, series, { unit = "", windowSeconds = 120 } = {}) {
  const { ctx, width, height } = setup(canvas);
  const pad = { l: 52, r: 8, t: 8, b: 18 };
  const now = Date.now() / 1000;
  const t0 = now - windowSeconds;
  const values = series.flatMap((s) => s.points.filter(([t]) => t >= t0).map(([, v]) => v));
  const top = niceMax(Math.max(0, ...values));
  const x = (t) => pad.l + ((t - t0) / windowSeconds) * (width - pad.l - pad.r);
  const y = (v) => height - pad.b - (v / top) * (height - pad.t - pad.b);
  ctx.strokeStyle = cssVar("--border");
  ctx.fillStyle = cssVar("--muted");
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.l, Math.round(y(v)) + 0.5);
    ctx.lineTo(width - pad.r, Math.round(y(v)) + 0.5);
    ctx.stroke();
    const label = readable(v, unit);
    ctx.fillText(label, pad.l - 6 - ctx.measureText(label).width, y(v) + 4);
  }
  const minutes = windowSeconds >= 120 ? `${Math.round(windowSeconds / 60)} min ago` : `${windowSeconds} s ago`;
  ctx.fillText(minutes, pad.l, height - 4);
  ctx.fillText("now", width - pad.r - ctx.measureText("now").width, height - 4);
  for (const s of series) {
    const pts = s.points.filter(([t]) => t >= t0);
    if (!pts.length) continue;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    ctx.beginPath();
    pts.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.stroke();
    ctx.globalAlpha = 0.12;
    ctx.fillStyle = s.color;
    ctx.lineTo(x(pts[pts.length - 1][0]), y(0));
    ctx.lineTo(x(pts[0][0]), y(0));
    ctx.fill();
    ctx.globalAlpha = 1;
  }
  canvas.setAttribute("aria-label", series.map((s) => {
    const last = s.points[s.points.length - 1];
    return `${s.name}: ${last ? readable(last[1], unit) : "no data"}${unit === " s" ? "" : unit}`;
  }).join("; "));
  canvas._chart = { series, unit, t0, windowSeconds, x, y, pad, width };
  if (!canvas._hover) attachHover(canvas);
}

function attachHover(canvas) {
  canvas._hover = true;
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.hidden = true;
  canvas.parentElement.style.position = "relative";
  canvas.after(tip);
  const show = (clientX) => {
    const chart = canvas._chart;
    if (!chart) return;
    const box = canvas.getBoundingClientRect();
    const px = clientX - box.left;
    const t = chart.t0 + ((px - chart.pad.l) / (chart.width - chart.pad.l - chart.pad.r)) * chart.windowSeconds;
    const rows = [];
    let at = null;
    for (const s of chart.series) {
      let best = null;
      for (const p of s.points) if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
      if (best && Math.abs(best[0] - t) < chart.windowSeconds / 20) {
        rows.push(`${s.name}: ${readable(best[1], chart.unit)}${chart.unit === " s" ? "" : chart.unit}`);
        at = best[0];
      }
    }
    if (!rows.length) { tip.hidden = true; return; }
    tip.textContent = `${timeOfDay.format(new Date(at * 1000))}\n${rows.join("\n")}`;
    tip.hidden = false;
    const left = Math.min(Math.max(0, chart.x(at) + 8), box.width - tip.offsetWidth);
    tip.style.left = `${canvas.offsetLeft + left}px`;
    tip.style.top = `${canvas.offsetTop + 8}px`;
  };
  canvas.addEventListener("pointermove", (e) => show(e.clientX));
  canvas.addEventListener("pointerdown", (e) => show(e.clientX));
  canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
}

/** bars: [{label, value, color?}] */
export function barChart(canvas, bars, { unit = "", format = compact } = {}) {
  const { ctx, width, height } = setup(canvas);
  const pad = { l: 52, r: 8, t: 8, b: 18 };
  const top = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const slot = (width - pad.l - pad.r) / Math.max(1, bars.length);
  const y = (v) => height - pad.b - (v / top) * (height - pad.t - pad.b);
  ctx.strokeStyle = cssVar("--border");
  ctx.fillStyle = cssVar("--muted");
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.l, Math.round(y(v)) + 0.5);
    ctx.lineTo(width - pad.r, Math.round(y(v)) + 0.5);
    ctx.stroke();
    const label = format(v);
    ctx.fillText(label, pad.l - 6 - ctx.measureText(label).width, y(v) + 4);
  }
  bars.forEach((b, i) => {
    const bx = pad.l + i * slot + slot * 0.15;
    ctx.fillStyle = b.color || PALETTE[0];
    const by = y(b.value);
    ctx.beginPath();
    ctx.roundRect(bx, by, slot * 0.7, Math.max(1, height - pad.b - by), 3);
    ctx.fill();
    ctx.fillStyle = cssVar("--muted");
    if (slot > 18) ctx.fillText(b.label, bx, height - 4);
  });
  canvas.setAttribute("aria-label", bars.map((b) => `${b.label}: ${format(b.value)}${unit}`).join("; ") || "no data");
}
