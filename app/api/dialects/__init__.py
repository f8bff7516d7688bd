"""The other dialects local-model clients speak (Ollama, llama.cpp's server, OpenAI's
Responses API, evaluation harnesses), each a thin adapter over the OpenAI services."""
