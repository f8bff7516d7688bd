// Drives a Hypercube server with the Vercel AI SDK (`ai` + `@ai-sdk/openai`, chat completions
// API): generateObject with a zod schema, and tools with generateText and streamText. Prints
// one JSON report for tests/test_structured_node.py to check.
// Usage: node ai_sdk.mjs BASE_URL MODEL
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, streamText, tool } from "ai";
import { z } from "zod";

const [baseURL, modelId] = process.argv.slice(2);
const provider = createOpenAI({ baseURL, apiKey: "unused" });
const model = provider.chat(modelId);
const report = {};

const Person = z.object({
  name: z.string(),
  age: z.number().int(),
  role: z.enum(["user", "admin"]),
});
const prompt = "Extract the person: Ann Lee, 42, admin, likes chess.";
const object = await generateObject({
  model, schema: Person, prompt, maxOutputTokens: 64, seed: 3, temperature: 0.7,
  maxRetries: 0,
});
report.object = { value: object.object, finishReason: object.finishReason,
                  usage: object.usage };

const weather = tool({
  description: "The current weather in a city.",
  inputSchema: z.object({ city: z.string(), unit: z.enum(["celsius", "fahrenheit"]) }),
});
const question = "What is the weather like in Paris today?";
const called = await generateText({
  model, tools: { get_weather: weather }, toolChoice: "required", prompt: question,
  maxOutputTokens: 64, seed: 5, maxRetries: 0,
});
report.toolCall = {
  finishReason: called.finishReason,
  calls: called.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
};

const streamed = streamText({
  model, tools: { get_weather: weather }, toolChoice: "required", prompt: question,
  maxOutputTokens: 64, seed: 5, maxRetries: 0,
});
const calls = [];
const deltas = [];
for await (const part of streamed.fullStream) {
  if (part.type === "tool-call") calls.push({ name: part.toolName, input: part.input });
  if (part.type === "tool-input-delta") deltas.push(part.delta);
  if (part.type === "error") throw part.error;
}
report.streamedCall = { calls, deltas: deltas.length, finishReason: await streamed.finishReason };

const text = await generateText({
  model, tools: { get_weather: weather }, toolChoice: "none", prompt: question,
  maxOutputTokens: 8, seed: 5, maxRetries: 0,
});
report.noTool = { text: text.text, calls: text.toolCalls.length };

console.log(JSON.stringify(report));
