"""The ``polytag serve`` command line: its options and the call into :mod:`polytag.cli.serve`.

Kept apart from the server module so that ``polytag --help`` does not import FastAPI.
"""

from __future__ import annotations

import argparse
from typing import Any

from polytag.cli.serve_limits import Limits


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``serve`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    serve = commands.add_parser(
        "serve", parents=[common], help="serve a model over HTTP (JSON API and a small web page)"
    )
    serve.add_argument("model", help="a model file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-batching", action="store_true", help="predict each request on its own")
    serve.add_argument(
        "--max-batch-sentences",
        type=int,
        default=64,
        help="most sentences of concurrent requests predicted in one call (see docs/serving.md)",
    )
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=0.0,
        help="how long an idle model waits for more requests before a call (0: call at once; the next "
        "call takes what queued meanwhile)",
    )
    serve.add_argument(
        "--batch-size", type=int, default=None, help="sentences per encoder pass (default: the whole call)"
    )
    serve.add_argument("--max-request-bytes", type=int, default=1_000_000)
    serve.add_argument("--max-texts-per-request", type=int, default=256)
    serve.add_argument(
        "--max-tokens-per-request", type=int, default=8192, help="encoder subtokens per request (413 beyond)"
    )
    serve.add_argument(
        "--read-timeout", type=float, default=30.0, help="seconds a client may take to send its body (408)"
    )
    serve.add_argument("--queue-timeout", type=float, default=60.0, help="seconds a request may wait (429)")
    serve.add_argument(
        "--max-queued-sentences", type=int, default=16384, help="sentences waiting at most (429 beyond)"
    )
    serve.add_argument(
        "--max-queued-subtokens", type=int, default=131_072, help="subtokens waiting at most (429 beyond)"
    )
    serve.add_argument(
        "--max-pending-bytes", type=int, default=16_000_000, help="request bytes held at once (429 beyond)"
    )
    serve.add_argument("--max-word-chars", type=int, default=1000, help="characters of one word (413 beyond)")
    serve.add_argument(
        "--max-sentence-chars", type=int, default=100_000, help="characters of one sentence (413 beyond)"
    )
    serve.add_argument(
        "--max-chunk-subtokens", type=int, default=2048, help="subtokens per predict call (fairness)"
    )
    serve.add_argument(
        "--header-timeout", type=float, default=10.0, help="seconds to send request headers (then closed)"
    )
    serve.add_argument("--max-connections", type=int, default=512, help="open connections at most")
    serve.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a Host name to answer to (repeat; '*' for any); default localhost, 127.0.0.1, [::1]",
    )
    serve.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument("--link-template", default=None, help="URL of an entity's page, {} is the entity id")
    serve.add_argument("--device", help="torch device, e.g. cpu or cuda")
    serve.add_argument(
        "--quantize",
        choices=["int8", "bf16"],
        help="CPU inference with the encoder's linear layers in int8 or bfloat16 (see docs/heads.md)",
    )
    serve.add_argument(
        "--predict-workers",
        type=int,
        default=None,
        help="worker processes that predict, sharing --threads (default: 2 on a CPU with 2 or more "
        "threads, else 1; 0 predicts in a thread of the server process, one model copy instead of "
        "1 + N; docs/serving.md)",
    )
    serve.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from polytag.cli.results import DEFAULT_LINK_TEMPLATE
    from polytag.cli.serve import run_serve

    limits = Limits(
        max_body_bytes=args.max_request_bytes,
        max_texts=args.max_texts_per_request,
        max_tokens=args.max_tokens_per_request,
        read_timeout_s=args.read_timeout,
        queue_timeout_s=args.queue_timeout,
        max_queued_sentences=args.max_queued_sentences,
        max_queued_subtokens=args.max_queued_subtokens,
        max_pending_bytes=args.max_pending_bytes,
        max_word_chars=args.max_word_chars,
        max_sentence_chars=args.max_sentence_chars,
        max_chunk_subtokens=args.max_chunk_subtokens,
        header_timeout_s=args.header_timeout,
        max_connections=args.max_connections,
    )
    if args.allowed_host:
        limits.allowed_hosts = tuple(args.allowed_host)
    run_serve(
        args.model,
        args.host,
        args.port,
        not args.no_batching,
        args.max_batch_sentences,
        args.max_wait_ms,
        args.batch_size,
        limits,
        args.threads,
        args.access_log,
        args.link_template or DEFAULT_LINK_TEMPLATE,
        args.device,
        args.quantize,
        predict_workers=args.predict_workers,
    )
    return 0
