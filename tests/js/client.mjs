// Drives a Hypercube server with the official openai npm package, as Cline and other
// Node-based tools do, and prints one JSON report for tests/test_api_node.py to check.
// Usage: node client.mjs BASE_URL MODEL
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
const report = {};

report.models = (await client.models.list()).data.map((m) => m.id);

const completion = await client.completions.create({
  model, prompt: "def total(value):", max_tokens: 6, temperature: 0, logprobs: 0,
});
report.completion = {
  text: completion.choices[0].text,
  tokens: completion.choices[0].logprobs.tokens.length,
  usage: completion.usage,
};

const messages = [
  { role: "system", content: "You write Python." },
  { role: "user", content: "Add two numbers." },
];
const chat = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0,
});
report.chat = { content: chat.choices[0].message.content, usage: chat.usage,
                finish_reason: chat.choices[0].finish_reason };

// Cline's way: stream with usage, temperature 0.
const stream = await client.chat.completions.create({
  model, messages, max_tokens: 6, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
const ids = new Set();
let text = "";
let role = null;
let finish = null;
let usage = null;
for await (const chunk of stream) {
  ids.add(chunk.id);
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    role = role ?? choice.delta.role ?? null;
    text += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
}
report.stream = { ids: ids.size, role, text, finish_reason: finish, usage };

const embedding = await client.embeddings.create({ model, input: ["import os", "import sys"] });
report.embeddings = embedding.data.map((d) => d.embedding.length);

const errors = {};
for (const [name, call] of [
  ["unknown_model", () => client.chat.completions.create({ model: "gpt-4o", messages })],
  ["bad_temperature", () => client.completions.create({ model, prompt: "x", temperature: 9 })],
  ["too_long", () => client.completions.create({ model, prompt: "x", max_tokens: 1 << 20 })],
]) {
  try {
    await call();
    errors[name] = null;
  } catch (err) {
    errors[name] = { class: err.constructor.name, status: err.status, code: err.code ?? null,
                     param: err.param ?? null };
  }
}
report.errors = errors;

console.log(JSON.stringify(report));
