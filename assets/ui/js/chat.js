// Chat: a conversation streamed from /v1/chat/completions, rendered as Markdown (highlighted
// code blocks with copy buttons; the grounded chat's sources as links that open the code page
// at the file and line), with regenerate, edit-and-resend, a Stop button that aborts the
// request (the server stops generating when the client goes), conversations kept in this
// browser (renamed, deleted, searched), and a raw completion mode (prompt + suffix, the
// completion engine of /v1/completions). Every sampling control the API has is under
// "Advanced".

import { get, stream } from "./api.js";
import { field, h, toast } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { displayPath, loadRoots } from "./paths.js";
import { loadConversations, loadSettings, saveConversations, saveSettings } from "./store.js";

const FINISH_WORDS = {
  stop: "finished",
  length: "reached the token limit",
  content_filter: "filtered",
  tool_calls: "called a tool",
  stopped: "stopped by you",
  failed: "failed",
};

function newConversation() {
  return { id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: "New chat", messages: [], created: Date.now(), updated: Date.now() };
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function when(ms) {
  if (!ms) return "";
  const date = new Date(ms);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : `${dateFormat.format(date)}, ${timeFormat.format(date)}`;
}

/** The footer of a finished reply, in words: "42 tokens in 0.3 s · finished". */
export function footerText(meta) {
  if (!meta) return "";
  const parts = [];
  if (meta.tokens !== undefined) parts.push(`${meta.tokens} token${meta.tokens === 1 ? "" : "s"}`);
  if (meta.seconds !== undefined && meta.tokens) parts.push(`${Math.round(meta.tokens / Math.max(meta.seconds, 0.001))} tokens/s`);
  if (meta.finish) parts.push(FINISH_WORDS[meta.finish] || meta.finish.replace(/_/g, " "));
  return parts.join(" · ");
}

/** Replies come after a role line or a newline the model emits first: no leading blank lines. */
const withoutLeadingBlankLines = (text) => text.replace(/^(?:[ \t]*\n)+/, "");

export async function render(root) {
  let conversations = loadConversations().map((c) => ({ updated: c.created, ...c }));
  let current = conversations[0] || newConversation();
  let controller = null;
  let filter = "";
  const settings = loadSettings();
  loadRoots();

  // -- settings panel ------------------------------------------------------------------
  const model = h("select", { id: "chat-model" }, h("option", { value: "" }, "Loading…"));
  model.addEventListener("change", () => saveSettings({ model: model.value }));
  const slider = (id, label, min, max, step, key) => {
    const out = h("output", { for: id }, String(settings[key]));
    const input = h("input", { type: "range", id, min, max, step, value: settings[key] });
    input.addEventListener("input", () => { out.textContent = input.value; saveSettings({ [key]: Number(input.value) }); });
    return { input, el: h("div", { class: "field" }, h("label", { for: id }, `${label} `, out), input) };
  };
  const number = (id, key, attrs = {}) => {
    const input = h("input", { type: "number", id, value: settings[key], ...attrs });
    input.addEventListener("change", () => saveSettings({ [key]: input.value === "" ? "" : Number(input.value) }));
    return input;
  };
  const temperature = slider("chat-temperature", "Temperature", 0, 2, 0.05, "temperature");
  const topP = slider("chat-top-p", "Top p", 0, 1, 0.01, "topP");
  const minP = slider("chat-min-p", "Min p", 0, 1, 0.01, "minP");
  const presence = slider("chat-presence", "Presence penalty", -2, 2, 0.1, "presencePenalty");
  const frequency = slider("chat-frequency", "Frequency penalty", -2, 2, 0.1, "frequencyPenalty");
  const maxTokens = number("chat-max-tokens", "maxTokens", { min: 1, max: 8192 });
  const seed = number("chat-seed", "seed", { placeholder: "random" });
  const topK = number("chat-top-k", "topK", { min: 0, placeholder: "0 = off" });
  const dry = number("chat-dry", "dryMultiplier", { min: 0, max: 5, step: 0.1, placeholder: "server default" });
  const stops = h("textarea", { id: "chat-stop", rows: 2, placeholder: "one per line, up to 4", spellcheck: "false" }, settings.stop);
  stops.addEventListener("change", () => saveSettings({ stop: stops.value }));
  const system = h("textarea", { id: "chat-system", rows: 3, placeholder: "Optional instructions" }, settings.system);
  system.addEventListener("change", () => saveSettings({ system: system.value }));

  const settingsPanel = h("aside", { class: "card chat-settings", "aria-label": "Generation settings" },
    h("h2", {}, "Settings"),
    field("Model", model),
    temperature.el, topP.el,
    field("Max tokens", maxTokens),
    field("Seed", seed, "Same seed, same settings: same answer."),
    field("System prompt", system),
    h("details", { class: "advanced" }, h("summary", {}, "Advanced"),
      field("Top k", topK, "Sample only from the k likeliest tokens (0: all)."),
      minP.el, presence.el, frequency.el,
      field("Repetition penalty", dry, "DRY multiplier: how hard repeats are pushed down (0: off)."),
      field("Stop sequences", stops, "Generation ends before any of these.")));

  function sampling() {
    const body = {
      temperature: Number(temperature.input.value),
      top_p: Number(topP.input.value),
      max_tokens: Number(maxTokens.value) || 256,
    };
    if (seed.value !== "") body.seed = Number(seed.value);
    if (Number(topK.value) > 0) body.top_k = Number(topK.value);
    if (Number(minP.input.value) > 0) body.min_p = Number(minP.input.value);
    if (Number(presence.input.value)) body.presence_penalty = Number(presence.input.value);
    if (Number(frequency.input.value)) body.frequency_penalty = Number(frequency.input.value);
    if (dry.value !== "") body.dry_multiplier = Number(dry.value);
    const stopList = stops.value.split("\n").map((s) => s.replace(/\\n/g, "\n")).filter(Boolean).slice(0, 4);
    if (stopList.length) body.stop = stopList;
    return body;
  }

  // -- conversation list ---------------------------------------------------------------
  const list = h("ul", { "aria-label": "Conversations" });
  const search = h("input", { type: "search", id: "chat-search", placeholder: "Search conversations", "aria-label": "Search conversations" });
  search.addEventListener("input", () => { filter = search.value.trim().toLowerCase(); drawList(); });
  const history = h("nav", { class: "card chat-history", "aria-label": "Conversation history" },
    h("button", { class: "primary", type: "button", onclick: () => { stop(); current = newConversation(); showMode("chat"); draw(); prompt.focus(); } }, "+ New chat"),
    search, list);

  // -- messages and composer -------------------------------------------------------------
  const messages = h("div", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  const prompt = h("textarea", { id: "chat-input", rows: 2, placeholder: "Ask about your code, or paste code to continue…  (Enter sends, Shift+Enter new line)" });
  const send = h("button", { class: "primary", type: "submit" }, "Send");
  const stopButton = h("button", { class: "danger", type: "button", disabled: true, onclick: () => stop() }, "Stop");
  const composer = h("form", { class: "composer", "aria-label": "Compose" },
    h("label", { for: "chat-input", class: "sr-only" }, "Message"), prompt, send, stopButton);

  // -- raw completion mode ---------------------------------------------------------------
  const rawPrompt = h("textarea", { id: "raw-prompt", rows: 8, spellcheck: "false", placeholder: "def read_config(path):\n    " });
  const rawSuffix = h("textarea", { id: "raw-suffix", rows: 3, spellcheck: "false", placeholder: "Optional: the code after the gap (fill in the middle)" });
  const rawGo = h("button", { class: "primary", type: "submit" }, "Complete");
  const rawStop = h("button", { class: "danger", type: "button", disabled: true, onclick: () => stop() }, "Stop");
  const rawOut = h("div", { class: "raw-out", "aria-live": "polite", id: "raw-output" });
  const rawMeta = h("p", { class: "muted meta", id: "raw-meta" });
  const rawForm = h("form", { class: "raw grid", "aria-label": "Raw completion" },
    field("Prompt", rawPrompt, "Sent as is (nothing trimmed) to /v1/completions."),
    field("Suffix", rawSuffix),
    h("div", { class: "row" }, rawGo, rawStop), rawOut, rawMeta);

  const modeTabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Chat or raw completion" });
  const chatPane = h("div", { class: "chat-pane" }, messages, composer);
  const rawPane = h("div", { class: "chat-pane raw-pane", hidden: true }, rawForm);
  const main = h("section", { class: "card chat-main", "aria-label": "Conversation" }, modeTabs, chatPane, rawPane);

  root.append(h("div", { class: "page" }, h("div", { class: "chat" }, history, main, settingsPanel)));

  let mode = "chat";
  function showMode(next) {
    mode = next;
    modeTabs.replaceChildren(...[["chat", "Chat"], ["raw", "Completion"]].map(([key, label]) => h("button", {
      role: "tab", type: "button", "aria-selected": String(key === mode), onclick: () => showMode(key),
    }, label)));
    chatPane.hidden = mode !== "chat";
    rawPane.hidden = mode !== "raw";
  }

  function persist() {
    if (!current.messages.length) return;
    current.updated = Date.now();
    conversations = [current, ...conversations.filter((c) => c.id !== current.id)].slice(0, 200);
    saveConversations(conversations);
  }

  // -- rendering -----------------------------------------------------------------------
  function sourceLink(source) {
    const shown = source.display_path || displayPath(source.path);
    const href = `#/code?open=${encodeURIComponent(source.path)}&line=${source.line || 1}`;
    return h("a", { href, class: "source-link", title: `${source.path}:${source.line}` },
      `${shown}:${source.line}`);
  }

  function replyBody(message) {
    const sources = message.sources || [];
    // Citations in the text (`display_path:line`) become links to the code page too.
    const cited = new Map();
    for (const s of sources) {
      cited.set(`${s.display_path || displayPath(s.path)}:${s.line}`, s);
      cited.set(`${s.path}:${s.line}`, s);
    }
    const inlineCode = (code) => {
      const source = cited.get(code.trim());
      return source ? h("code", {}, sourceLink(source)) : null;
    };
    const body = h("div", { class: "md" }, renderMarkdown(withoutLeadingBlankLines(message.content), { inlineCode }));
    if (sources.length) {
      body.append(h("div", { class: "sources" }, h("strong", {}, "Sources"),
        h("ol", {}, sources.map((s) => h("li", { value: s.index || null }, sourceLink(s),
          h("span", { class: "muted" }, [s.kind, s.name].filter(Boolean).join(" · ")))))));
    }
    return body;
  }

  function bubble(message, index) {
    const el = h("div", { class: `message ${message.role}`, dataset: { index } });
    if (message.role === "assistant") el.append(replyBody(message));
    else el.append(h("div", { class: "text" }, message.content));
    const actions = h("div", { class: "actions" });
    if (message.role === "user") {
      actions.append(h("button", { type: "button", class: "small ghost", onclick: () => edit(index) }, "Edit"));
    } else if (index === current.messages.length - 1) {
      actions.append(h("button", { type: "button", class: "small ghost", onclick: () => regenerate() }, "Regenerate"));
    }
    const stamp = h("time", { datetime: message.at ? new Date(message.at).toISOString() : null }, when(message.at));
    if (message.meta !== undefined) {
      el.dataset.done = footerText(message.meta);
      el.dataset.finish = message.meta.finish || "";
    }
    el.append(h("div", { class: "meta" }, stamp, message.meta ? h("span", { class: "footer" }, footerText(message.meta)) : null, actions));
    return el;
  }

  function draw() {
    messages.replaceChildren(...current.messages.map(bubble));
    if (!current.messages.length) {
      messages.append(h("div", { class: "empty" },
        h("p", {}, "Answers come from what you ingested — your code, its definitions, references and docs — with the files they come from. Nothing leaves this machine."),
        h("p", { class: "muted" }, "Try: “Where is read_config defined?”, “Who calls encode?”, or paste code to continue it.")));
    }
    drawList();
    messages.scrollTop = messages.scrollHeight;
  }

  function drawList() {
    const shown = conversations.filter((c) => !filter || c.title.toLowerCase().includes(filter)
      || c.messages.some((m) => m.content.toLowerCase().includes(filter)));
    list.replaceChildren(...shown.map((c) => h("li", {},
      h("button", { class: "open", type: "button", "aria-current": c.id === current.id ? "true" : "false", title: c.title,
        onclick: () => { stop(); current = c; showMode("chat"); draw(); } },
        h("span", { class: "title" }, c.title), h("span", { class: "when" }, when(c.updated || c.created))),
      h("button", { class: "icon", type: "button", "aria-label": `Rename “${c.title}”`, title: "Rename", onclick: (e) => rename(c, e.currentTarget.closest("li")) }, "✎"),
      h("button", { class: "icon remove", type: "button", "aria-label": `Delete “${c.title}”`, title: "Delete",
        onclick: () => {
          conversations = conversations.filter((x) => x.id !== c.id);
          saveConversations(conversations);
          if (c.id === current.id) current = conversations[0] || newConversation();
          draw();
        } }, "×"))));
    if (filter && !shown.length) list.append(h("li", { class: "muted" }, "No conversation matches."));
  }

  function rename(conversation, item) {
    const input = h("input", { type: "text", value: conversation.title, "aria-label": "Conversation name", class: "rename" });
    const done = (save) => {
      if (save && input.value.trim()) {
        conversation.title = input.value.trim();
        saveConversations(conversations);
      }
      drawList();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); done(true); }
      if (e.key === "Escape") { e.stopPropagation(); done(false); }
    });
    input.addEventListener("blur", () => done(true));
    item.replaceChildren(input);
    input.focus();
    input.select();
  }

  function edit(index) {
    if (controller) return;
    const el = messages.children[index];
    const original = current.messages[index].content;
    const area = h("textarea", { rows: Math.min(12, original.split("\n").length + 1), "aria-label": "Edit message", class: "edit" });
    area.value = original;
    const resend = () => {
      if (!area.value.trim()) return;
      current.messages = current.messages.slice(0, index);
      ask(area.value);
    };
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); resend(); }
      if (e.key === "Escape") { e.stopPropagation(); draw(); }
    });
    el.replaceChildren(area, h("div", { class: "row" },
      h("button", { type: "button", class: "small primary", onclick: resend }, "Send"),
      h("button", { type: "button", class: "small", onclick: () => draw() }, "Cancel")));
    area.focus();
  }

  function regenerate() {
    if (controller) return;
    const last = current.messages.length - 1;
    if (last < 1 || current.messages[last].role !== "assistant") return;
    const question = current.messages[last - 1];
    current.messages = current.messages.slice(0, last - 1);
    ask(question.content);
  }

  function stop() {
    if (controller) controller.abort();
  }

  function busy(on) {
    send.disabled = on;
    stopButton.disabled = !on;
    rawGo.disabled = on;
    rawStop.disabled = !on;
  }

  async function ask(text) {
    const selected = model.value;
    if (!selected) { toast("No model is available yet: ingest something first."); return; }
    current.messages.push({ role: "user", content: text, at: Date.now() });
    if (current.title === "New chat") current.title = text.trim().split("\n")[0].slice(0, 48) || "New chat";
    const reply = { role: "assistant", content: "", at: Date.now() };
    current.messages.push(reply);
    draw();
    let el = messages.lastElementChild;
    el.classList.add("streaming");
    el.setAttribute("aria-busy", "true");
    const body = {
      model: selected,
      messages: [
        ...(system.value.trim() ? [{ role: "system", content: system.value }] : []),
        ...current.messages.slice(0, -1).map(({ role, content }) => ({ role, content })),
      ],
      ...sampling(),
      stream_options: { include_usage: true },
    };
    controller = new AbortController();
    busy(true);
    const started = performance.now();
    let usage = null;
    let finish = null;
    let painting = false;
    const paint = () => {
      // Re-render the Markdown at most once a frame: tokens can arrive faster than that.
      if (painting) return;
      painting = true;
      requestAnimationFrame(() => {
        painting = false;
        if (!el) return;  // the reply is over: draw() showed its final form
        const body = el.querySelector(".md");
        if (body) body.replaceWith(replyBody(reply));
        messages.scrollTop = messages.scrollHeight;
      });
    };
    try {
      await stream("/v1/chat/completions", body, (chunk) => {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          const delta = choice.delta || {};
          if (Array.isArray(delta.sources)) { reply.sources = delta.sources; paint(); }
          if (delta.content) {
            reply.content += delta.content;
            paint();
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }, { signal: controller.signal });
      reply.meta = { finish: finish || "stop", seconds: (performance.now() - started) / 1000 };
      if (usage) reply.meta.tokens = usage.completion_tokens;
    } catch (error) {
      if (error.name === "AbortError") reply.meta = { finish: "stopped" };
      else { reply.meta = { finish: "failed" }; toast(error.message); }
    } finally {
      reply.content = withoutLeadingBlankLines(reply.content);
      controller = null;
      busy(false);
      el.classList.remove("streaming");
      el.removeAttribute("aria-busy");
      persist();
      draw();
      el = null;
    }
  }

  async function complete() {
    const selected = model.value;
    if (!selected || controller) return;
    const body = { model: selected, prompt: rawPrompt.value, ...sampling(), stream_options: { include_usage: true } };
    if (rawSuffix.value) body.suffix = rawSuffix.value;
    controller = new AbortController();
    busy(true);
    let text = "";
    let usage = null;
    let finish = null;
    const started = performance.now();
    const show = () => {
      // The generated part stands out between the prompt and the suffix.
      rawOut.replaceChildren(h("div", { class: "raw-parts" },
        h("pre", { class: "raw-text" }, h("span", { class: "raw-prompt" }, rawPrompt.value), h("mark", { class: "raw-generated" }, text), h("span", { class: "raw-suffix" }, rawSuffix.value || ""))));
      rawOut.dataset.generated = text;
    };
    rawMeta.textContent = "Generating…";
    delete rawOut.dataset.done;
    try {
      await stream("/v1/completions", body, (chunk) => {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices || []) {
          if (choice.text) { text += choice.text; show(); }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }, { signal: controller.signal });
      rawMeta.textContent = footerText({ tokens: usage?.completion_tokens, seconds: (performance.now() - started) / 1000, finish: finish || "stop" });
    } catch (error) {
      rawMeta.textContent = error.name === "AbortError" ? "stopped by you" : `failed: ${error.message}`;
    } finally {
      show();
      rawOut.dataset.done = "true";
      controller = null;
      busy(false);
    }
  }

  rawForm.addEventListener("submit", (event) => { event.preventDefault(); complete(); });
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    // Sent exactly as typed or pasted: trailing newlines matter when continuing code.
    const text = prompt.value;
    if (!text.trim() || controller) return;
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

  showMode("chat");
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
