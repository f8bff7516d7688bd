"""OpenAI's generation, embedding and model endpoints: the request contract, the services
that answer it and the resource that serves them over HTTP."""
