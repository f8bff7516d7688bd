// The picture of the hypercube: a sample of atoms, tokens and identifiers at their points on
// the 3-sphere, rotated in 4D and projected (4D → 3D → 2D perspective), coloured by kind or by
// language. Drag rotates (Shift+drag turns through the 4th dimension), the wheel zooms, the
// arrow keys / + / − / 0 do the same from the keyboard; hovering names a point.

import { get } from "./api.js";
import { cssVar, fmt, h, toast } from "./dom.js";
import { statsCards } from "./ingest.js";
import { loadRoots, pathLabel } from "./paths.js";

// One colour per kind and per language, none shared: a point's colour alone says what it is.
const KIND_COLORS = {
  letter: "#4f7dff", digit: "#f29d38", punctuation: "#e5527a", symbol: "#c06ee0", space: "#7f8aa3",
  control: "#4d5566", mark: "#b8a13a", other: "#a77b5a", token: "#19b6c9",
  function: "#7c5cff", method: "#d16bd6", class: "#3fbf7f", field: "#d6a838", variable: "#ef7d54",
  identifier: "#9aa6c2", constant: "#2f9e9e", interface: "#8bc34a", module: "#ff8fb1", type: "#5ec8ff",
  property: "#c9b458", enum: "#a0522d", struct: "#66bb6a", trait: "#9575cd", macro: "#ff7043",
};
const LANGUAGE_COLORS = {
  python: "#3572a5", javascript: "#e0b400", typescript: "#2f74c0", go: "#00add8", rust: "#dea584",
  java: "#b07219", c: "#6e7681", cpp: "#f34b7d", c_sharp: "#178600", text: "#9aa6c2",
  "any language: token": "#19b6c9", "any language: atom": "#7f8aa3",
};
const extraColors = {};
/** A colour for a key no table names: spread around the hue circle by the golden angle. */
function colourFor(table, key) {
  if (table[key]) return table[key];
  if (!extraColors[key]) extraColors[key] = `hsl(${Math.round((Object.keys(extraColors).length * 137.508 + 20) % 360)} 65% 55%)`;
  return extraColors[key];
}

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
  const onAxes = (c) => axes.map((axis) => axis[0] * c[0] + axis[1] * c[1] + axis[2] * c[2] + axis[3] * c[3]);
  const local = centred.map(onAxes);
  // Each axis scaled so most points spread over the frame, then far outliers pulled in
  // (tanh of the radius), so one stray token cannot shrink the whole picture.
  const spread = [0, 1, 2, 3].map((i) => {
    const sorted = local.map((c) => Math.abs(c[i])).sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length * 0.9)] || 1;
  });
  const squash = (c) => {
    const v = c.map((x, i) => (0.55 * x) / spread[i]);
    const r = Math.hypot(...v) || 1;
    return v.map((x) => (x * Math.tanh(r / 1.1) * 1.1) / r);
  };
  // toLocal places a point found later (a search) in the same frame as the sample.
  const toLocal = (p) => squash(onAxes([p.x - mean[0], p.y - mean[1], p.z - mean[2], p.w - mean[3]]));
  return { locals: local.map(squash), toLocal };
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

const MIN_ZOOM = 0.3;
const MAX_ZOOM = 40;
// How much of the canvas the unit ball takes at zoom 1: small enough that the tesseract and
// the points stay inside it at any rotation (perspective enlarges what is near).
const FIT = 0.26;

export async function render(root) {
  const angles = { xz: 0.5, yz: -0.3, xw: 0.4, yw: 0.2 };
  let zoom = 1;
  let pan = [0, 0];
  let points = [];
  let projected = [];
  let colorBy = "kind";
  let spinning = !matchMedia("(prefers-reduced-motion: reduce)").matches;
  let frame = null;
  let pointer = null;  // where the mouse is over the canvas, to keep the tooltip true
  let selected = null;  // the point clicked or found
  let flight = null;
  const hidden = new Set();

  const canvas = h("canvas", { class: "cube", tabindex: 0, role: "img", "aria-label": "The hypercube's points projected from 4D", "aria-describedby": "cube-help" });
  const tip = h("div", { class: "cube-tip", hidden: true, id: "cube-tip" });
  const legend = h("div", { class: "legend", role: "group", "aria-label": "Legend: click to hide or show" });
  const colorSelect = h("select", { id: "cube-color" }, h("option", { value: "kind" }, "kind"), h("option", { value: "language" }, "language"));
  const spin = h("button", { type: "button", "aria-pressed": String(spinning) }, spinning ? "Pause rotation" : "Rotate");
  const find = h("input", { type: "search", id: "cube-find", placeholder: "a token, identifier or character", autocomplete: "off", spellcheck: "false" });
  const findStatus = h("span", { class: "muted", role: "status", id: "cube-find-status" });
  const details = h("section", { class: "card cube-details", id: "cube-details", "aria-live": "polite", hidden: true });
  const statsBox = h("div");
  const count = h("span", { class: "muted" });

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Hypercube"), h("p", { class: "muted", id: "cube-help" },
        "Atoms, tokens and identifiers at their points on the 3-sphere, rotated in 4D. Drag (or one finger) to turn, Shift+drag to turn through the fourth dimension, scroll or pinch to zoom where you point, +/− and the arrow keys from the keyboard, 0 to reset. Click a point to see what it is made of and where it occurs.")),
      h("div", { class: "row" }, h("label", { for: "cube-color" }, "Colour by"), colorSelect, spin,
        h("button", { type: "button", onclick: () => reset() }, "Reset view"))),
    h("form", { class: "row cube-search", role: "search", onsubmit: (e) => { e.preventDefault(); search(find.value); } },
      h("label", { for: "cube-find" }, "Find"), find, h("button", { type: "submit", class: "primary" }, "Fly to it"), findStatus),
    h("div", { class: "cube-layout" },
      h("section", { class: "card" }, h("div", { class: "cube-wrap" }, canvas, tip),
        h("div", { class: "row", style: "justify-content:space-between;margin-top:10px" }, legend, count),
        h("details", { class: "axes", open: true }, h("summary", {}, "What the axes are"),
          h("p", { class: "muted" }, "Every atom (a character), token and identifier has a point on the 3-sphere S³ in four dimensions; related content lies close together. The picture is turned onto the sample's principal axes — the directions along which the points spread most: the first runs left–right, the second up–down, the third is depth (nearer points are drawn larger and brighter), and the fourth shows as perspective too: a point nearer in the fourth dimension looks larger. Rotating mixes the four; the faint lines are a tesseract (a 4D cube) turning with them."))),
      details),
    h("section", { class: "card" }, h("h2", {}, "Statistics"), statsBox)));

  function colorOf(p) {
    if (colorBy === "language") return p.language || `any language: ${p.kind === "atom" ? "atom" : "token"}`;
    return p.group;
  }
  const paint = (key) => colourFor(colorBy === "kind" ? KIND_COLORS : LANGUAGE_COLORS, key);

  function drawLegend() {
    const counts = new Map();
    for (const p of points) counts.set(colorOf(p), (counts.get(colorOf(p)) || 0) + 1);
    legend.replaceChildren(...[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([key, n]) =>
      h("button", { type: "button", class: "small", "aria-pressed": String(!hidden.has(key)),
        style: hidden.has(key) ? "opacity:.45" : "", dataset: { key, color: paint(key) },
        onclick: () => { hidden.has(key) ? hidden.delete(key) : hidden.add(key); drawLegend(); draw(); } },
      h("i", { style: `background:${paint(key)}`, "aria-hidden": "true" }), `${key} (${fmt(n)})`)));
  }

  const geometry = () => {
    const { width, height } = canvas.getBoundingClientRect();
    return { width, height, scale: Math.min(width, height) * FIT * zoom, cx: width / 2 + pan[0], cy: height / 2 + pan[1] };
  };

  function projector() {
    const { scale, cx, cy } = geometry();
    return (p) => {
      const [x, y, z, w] = rotate(p, angles);
      const k4 = 2.2 / (2.2 - w);            // 4D → 3D: nearer in w looks larger
      const k3 = 3 / (3 - z * k4);            // 3D → 2D
      return [cx + x * k4 * k3 * scale, cy - y * k4 * k3 * scale, z * k4, k4 * k3];
    };
  }

  function draw() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = canvas.getBoundingClientRect();
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const project = projector();
    ctx.strokeStyle = cssVar("--border");
    ctx.lineWidth = 1;
    const corners = CORNERS.map(project);
    ctx.beginPath();
    for (const [a, b] of EDGES) { ctx.moveTo(corners[a][0], corners[a][1]); ctx.lineTo(corners[b][0], corners[b][1]); }
    ctx.stroke();
    projected = [];
    for (const p of points) {
      const key = colorOf(p);
      if (hidden.has(key) && p !== selected) continue;
      const [sx, sy, depth, k] = project(p.local);
      projected.push({ p, sx, sy, depth, k, color: paint(key) });
    }
    projected.sort((a, b) => a.depth - b.depth);  // far points first
    // For tests and the curious: the zoom, and how many points the canvas shows whole.
    const inside = projected.filter((q) => q.sx >= 0 && q.sx <= width && q.sy >= 0 && q.sy <= height).length;
    canvas.dataset.zoom = zoom.toFixed(3);
    canvas.dataset.inside = String(projected.length ? inside / projected.length : 1);
    for (const q of projected) {
      ctx.globalAlpha = Math.max(0.25, Math.min(0.95, 0.35 + q.depth * 0.4));
      ctx.fillStyle = q.color;
      ctx.beginPath();
      ctx.arc(q.sx, q.sy, radius(q), 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    // Atoms are labelled: they are few and they are the alphabet every token is made of.
    ctx.fillStyle = cssVar("--text");
    ctx.font = `11px ${cssVar("--mono")}`;
    if (zoom >= 1.5) for (const q of projected) if (q.p.kind === "atom" && q.p.label.trim()) ctx.fillText(q.p.label, q.sx + 4, q.sy - 4);
    const mark = selected && projected.find((q) => q.p === selected);
    if (mark) {
      ctx.strokeStyle = cssVar("--accent");
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(mark.sx, mark.sy, radius(mark) + 6, 0, Math.PI * 2);
      ctx.stroke();
      ctx.font = `bold 13px ${cssVar("--mono")}`;
      ctx.fillStyle = cssVar("--text");
      ctx.fillText(JSON.stringify(selected.label), mark.sx + radius(mark) + 9, mark.sy + 4);
      canvas.dataset.selectedX = String(Math.round(mark.sx));
      canvas.dataset.selectedY = String(Math.round(mark.sy));
      canvas.dataset.selectedId = selected.id;
    }
    updateTip();
  }

  const radius = (q) => Math.max(1.2, (q.p.kind === "atom" ? 3.2 : 2) * q.k * Math.sqrt(zoom));

  function nearest(mx, my, limit = 64) {
    let best = null;
    let bestD = limit;
    for (const q of projected) {
      const d = (q.sx - mx) ** 2 + (q.sy - my) ** 2;
      if (d <= bestD) { best = q; bestD = d; }  // later ones are drawn on top: they win ties
    }
    return best;
  }

  /** The tooltip names the point under the pointer as drawn now (after any zoom or turn). */
  function updateTip() {
    const best = pointer && !drag ? nearest(pointer[0], pointer[1]) : null;
    if (!best) { tip.hidden = true; return; }
    const { width, height } = canvas.getBoundingClientRect();
    tip.hidden = false;
    tip.textContent = `${JSON.stringify(best.p.label)}\n${best.p.kind} · ${best.p.group}${best.p.language ? ` · ${best.p.language}` : ""}\n(${[best.p.x, best.p.y, best.p.z, best.p.w].map((v) => v.toFixed(3)).join(", ")})`;
    tip.dataset.label = best.p.label;
    // Kept inside the canvas: flipped to the pointer's other side near an edge.
    const left = best.sx + 12 + tip.offsetWidth > width ? best.sx - 12 - tip.offsetWidth : best.sx + 12;
    const top = best.sy + 12 + tip.offsetHeight > height ? best.sy - 12 - tip.offsetHeight : best.sy + 12;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, top)}px`;
  }

  function loop() {
    if (flight) {
      const t = Math.min(1, (performance.now() - flight.start) / flight.ms);
      const ease = t * t * (3 - 2 * t);
      zoom = flight.zoom[0] + (flight.zoom[1] - flight.zoom[0]) * ease;
      pan = [0, 1].map((i) => flight.pan[0][i] + (flight.pan[1][i] - flight.pan[0][i]) * ease);
      if (t >= 1) flight = null;
      draw();
    } else if (spinning) { angles.xw += 0.004; angles.xz += 0.0015; draw(); }
    frame = requestAnimationFrame(loop);
  }

  function reset() {
    Object.assign(angles, { xz: 0.5, yz: -0.3, xw: 0.4, yw: 0.2 });
    zoom = 1;
    pan = [0, 0];
    flight = null;
    draw();
  }

  /** Zoom by `factor`, keeping the spot under (mx, my) where it is. */
  function zoomAt(mx, my, factor) {
    const { width, height } = canvas.getBoundingClientRect();
    const next = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom * factor));
    const applied = next / zoom;
    const cx = width / 2 + pan[0];
    const cy = height / 2 + pan[1];
    pan = [pan[0] + (mx - cx) * (1 - applied), pan[1] + (my - cy) * (1 - applied)];
    zoom = next;
    draw();
  }

  /** Stop turning, then glide the view so `point` sits at the centre, closer. */
  function flyTo(point) {
    selected = point;
    spinning = false;
    spin.textContent = "Rotate";
    spin.setAttribute("aria-pressed", "false");
    const targetZoom = Math.max(zoom, 4);
    // Where the point lands at the target zoom with no pan: pan is minus that offset.
    const { width, height } = canvas.getBoundingClientRect();
    const [x, y, z, w] = rotate(point.local, angles);
    const k4 = 2.2 / (2.2 - w);
    const k = k4 * (3 / (3 - z * k4));
    const scale = Math.min(width, height) * FIT * targetZoom;
    flight = { start: performance.now(), ms: matchMedia("(prefers-reduced-motion: reduce)").matches ? 1 : 700,
      zoom: [zoom, targetZoom], pan: [pan.slice(), [-x * k * scale, y * k * scale]] };
    showDetails(point);
  }

  async function search(text) {
    const q = text.trim() ? text : text;  // spaces are tokens too: search them as typed
    if (!q) return;
    findStatus.textContent = "Looking…";
    const exact = points.find((p) => p.label === q);
    if (exact) { findStatus.textContent = ""; flyTo(exact); return; }
    try {
      const { data } = await get(`/v1/hypercube/points?q=${encodeURIComponent(q)}&limit=20`);
      if (!data.length) { findStatus.textContent = `Nothing in the hypercube is “${q}”.`; return; }
      // Not in the sample drawn: add the points found, in the same frame as the others.
      const [target] = data.map(placed);
      findStatus.textContent = data[0].label === q ? "" : `No exact match; flying to “${data[0].label}”.`;
      flyTo(target);
    } catch (error) {
      findStatus.textContent = error.message;
    }
  }

  let toLocal = null;  // maps a 4D point into the sample's principal frame
  const frame4 = (p) => (toLocal ? toLocal(p) : [0, 0, 0, 0]);

  /** The drawn point for `p`, added to the picture (in the sample's frame) if not drawn yet. */
  function placed(p) {
    const drawn = points.find((q) => q.id === p.id);
    if (drawn) return drawn;
    p.local = frame4(p);
    points.push(p);
    count.textContent = `${fmt(points.length)} points`;
    drawLegend();
    return p;
  }

  function treeNode(node) {
    const label = node.truncated ? "…" : JSON.stringify(node.label);
    const kids = (node.children || []).filter(Boolean);
    const item = h("li", {}, h("span", { class: `tree-label kind-${node.kind || ""}` }, label), h("span", { class: "muted" }, ` ${node.kind || ""}`));
    if (kids.length) item.append(h("ul", {}, kids.map(treeNode)));
    return item;
  }

  async function showDetails(point) {
    details.hidden = false;
    details.dataset.id = point.id;
    delete details.dataset.ready;
    const occurrences = h("div", {}, h("p", { class: "muted" }, "Looking for it in the code…"));
    const tree = h("div", { class: "tree" }, h("p", { class: "muted" }, "Loading…"));
    const near = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    details.replaceChildren(
      h("div", { class: "row spread" }, h("h2", { class: "mono" }, JSON.stringify(point.label)),
        h("button", { type: "button", class: "small", onclick: () => { details.hidden = true; selected = null; draw(); } }, "Close")),
      h("p", { class: "muted" }, [point.kind, point.group !== point.kind ? point.group : "", point.language].filter(Boolean).join(" · ")),
      h("p", { class: "mono muted small-print" }, `(${[point.x, point.y, point.z, point.w].map((v) => v.toFixed(4)).join(", ")})`),
      h("h3", {}, "Made of"), tree,
      h("h3", { style: "margin-top:12px" }, "Nearest"), near,
      h("h3", { style: "margin-top:12px" }, "Occurs in"), occurrences);
    try {
      const node = await get(`/v1/hypercube/points/${encodeURIComponent(point.id)}`);
      tree.replaceChildren(node.children.length ? h("ul", { class: "tree-root" }, treeNode(node)) : h("p", { class: "muted" }, "An atom: one character, made of nothing smaller."));
      near.replaceChildren(node.neighbors.length
        ? h("ol", { class: "neighbors" }, node.neighbors.map((p) => h("li", {},
          h("button", { type: "button", class: "link-button mono", "data-id": p.id, title: `fly to ${JSON.stringify(p.label)}`, onclick: () => flyTo(placed(p)) }, JSON.stringify(p.label)),
          h("span", { class: "muted" }, ` ${p.kind} · ${p.distance.toFixed(4)} rad`))))
        : h("p", { class: "muted" }, "Nothing else in the hypercube."));
    } catch (error) {
      tree.replaceChildren(h("p", { class: "muted" }, error.message));
      near.replaceChildren();
    }
    try {
      await loadRoots();
      const text = point.label;
      const url = point.kind === "identifier"
        ? `/v1/code/search?q=${encodeURIComponent(text)}&mode=regex&case_sensitive=true&limit=30&per_file=3`
        : `/v1/code/search?q=${encodeURIComponent(text)}&case_sensitive=true&limit=30&per_file=3`;
      const body = point.kind === "identifier"
        ? await get(url.replace(encodeURIComponent(text), encodeURIComponent(`\\b${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`)))
        : await get(url);
      occurrences.replaceChildren(body.data.length
        ? h("ol", { class: "occurrences" }, body.data.map((hit) => h("li", {},
          h("a", { href: `#/code?open=${encodeURIComponent(hit.path)}&line=${hit.line}`, class: "source-link" }, pathLabel(hit.path, `:${hit.line}`)),
          h("code", { class: "occ-snippet" }, hit.snippet))))
        : h("p", { class: "muted" }, text.trim() ? "Not found in the ingested files as text." : "Whitespace: everywhere."));
    } catch (error) {
      occurrences.replaceChildren(h("p", { class: "muted" }, error.message));
    }
    details.dataset.ready = "true";
  }

  // Pointer input: mouse, pen and touch alike. One pointer turns (or pans with Alt or the
  // middle button); two pointers pinch to zoom around their midpoint and drag to pan.
  const active = new Map();
  let drag = null;
  let pinch = null;
  let moved = 0;
  const local = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener("pointerdown", (e) => {
    try { canvas.setPointerCapture(e.pointerId); } catch { /* a pointer already gone */ }
    active.set(e.pointerId, local(e));
    moved = 0;
    if (active.size === 2) {
      const [a, b] = [...active.values()];
      pinch = { distance: Math.hypot(a[0] - b[0], a[1] - b[1]) || 1, mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
      drag = null;
    } else if (active.size === 1) {
      drag = { x: e.clientX, y: e.clientY, shift: e.shiftKey, button: e.button };
    }
  });
  const release = (e) => {
    const wasClick = drag && moved < 6 && active.size === 1 && e.type === "pointerup";
    active.delete(e.pointerId);
    if (active.size < 2) pinch = null;
    if (wasClick) {
      const [mx, my] = local(e);
      const hit = nearest(mx, my, e.pointerType === "touch" ? 400 : 100);
      if (hit) { selected = hit.p; showDetails(hit.p); draw(); }
    }
    drag = null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointermove", (e) => {
    if (active.has(e.pointerId)) active.set(e.pointerId, local(e));
    if (pinch && active.size === 2) {
      const [a, b] = [...active.values()];
      const distance = Math.hypot(a[0] - b[0], a[1] - b[1]) || 1;
      const mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
      pan = [pan[0] + mid[0] - pinch.mid[0], pan[1] + mid[1] - pinch.mid[1]];
      zoomAt(mid[0], mid[1], distance / pinch.distance);
      pinch = { distance, mid };
      moved += 10;
      return;
    }
    if (drag) {
      moved += Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y);
      const dx = (e.clientX - drag.x) / 150;
      const dy = (e.clientY - drag.y) / 150;
      if (drag.button === 1 || e.altKey) pan = [pan[0] + e.clientX - drag.x, pan[1] + e.clientY - drag.y];
      else if (drag.shift) { angles.xw += dx; angles.yw += dy; } else { angles.xz += dx; angles.yz += dy; }
      drag.x = e.clientX;
      drag.y = e.clientY;
      flight = null;
      draw();
      return;
    }
    pointer = local(e);
    updateTip();
  });
  canvas.addEventListener("pointerleave", () => { pointer = null; tip.hidden = true; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    flight = null;
    const [mx, my] = local(e);
    pointer = [mx, my];
    zoomAt(mx, my, Math.exp(-e.deltaY / 400));
  }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const step = 0.08;
    const { width, height } = canvas.getBoundingClientRect();
    const keys = {
      ArrowLeft: () => { angles.xz -= step; }, ArrowRight: () => { angles.xz += step; },
      ArrowUp: () => { angles.yz -= step; }, ArrowDown: () => { angles.yz += step; },
      "+": () => zoomAt(width / 2, height / 2, 1.2), "=": () => zoomAt(width / 2, height / 2, 1.2),
      "-": () => zoomAt(width / 2, height / 2, 1 / 1.2), 0: reset,
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
    const frameOf = principalFrame(points);
    frameOf.locals.forEach((l, i) => { points[i].local = l; });
    toLocal = frameOf.toLocal;
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
