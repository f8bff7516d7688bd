// Paths as a person reads them: relative to the ingested root they came from ("project/src/
// app.py", not "/home/me/work/project/src/app.py"; the starter corpus's internal folder is
// left out entirely), and able to wrap after a "/" instead of in the middle of a name.

import { get } from "./api.js";
import { h } from "./dom.js";

let roots = [];
let loading = null;

/** Fetch the roots of every ingest run once per page load (again after an ingest). */
export function loadRoots(force = false) {
  if (!loading || force) {
    loading = get("/v1/ingest?limit=100").then((body) => {
      const all = new Set((body.data || []).flatMap((run) => run.roots || []));
      roots = [...all].map((r) => r.replace(/[\\/]+$/, "")).sort((a, b) => b.length - a.length);
      return roots;
    }).catch(() => roots);
  }
  return loading;
}

/** `path` relative to the longest ingested root containing it, led by that root's name. */
export function displayPath(path) {
  if (!path) return "";
  for (const root of roots) {
    if (path === root) return root.split(/[\\/]/).pop();
    if (path.startsWith(root) && /[\\/]/.test(path[root.length])) {
      const rest = path.slice(root.length + 1);
      // The starter corpus is unpacked into an internal folder of the data directory.
      if (/\.corpus$/.test(root)) return rest;
      return `${root.split(/[\\/]/).pop()}/${rest}`;
    }
  }
  return path;
}

/** A span showing a path that may break only after a separator. */
export function pathLabel(path, suffix = "") {
  const shown = displayPath(path);
  const parts = shown.split(/(?<=[\\/])/);
  return h("span", { class: "path", title: path + suffix }, parts.flatMap((p, i) => (i ? [h("wbr"), p] : [p])), suffix);
}
