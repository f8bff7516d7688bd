// The picture of the hypercube: a sample of atoms, tokens and identifiers at their points on
// the 3-sphere, rotated in 4D and projected (4D → 3D → 2D perspective), coloured by kind or by
// language. Drag rotates (Shift+drag turns through the 4th dimension), the wheel zooms, the
// arrow keys / + / − / 0 do the same from the keyboard; hovering names a point.

import { get } from "./api.js";
import { PALETTE } from "./charts.js";
import { cssVar, fmt, h, toast } from "./dom.js";
import { statsCards } from "./ingest.js";

const KIND_COLORS = {
  letter: "#6d8fff", digit: "#f29d38", punctuation: "#e5527a", symbol: "#c06ee0", space: "#9aa1b5",
  control: "#9aa1b5", mark: "#b8a13a", other: "#9aa1b5", token: "#19b6c9",
  function: "#7c5cff", method: "#a58bff", class: "#3fbf7f", field: "#d6a838", variable: "#ef7d54",
  identifier: "#8f95a8",
};

// The 16 corners and 32 edges of a tesseract, drawn faintly to show the rotation.
const CORNERS = Array.from({ length: 16 }, (_, i) => [0, 1, 2, 3].map((b) => ((i >> b) & 1 ? 0.55 : -0.55)));
const EDGES = [];
for (let i = 0; i < 16; i++) for (let b = 0; b < 4; b++) if (!(i & (1 << b))) EDGES.push([i, i | (1 << b)]);

/** Eigenvectors of a symmetric 4×4 matrix (Jacobi rotations), largest eigenvalue first. */
function eigen4(m) {
  const a = m.map((row) => row.slice());
  const v = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) off += a[p][q] ** 2;
    if (off < 1e-18) break;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) {
      if (Math.abs(a[p][q]) < 1e-15) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 4; k++) {
        const akp = a[k][p], akq = a[k][q];
        a[k][p] = c * akp - s * akq; a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < 4; k++) {
        const apk = a[p][k], aqk = a[q][k];
        a[p][k] = c * apk - s * aqk; a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 4; k++) {
        const vkp = v[k][p], vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq; v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  return [0, 1, 2, 3].sort((i, j) => a[j][j] - a[i][i]).map((i) => [0, 1, 2, 3].map((k) => v[k][i]));
}

/**
 * The points in their own frame: centred on their mean, turned onto their principal axes
 * (still a rotation of 4D, so distances keep their meaning) and scaled so that nearly all of
 * them fit the unit ball. Points on S³ crowd where the content lives (related characters are
 * placed close together); without this the picture would be one small cluster.
 */
export function principalFrame(points) {
  const n = points.length || 1;
  const mean = [0, 0, 0, 0];
  for (const p of points) { mean[0] += p.x / n; mean[1] += p.y / n; mean[2] += p.z / n; mean[3] += p.w / n; }
  const cov = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  const centred = points.map((p) => [p.x - mean[0], p.y - mean[1], p.z - mean[2], p.w - mean[3]]);
  for (const c of centred) for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) cov[i][j] += (c[i] * c[j]) / n;
  const axes = eigen4(cov);
  const local = centred.map((c) => axes.map((axis) => axis[0] * c[0] + axis[1] * c[1] + axis[2] * c[2] + axis[3] * c[3]));
  // Each axis scaled so most points spread over the frame, then far outliers pulled in
  // (tanh of the radius), so one stray token cannot shrink the whole picture.
  const spread = [0, 1, 2, 3].map((i) => {
    const sorted = local.map((c) => Math.abs(c[i])).sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length * 0.9)] || 1;
  });
  return local.map((c) => {
    const v = c.map((x, i) => (0.55 * x) / spread[i]);
    const r = Math.hypot(...v) || 1;
    return v.map((x) => (x * Math.tanh(r / 1.1) * 1.1) / r);
  });
}

function rotate(p, a) {
  let [x, y, z, w] = p;
  const r = (u, v, t) => [u * Math.cos(t) - v * Math.sin(t), u * Math.sin(t) + v * Math.cos(t)];
  [x, z] = r(x, z, a.xz);
  [y, z] = r(y, z, a.yz);
  [x, w] = r(x, w, a.xw);
  [y, w] = r(y, w, a.yw);
  return [x, y, z, w];
}

export async function render(root) {
  const angles = { xz: 0.5, yz: -0.3, xw: 0.4, yw: 0.2 };
  let zoom = 1;
  let pan = [0, 0];
  let points = [];
  let projected = [];
  let colorBy = "kind";
  let spinning = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  let frame = null;
  const hidden = new Set();

  const canvas = h("canvas", { class: "cube", tabindex: 0, role: "img", "aria-label": "The hypercube's points projected from 4D", "aria-describedby": "cube-help" });
  const tip = h("div", { class: "cube-tip", hidden: true });
  const legend = h("div", { class: "legend", role: "group", "aria-label": "Legend: click to hide or show" });
  const colorSelect = h("select", { id: "cube-color" }, h("option", { value: "kind" }, "kind"), h("option", { value: "language" }, "language"));
  const spin = h("button", { type: "button", "aria-pressed": String(spinning) }, spinning ? "Pause rotation" : "Rotate");
  const statsBox = h("div");
  const count = h("span", { class: "muted" });

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Hypercube"), h("p", { class: "muted", id: "cube-help" },
        "Atoms, tokens and identifiers at their points on the 3-sphere, rotated in 4D. Drag to turn, Shift+drag to turn through the fourth dimension, scroll or +/− to zoom, arrow keys to rotate, 0 to reset.")),
      h("div", { class: "row" }, h("label", { for: "cube-color" }, "Colour by"), colorSelect, spin,
        h("button", { type: "button", onclick: () => reset() }, "Reset view"))),
    h("section", { class: "card" }, h("div", { class: "cube-wrap" }, canvas, tip), h("div", { class: "row", style: "justify-content:space-between;margin-top:10px" }, legend, count)),
    h("section", { class: "card" }, h("h2", {}, "Statistics"), statsBox)));

  function colorOf(p) {
    if (colorBy === "language") return p.language || (p.kind === "atom" ? "atom" : "other");
    return p.group;
  }
  const languageColors = {};
  function paint(key) {
    if (colorBy === "kind") return KIND_COLORS[key] || "#8f95a8";
    if (key === "other" || key === "atom") return key === "atom" ? "#6d8fff" : "#8f95a8";
    if (!languageColors[key]) languageColors[key] = PALETTE[Object.keys(languageColors).length % PALETTE.length];
    return languageColors[key];
  }

  function drawLegend() {
    const counts = new Map();
    for (const p of points) counts.set(colorOf(p), (counts.get(colorOf(p)) || 0) + 1);
    legend.replaceChildren(...[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([key, n]) =>
      h("button", { type: "button", class: "small", "aria-pressed": String(!hidden.has(key)),
        style: hidden.has(key) ? "opacity:.45" : "",
        onclick: () => { hidden.has(key) ? hidden.delete(key) : hidden.add(key); drawLegend(); draw(); } },
      h("i", { style: `background:${paint(key)}`, "aria-hidden": "true" }), `${key} (${fmt(n)})`)));
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = canvas.getBoundingClientRect();
    if (canvas.width !== Math.round(width * ratio)) { canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio); }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const scale = Math.min(width, height) * 0.42 * zoom;
    const cx = width / 2 + pan[0];
    const cy = height / 2 + pan[1];
    const project = (p) => {
      const [x, y, z, w] = rotate(p, angles);
      const k4 = 2.2 / (2.2 - w);            // 4D → 3D: nearer in w looks larger
      const k3 = 3 / (3 - z * k4);            // 3D → 2D
      return [cx + x * k4 * k3 * scale, cy - y * k4 * k3 * scale, z * k4, k4 * k3];
    };
    ctx.strokeStyle = cssVar("--border");
    ctx.lineWidth = 1;
    const corners = CORNERS.map(project);
    ctx.beginPath();
    for (const [a, b] of EDGES) { ctx.moveTo(corners[a][0], corners[a][1]); ctx.lineTo(corners[b][0], corners[b][1]); }
    ctx.stroke();
    projected = [];
    for (const p of points) {
      const key = colorOf(p);
      if (hidden.has(key)) continue;
      const [sx, sy, depth, k] = project(p.local);
      projected.push({ p, sx, sy, depth, k, color: paint(key) });
    }
    projected.sort((a, b) => a.depth - b.depth);  // far points first
    for (const q of projected) {
      ctx.globalAlpha = Math.max(0.25, Math.min(0.95, 0.35 + q.depth * 0.4));
      ctx.fillStyle = q.color;
      ctx.beginPath();
      ctx.arc(q.sx, q.sy, Math.max(1.2, (q.p.kind === "atom" ? 3.2 : 2) * q.k * Math.sqrt(zoom)), 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    // Atoms are labelled: they are few and they are the alphabet every token is made of.
    ctx.fillStyle = cssVar("--text");
    ctx.font = `11px ${cssVar("--mono")}`;
    if (zoom >= 1.5) for (const q of projected) if (q.p.kind === "atom" && q.p.label.trim()) ctx.fillText(q.p.label, q.sx + 4, q.sy - 4);
  }

  function loop() {
    if (spinning) { angles.xw += 0.004; angles.xz += 0.0015; draw(); }
    frame = requestAnimationFrame(loop);
  }

  function reset() {
    Object.assign(angles, { xz: 0.5, yz: -0.3, xw: 0.4, yw: 0.2 });
    zoom = 1;
    pan = [0, 0];
    draw();
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, shift: e.shiftKey, button: e.button }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) {
      const dx = (e.clientX - drag.x) / 150;
      const dy = (e.clientY - drag.y) / 150;
      if (drag.button === 1 || e.altKey) pan = [pan[0] + e.clientX - drag.x, pan[1] + e.clientY - drag.y];
      else if (drag.shift) { angles.xw += dx; angles.yw += dy; } else { angles.xz += dx; angles.yz += dy; }
      drag.x = e.clientX;
      drag.y = e.clientY;
      draw();
      return;
    }
    const rect = canvas.getBoundingClientRect();
    const mx = e.clientX - rect.left;
    const my = e.clientY - rect.top;
    let best = null;
    let bestD = 64;
    for (const q of projected) {
      const d = (q.sx - mx) ** 2 + (q.sy - my) ** 2;
      if (d < bestD) { best = q; bestD = d; }
    }
    if (best) {
      tip.hidden = false;
      tip.textContent = `${JSON.stringify(best.p.label)}\n${best.p.kind} · ${best.p.group}${best.p.language ? ` · ${best.p.language}` : ""}\n(${[best.p.x, best.p.y, best.p.z, best.p.w].map((v) => v.toFixed(3)).join(", ")})`;
      tip.style.left = `${mx + 12}px`;
      tip.style.top = `${my + 12}px`;
    } else tip.hidden = true;
  });
  canvas.addEventListener("pointerleave", () => { tip.hidden = true; });
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); zoom = Math.max(0.3, Math.min(12, zoom * Math.exp(-e.deltaY / 400))); draw(); }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const step = 0.08;
    const keys = {
      ArrowLeft: () => { angles.xz -= step; }, ArrowRight: () => { angles.xz += step; },
      ArrowUp: () => { angles.yz -= step; }, ArrowDown: () => { angles.yz += step; },
      "+": () => { zoom = Math.min(12, zoom * 1.2); }, "=": () => { zoom = Math.min(12, zoom * 1.2); },
      "-": () => { zoom = Math.max(0.3, zoom / 1.2); }, 0: reset,
      w: () => { angles.xw += step; }, s: () => { angles.xw -= step; },
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); draw(); }
  });
  colorSelect.addEventListener("change", () => { colorBy = colorSelect.value; hidden.clear(); drawLegend(); draw(); });
  spin.addEventListener("click", () => {
    spinning = !spinning;
    spin.textContent = spinning ? "Pause rotation" : "Rotate";
    spin.setAttribute("aria-pressed", String(spinning));
  });
  const onResize = () => draw();
  window.addEventListener("resize", onResize);

  try {
    points = (await get("/v1/hypercube/points?limit=6000")).data;
    principalFrame(points).forEach((local, i) => { points[i].local = local; });
    count.textContent = `${fmt(points.length)} points`;
    drawLegend();
    draw();
    canvas.dataset.points = String(points.length);
  } catch (error) {
    toast(`Cannot load the hypercube's points: ${error.message}`);
  }
  frame = requestAnimationFrame(loop);
  get("/v1/hypercube/stats").then((stats) => statsBox.replaceChildren(statsCards(stats)))
    .catch((error) => statsBox.replaceChildren(h("p", { class: "muted" }, error.message)));
  return () => { cancelAnimationFrame(frame); window.removeEventListener("resize", onResize); };
}
