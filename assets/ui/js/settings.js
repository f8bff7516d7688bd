// Settings: what this UI uses (API key, default model, theme) is kept in this browser; what
// the server enforces (API keys, CORS) is set where the server starts, and shown here.

import { get } from "./api.js";
import { field, h, toast } from "./dom.js";
import { loadSettings, saveConversations, saveSettings } from "./store.js";

export async function render(root) {
  const settings = loadSettings();
  const key = h("input", { type: "password", id: "settings-key", value: settings.apiKey, autocomplete: "off", spellcheck: "false" });
  const show = h("button", { type: "button", "aria-pressed": "false", onclick: () => {
    const visible = key.type === "password";
    key.type = visible ? "text" : "password";
    show.setAttribute("aria-pressed", String(visible));
    show.textContent = visible ? "Hide" : "Show";
  } }, "Show");
  const model = h("select", { id: "settings-model" }, h("option", { value: "" }, "First available"));
  const theme = h("select", { id: "settings-theme" },
    ["system", "light", "dark"].map((t) => h("option", { value: t, selected: settings.theme === t }, t[0].toUpperCase() + t.slice(1))));
  const status = h("p", { class: "muted", role: "status" });
  const auth = h("span", { class: "badge" }, "checking…");
  const base = `${location.origin}/v1`;

  root.append(h("div", { class: "page" },
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Settings"),
      h("p", { class: "muted" }, "This page's choices are kept in this browser (or this window) only."))),
    h("div", { class: "grid two" },
      h("section", { class: "card", "aria-labelledby": "s-ui" },
        h("h2", { id: "s-ui" }, "This app"),
        h("form", { class: "grid", onsubmit: (e) => {
          e.preventDefault();
          saveSettings({ apiKey: key.value.trim(), model: model.value, theme: theme.value });
          status.textContent = "Saved.";
          checkAuth();
        } },
        h("div", { class: "field" }, h("label", { for: "settings-key" }, "API key"),
          h("div", { class: "row" }, key, show),
          h("span", { class: "hint" }, "Sent as Authorization: Bearer … with every request, if the server requires a key.")),
        field("Default model", model),
        field("Theme", theme),
        h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Save"),
          h("button", { type: "button", class: "danger", onclick: () => {
            if (confirm("Delete every conversation kept in this browser?")) { saveConversations([]); status.textContent = "Chat history cleared."; }
          } }, "Clear chat history")),
        status)),
      h("section", { class: "card", "aria-labelledby": "s-server" },
        h("h2", { id: "s-server" }, "Server"),
        h("table", {}, h("tbody", {},
          h("tr", {}, h("th", { scope: "row" }, "API keys"), h("td", {}, auth)),
          h("tr", {}, h("th", { scope: "row" }, "OpenAI base URL"), h("td", { class: "mono" }, base)),
          h("tr", {}, h("th", { scope: "row" }, "Version"), h("td", { id: "settings-version" }, "–")),
          h("tr", {}, h("th", { scope: "row" }, "Hypercube file"), h("td", { class: "mono", id: "settings-db" }, "–")))),
        h("h3", { style: "margin-top:16px" }, "Changing the server's settings"),
        h("p", {}, "API keys, CORS origins and the port are set when the server starts, as flags or environment variables:"),
        h("pre", { class: "snippet", style: "padding:10px" }, h("code", {},
          "hypercube serve --api-key KEY --cors-origin https://app.example\n",
          "# or: HYPERCUBE_API_KEY=KEY HYPERCUBE_CORS_ORIGIN=https://app.example hypercube app")),
        h("h3", { style: "margin-top:16px" }, "Use it from code"),
        h("pre", { class: "snippet", style: "padding:10px" }, h("code", {},
          `from openai import OpenAI\nclient = OpenAI(base_url="${base}", api_key="${settings.apiKey ? "…" : "unused"}")\n`,
          "client.chat.completions.create(model=…, messages=[…], stream=True)"))))));

  async function checkAuth() {
    // Ask without a key: a 401 means the server requires one.
    const bare = await fetch("/v1/models");
    auth.textContent = bare.status === 401 ? "required" : "not required";
    auth.className = `badge ${bare.status === 401 ? "warn" : "ok"}`;
  }

  checkAuth().catch(() => {});
  try {
    const health = await get("/health").catch((e) => e.body);
    if (health) {
      document.getElementById("settings-version").textContent = health.version || "–";
      document.getElementById("settings-db").textContent = health.database?.path || "–";
    }
    const { data } = await get("/v1/models");
    model.append(...data.map((m) => h("option", { value: m.id, selected: settings.model === m.id }, m.id)));
  } catch (error) {
    toast(error.message);
  }
}
