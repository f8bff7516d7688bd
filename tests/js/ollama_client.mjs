// Drives a Hypercube server with the official ollama npm package, as Open WebUI, Continue
// and other Node-based tools do, and prints one JSON report for tests/test_dialect_ollama.py.
// Usage: node ollama_client.mjs HOST_URL
import { Ollama } from "ollama";

const [host] = process.argv.slice(2);
const client = new Ollama({ host });
const report = {};
const prompt = "def total_count(value, count=3):\n    total = value + count";
const options = { num_predict: 8, temperature: 0 };

report.models = (await client.list()).models.map((m) => m.name);
report.version = (await client.version()).version;

const generated = await client.generate({ model: "hypercube", prompt, options });
report.generate = { response: generated.response, eval_count: generated.eval_count };

let text = "";
let last = null;
for await (const part of await client.generate({ model: "hypercube", prompt, options,
                                                 stream: true })) {
  text += part.response;
  last = part;
}
report.stream = { text, done: last.done, eval_count: last.eval_count };

const messages = [
  { role: "system", content: "You write Python." },
  { role: "user", content: "Add two numbers." },
];
const chat = await client.chat({ model: "hypercube", messages, options });
report.chat = { role: chat.message.role, content: chat.message.content };
let streamed = "";
for await (const part of await client.chat({ model: "hypercube", messages, options,
                                             stream: true })) {
  streamed += part.message.content;
}
report.chat_stream = streamed;

const embedded = await client.embed({ model: "hypercube", input: ["import os", "import sys"] });
report.embed = embedded.embeddings.map((e) => e.length);

try {
  await client.generate({ model: "llama3", prompt: "x" });
  report.error = null;
} catch (err) {
  report.error = { status: err.status_code, message: err.error };
}

console.log(JSON.stringify(report));
