"""The baseline for bench_api.py: a bare Falcon endpoint on Waitress, nothing else.

It reads the JSON body and answers with a fixed completion-shaped object, so the gap between
it and Hypercube is the cost of our middleware, validation, tokenizer and engine.

    python tests/bench/api_bare_app.py PORT THREADS
"""

from __future__ import annotations

import sys

import falcon
import waitress

ANSWER = {"id": "cmpl-bare", "object": "text_completion", "created": 0, "model": "bare",
          "choices": [{"text": " world", "index": 0, "logprobs": None,
                       "finish_reason": "length"}],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class Bare:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.get_media()
        resp.media = ANSWER


def main() -> None:
    app = falcon.App()
    app.add_route("/v1/completions", Bare())
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]),
                   _quiet=True)


if __name__ == "__main__":
    main()
