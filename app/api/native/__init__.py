"""Hypercube's own endpoints: code intelligence, the hypercube's contents and its tokenizer."""
