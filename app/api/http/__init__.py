"""The HTTP side of the API: serving with Waitress, middleware, keys and rate limits, errors,
request bodies, server-sent events, tracing, metrics and health."""
