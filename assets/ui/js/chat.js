// Chat: a conversation streamed from /v1/chat/completions, with model and sampling settings,
// a Stop button that aborts the request (the server stops generating when the client goes),
// and the history of conversations kept in this browser.

import { get, stream } from "./api.js";
import { field, h, toast } from "./dom.js";
import { loadConversations, loadSettings, saveConversations, saveSettings } from "./store.js";

function newConversation() {
  return { id: `c${Date.now().toString(36)}`, title: "New chat", messages: [], created: Date.now() };
}

export async function render(root) {
  let conversations = loadConversations();
  let current = conversations[0] || newConversation();
  let controller = null;
  const settings = loadSettings();

  // -- settings panel ------------------------------------------------------------------
  const model = h("select", { id: "chat-model" }, h("option", { value: "" }, "Loading…"));
  const slider = (id, min, max, step, value, key) => {
    const out = h("output", { for: id }, String(value));
    const input = h("input", { type: "range", id, min, max, step, value });
    input.addEventListener("input", () => { out.textContent = input.value; saveSettings({ [key]: Number(input.value) }); });
    return [input, out];
  };
  const [temperature, tempOut] = slider("chat-temperature", 0, 2, 0.05, settings.temperature, "temperature");
  const [topP, topPOut] = slider("chat-top-p", 0, 1, 0.01, settings.topP, "topP");
  const maxTokens = h("input", { type: "number", id: "chat-max-tokens", min: 1, max: 8192, value: settings.maxTokens });
  maxTokens.addEventListener("change", () => saveSettings({ maxTokens: Number(maxTokens.value) }));
  const seed = h("input", { type: "number", id: "chat-seed", placeholder: "random", value: settings.seed });
  seed.addEventListener("change", () => saveSettings({ seed: seed.value }));
  const system = h("textarea", { id: "chat-system", rows: 3, placeholder: "Optional instructions" }, settings.system);
  system.addEventListener("change", () => saveSettings({ system: system.value }));
  model.addEventListener("change", () => saveSettings({ model: model.value }));

  const settingsPanel = h("aside", { class: "card chat-settings", "aria-label": "Generation settings" },
    h("h2", {}, "Settings"),
    field("Model", model),
    h("div", { class: "field" }, h("label", { for: "chat-temperature" }, "Temperature ", tempOut), temperature),
    h("div", { class: "field" }, h("label", { for: "chat-top-p" }, "Top p ", topPOut), topP),
    field("Max tokens", maxTokens),
    field("Seed", seed, "Same seed, same settings: same answer."),
    field("System prompt", system));

  // -- conversation list ---------------------------------------------------------------
  const list = h("ul", { "aria-label": "Conversations" });
  const history = h("nav", { class: "card chat-history", "aria-label": "Conversation history" },
    h("button", { class: "primary", onclick: () => { stop(); current = newConversation(); draw(); prompt.focus(); } }, "+ New chat"),
    list);

  // -- messages and composer -------------------------------------------------------------
  const messages = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  const prompt = h("textarea", { id: "chat-input", rows: 2, placeholder: "Ask, or paste code to continue…  (Enter sends, Shift+Enter new line)" });
  const send = h("button", { class: "primary", type: "submit" }, "Send");
  const stopButton = h("button", { class: "danger", type: "button", disabled: true, onclick: () => stop() }, "Stop");
  const composer = h("form", { class: "composer", "aria-label": "Compose" },
    h("label", { for: "chat-input", class: "sr-only" }, "Message"), prompt, send, stopButton);
  const main = h("section", { class: "card chat-main", "aria-label": "Conversation" }, messages, composer);

  root.append(h("div", { class: "page" }, h("div", { class: "chat" }, history, main, settingsPanel)));

  function persist() {
    if (!current.messages.length) return;
    conversations = [current, ...conversations.filter((c) => c.id !== current.id)].slice(0, 100);
    saveConversations(conversations);
  }

  function bubble(message) {
    const el = h("div", { class: `message ${message.role}` }, message.content);
    if (message.meta !== undefined) {
      el.dataset.done = message.meta;
      if (message.meta) el.append(h("span", { class: "meta" }, message.meta));
    }
    return el;
  }

  function draw() {
    messages.replaceChildren(...current.messages.map(bubble));
    if (!current.messages.length) {
      messages.append(h("div", { class: "empty" },
        h("p", {}, "Every answer is generated from the statistics of what you ingested — nothing leaves this machine."),
        h("p", { class: "muted" }, "Try: “def read_config(path):” or “Explain what a context manager does.”")));
    }
    list.replaceChildren(...conversations.map((c) => h("li", {},
      h("button", { class: "open", "aria-current": c.id === current.id ? "true" : "false",
        onclick: () => { stop(); current = c; draw(); } }, c.title),
      h("button", { class: "remove", "aria-label": `Delete “${c.title}”`,
        onclick: () => {
          conversations = conversations.filter((x) => x.id !== c.id);
          saveConversations(conversations);
          if (c.id === current.id) current = conversations[0] || newConversation();
          draw();
        } }, "×"))));
    messages.scrollTop = messages.scrollHeight;
  }

  function stop() {
    if (controller) controller.abort();
  }

  async function ask(text) {
    const selected = model.value;
    if (!selected) { toast("No model is available yet: ingest something first."); return; }
    current.messages.push({ role: "user", content: text });
    if (current.title === "New chat") current.title = text.slice(0, 48);
    const reply = { role: "assistant", content: "" };
    current.messages.push(reply);
    draw();
    const el = messages.lastElementChild;
    el.classList.add("streaming");
    el.setAttribute("aria-busy", "true");
    const body = {
      model: selected,
      messages: [
        ...(system.value.trim() ? [{ role: "system", content: system.value }] : []),
        ...current.messages.slice(0, -1).map(({ role, content }) => ({ role, content })),
      ],
      temperature: Number(temperature.value),
      top_p: Number(topP.value),
      max_tokens: Number(maxTokens.value) || 256,
      stream_options: { include_usage: true },
    };
    if (seed.value !== "") body.seed = Number(seed.value);
    controller = new AbortController();
    send.disabled = true;
    stopButton.disabled = false;
    const started = performance.now();
    let usage = null;
    let finish = null;
    let scrolling = false;
    try {
      await stream("/v1/chat/completions", body, (chunk) => {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          if (choice.delta && choice.delta.content) {
            // Append, don't re-set: re-laying out the whole reply per token is quadratic.
            reply.content += choice.delta.content;
            el.append(choice.delta.content);
            if (!scrolling) {
              scrolling = true;
              requestAnimationFrame(() => { messages.scrollTop = messages.scrollHeight; scrolling = false; });
            }
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }, { signal: controller.signal });
      const seconds = (performance.now() - started) / 1000;
      reply.meta = usage
        ? `${usage.completion_tokens} tokens · ${(usage.completion_tokens / seconds).toFixed(0)} tokens/s · ${finish || "stop"}`
        : finish || "";
    } catch (error) {
      if (error.name === "AbortError") reply.meta = "stopped";
      else { reply.meta = "failed"; toast(error.message); }
    } finally {
      controller = null;
      send.disabled = false;
      stopButton.disabled = true;
      el.classList.remove("streaming");
      el.removeAttribute("aria-busy");
      persist();
      draw();
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text || controller) return;
    prompt.value = "";
    ask(text);
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  root.addEventListener("keydown", (event) => { if (event.key === "Escape") stop(); });

  draw();
  prompt.focus();

  try {
    const { data } = await get("/v1/models");
    model.replaceChildren(...data.map((m) => h("option", { value: m.id }, m.id)));
    const preferred = settings.model && data.some((m) => m.id === settings.model) ? settings.model : data[0]?.id;
    if (preferred) model.value = preferred;
  } catch (error) {
    model.replaceChildren(h("option", { value: "" }, "unavailable"));
    toast(error.message);
  }
  return () => stop();
}
