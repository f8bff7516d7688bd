// The one place the UI talks to the server: same origin, the API key from Settings, OpenAI
// error objects turned into readable messages, and server-sent event streams read chunk by
// chunk so tokens show as they arrive.

import { loadSettings } from "./store.js";

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function headers(extra = {}) {
  const result = { ...extra };
  const { apiKey } = loadSettings();
  if (apiKey) result.Authorization = `Bearer ${apiKey}`;
  return result;
}

async function failure(response) {
  let body = null;
  let message = `${response.status} ${response.statusText}`;
  try {
    body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch { /* not JSON: keep the status line */ }
  if (response.status === 401) message += " — set the API key in Settings.";
  return new ApiError(message, response.status, body);
}

/** Sent with the UI's own background polling, which the server's metrics leave out of API
 * traffic (app/api/metrics.py). */
export const UI_POLL = { "X-Hypercube-UI": "poll" };

export async function request(method, path, body, { signal, headers: extra } = {}) {
  const init = { method, headers: headers(extra), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body, options) => request("POST", path, body ?? {}, options);

/**
 * POST a request with `stream: true` and call `onEvent` with each parsed `data:` payload
 * until `[DONE]`. Aborting `signal` closes the connection, which stops the generation on the
 * server (it watches for the client going away).
 */
export async function stream(path, body, onEvent, { signal } = {}) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      const payload = JSON.parse(data);
      if (payload.error) throw new ApiError(payload.error.message, 500, payload);
      onEvent(payload);
    }
  }
}
