"""``hypercube tokenize TEXT``: the ids and token strings the hypercube's tokenizer gives."""

from __future__ import annotations

import argparse

from app.cli.common import add_db_option, add_json_option, open_read_store, print_json
from app.errors import NotReady
from app.tokenizer import Tokenizer, load_vocabulary


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenize", help="show how text splits into tokens")
    parser.add_argument("text", metavar="TEXT", help="the text to tokenize")
    add_db_option(parser)
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with open_read_store(args) as store:
        vocab = load_vocabulary(store.conn)
    if vocab is None:
        raise NotReady(f"{store.path} has no vocabulary yet: ingest some text first")
    tokenizer = Tokenizer(vocab)
    ids = tokenizer.encode(args.text)
    tokens = tokenizer.token_strings(ids)
    if args.json:
        print_json({"ids": [int(i) for i in ids], "tokens": tokens})
    else:
        for token_id, token in zip(ids, tokens, strict=True):
            print(f"{int(token_id):>6}  {token!r}")
        print(f"{len(ids)} tokens, {len(args.text.encode('utf-8'))} bytes")
    return 0
