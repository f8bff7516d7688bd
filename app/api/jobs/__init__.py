"""Work that outlives a request: uploaded files, batches and the worker that runs them."""
