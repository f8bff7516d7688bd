// What the UI keeps in this browser (localStorage): its settings and the chat history.
// Nothing here is sent anywhere but to this Hypercube server.

const SETTINGS_KEY = "hypercube.settings";
const CONVERSATIONS_KEY = "hypercube.conversations";

const DEFAULTS = {
  apiKey: "",
  model: "",
  theme: "system",
  temperature: 0.8,
  topP: 0.95,
  maxTokens: 256,
  seed: "",
  system: "",
  topK: "",
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  dryMultiplier: "",
  stop: "",
};

function read(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw ? JSON.parse(raw) : fallback;
  } catch {
    return fallback;
  }
}

export function loadSettings() {
  return { ...DEFAULTS, ...read(SETTINGS_KEY, {}) };
}

export function saveSettings(patch) {
  const next = { ...loadSettings(), ...patch };
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(next));
  applyTheme(next.theme);
  return next;
}

export function applyTheme(theme) {
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

export function loadConversations() {
  return read(CONVERSATIONS_KEY, []);
}

export function saveConversations(list) {
  localStorage.setItem(CONVERSATIONS_KEY, JSON.stringify(list));
}
