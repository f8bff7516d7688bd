"""What the server runs on beside its requests: the engine's slot and loader, supervised
background threads, memory handed back to the system."""
