"""The ``polytag`` command (also ``python -m polytag``): train, evaluate, predict, serve, info, init-config.

Each sub-command lives in its own module and is imported only when it runs, so ``polytag --help`` and
``polytag info`` start quickly. polytag's own errors (bad config, bad input, damaged model file) end
the command with a one-line message and exit code 2 instead of a traceback; ``--debug`` shows it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence

EPILOG = """examples:
  polytag init-config --task multitask -o my.yaml
  polytag train my.yaml --set trainer.max_epochs=1 --output runs/first
  polytag evaluate runs/first/final-model.pt my.yaml --split dev
  polytag predict runs/first/final-model.pt input.txt --output out.jsonl
  polytag predict runs/first/final-model.pt input.txt --format html --output out.html
  polytag serve runs/first/final-model.pt --port 8000
  polytag info runs/first/final-model.pt
"""


def _parser() -> argparse.ArgumentParser:
    from polytag import __version__

    parser = argparse.ArgumentParser(
        prog="polytag",
        description="Multitask NLP on one shared transformer encoder: train, evaluate, predict and serve.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"polytag {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="less logging and no progress bars")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="less logging and no progress bars",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", parents=[common], help="train a model from a YAML config")
    train.add_argument("config", help="the YAML config (see polytag init-config and docs/config.md)")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set trainer.max_epochs=2 (repeatable)",
    )
    train.add_argument("--output", "-o", help="output folder (overrides the config's 'output')")
    train.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from a checkpoint folder (or a run folder: its newest checkpoint)",
    )
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="train into a non-empty folder that holds no polytag run (files of the run's output names"
        " are replaced; nothing else is touched)",
    )
    train.add_argument(
        "--check", action="store_true", help="only validate the config and print the resolved version"
    )
    launch = train.add_argument_group(
        "data-parallel training (torchrun; see docs/training.md)",
        "--nproc N restarts the command under torchrun; the other options are torchrun's rendezvous options",
    )
    launch.add_argument("--nproc", type=int, metavar="N", help="processes on this machine (one per GPU)")
    launch.add_argument("--nnodes", help="machines in the run (torchrun --nnodes)")
    launch.add_argument("--node-rank", type=int, help="this machine's rank (torchrun --node-rank)")
    launch.add_argument("--master-addr", help="rank 0's machine (torchrun --master-addr)")
    launch.add_argument("--master-port", type=int, help="rank 0's port (torchrun --master-port)")
    launch.add_argument("--rdzv-backend", help="rendezvous backend, e.g. c10d (torchrun --rdzv-backend)")
    launch.add_argument("--rdzv-endpoint", help="rendezvous HOST:PORT (torchrun --rdzv-endpoint)")
    launch.add_argument("--rdzv-id", help="run id shared by all machines (torchrun --rdzv-id)")

    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="score a model on a corpus or a data file"
    )
    evaluate.add_argument("model", help="a model file (final-model.pt, best-model.pt ...)")
    evaluate.add_argument(
        "data", help="a data file (column, CoNLL-U, JSONL), a config .yaml or a named corpus"
    )
    evaluate.add_argument(
        "--split",
        default="test",
        choices=("train", "dev", "test"),
        help="split of a corpus or config to score (default: test)",
    )
    evaluate.add_argument(
        "--format", dest="fmt", default="auto", help="data file format: column, conllu, jsonl"
    )
    evaluate.add_argument("--columns", help="column file layout, e.g. 0:text,1:pos,3:ner")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument("--out", help="write token, gold and predicted columns to this file (single head)")

    predict = commands.add_parser(
        "predict", parents=[common], help="label a file of any size (streamed, bounded memory)"
    )
    predict.add_argument("model", help="a model file")
    predict.add_argument("input", help="input file ('-' for plain text on standard input)")
    from polytag.cli.inputs import LazyChoices, predict_input_choices, predict_output_choices

    predict.add_argument(
        "--format",
        dest="fmt",
        default="auto",
        choices=LazyChoices(predict_input_choices),  # the format registry's, read when used
        metavar="FORMAT",  # a metavar keeps argparse from listing the choices while building the parser
        help="input format: %(choices)s (default: from the extension); 'html' means: render the output "
        "as HTML",
    )
    predict.add_argument("--output", "-o", help="output file (default: standard output)")
    predict.add_argument(
        "--output-format",
        choices=LazyChoices(predict_output_choices),
        metavar="FORMAT",
        help="%(choices)s (default: from the output file's extension, else jsonl)",
    )
    predict.add_argument("--columns", help="column input layout, e.g. 0:text (default) or 0:text,1:pos")
    predict.add_argument(
        "--no-split",
        action="store_true",
        help="plain text: take each line as one sentence (no sentence splitting)",
    )
    predict.add_argument("--batch-size", type=int, default=32, help="sentences per encoder pass")
    predict.add_argument(
        "--chunk-size", type=int, default=512, help="sentences read, predicted and written at once"
    )
    predict.add_argument(
        "--link-template",
        default=None,
        help="URL of an entity's page for HTML links, {} is the entity id (default: English Wikipedia)",
    )
    predict.add_argument("--device", help="torch device, e.g. cpu or cuda")
    predict.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its share of the CPU cores (output keeps the input order)",
    )

    export = commands.add_parser(
        "export", parents=[common], help="export a model to ONNX (checked against PyTorch)"
    )
    export.add_argument("model", help="a model file")
    export.add_argument("--onnx", required=True, metavar="DIR", help="folder to write the ONNX export to")
    export.add_argument("--opset", type=int, help="ONNX opset (default: 17)")
    export.add_argument(
        "--check",
        metavar="FILE",
        help="data file whose sentences (up to --check-limit) check the export (default: built-in sentences)",
    )
    export.add_argument("--check-limit", type=int, default=1000)
    export.add_argument("--no-check", action="store_true", help="do not compare onnxruntime with PyTorch")

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
        help="most sentences of concurrent requests predicted in one call",
    )
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=5.0,
        help="how long to wait for more requests when a batch is not full",
    )
    serve.add_argument("--batch-size", type=int, default=32, help="sentences per encoder pass")
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

    info = commands.add_parser(
        "info", parents=[common], help="describe a model file (works on damaged files too)"
    )
    info.add_argument("model", help="a model file")
    info.add_argument("--json", action="store_true", help="print the description as JSON")
    info.add_argument(
        "--verify", action="store_true", help="also load the weights into the model (reads the whole file)"
    )
    info.add_argument("--header-only", action="store_true", help="read the header only (the default)")

    from polytag.cli.init_config import TEMPLATES

    init = commands.add_parser("init-config", parents=[common], help="write a commented starting config")
    init.add_argument(
        "--task",
        default="multitask",
        choices=sorted(TEMPLATES),
        help="what the config trains (default: multitask POS + chunking)",
    )
    init.add_argument("--output", "-o", help="file to write (default: standard output)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


@contextlib.contextmanager
def _logging(quiet: bool) -> Iterator[None]:
    """polytag's log on standard error (or silenced with ``--quiet``), undone afterwards.

    Undoing matters when the CLI runs inside another program (tests call ``run`` in-process).
    """
    polytag_log = logging.getLogger("polytag")
    transformers_log = logging.getLogger("transformers")
    saved = (
        list(polytag_log.handlers),
        polytag_log.level,
        transformers_log.level,
        os.environ.get("TQDM_DISABLE"),
    )
    if quiet:
        polytag_log.addHandler(logging.NullHandler())
        polytag_log.setLevel(logging.WARNING)
        os.environ["TQDM_DISABLE"] = "1"
    elif not polytag_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        polytag_log.addHandler(handler)
        polytag_log.setLevel(logging.INFO)
    transformers_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for handler in list(polytag_log.handlers):
            if handler not in saved[0]:
                polytag_log.removeHandler(handler)
        polytag_log.setLevel(saved[1])
        transformers_log.setLevel(saved[2])
        if saved[3] is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = saved[3]


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code (errors propagate)."""
    parser = _parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "predict" and args.fmt == "html":
        args.output_format, args.fmt = "html", "auto"
    with _logging(getattr(args, "quiet", False)):
        return _run(parser, args)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "train":
        if args.check:
            from polytag.config import dump_config, load_and_resolve

            print(dump_config(load_and_resolve(args.config, args.overrides, args.output)), end="")
            return 0
        from polytag.cli.train import train_command

        return train_command(args)
    if args.command == "evaluate":
        from polytag.cli.evaluate import run_evaluate
        from polytag.cli.inputs import parse_columns

        run_evaluate(
            args.model,
            args.data,
            args.split,
            args.fmt,
            parse_columns(args.columns),
            args.batch_size,
            args.json,
            args.out,
        )
        return 0
    if args.command == "predict":
        from polytag.cli.inputs import parse_columns
        from polytag.cli.predict import run_predict
        from polytag.cli.results import DEFAULT_LINK_TEMPLATE

        run_predict(
            args.model,
            args.input,
            args.fmt,
            args.output,
            args.output_format,
            parse_columns(args.columns),
            args.batch_size,
            args.chunk_size,
            not args.no_split,
            not args.quiet,
            args.link_template or DEFAULT_LINK_TEMPLATE,
            args.device,
            args.workers,
        )
        return 0
    if args.command == "export":
        from polytag.cli.export import run_export

        return run_export(args.model, args.onnx, args.opset, args.check, args.check_limit, not args.no_check)
    if args.command == "serve":
        from polytag.cli.results import DEFAULT_LINK_TEMPLATE
        from polytag.cli.serve import Limits, run_serve

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
        )
        return 0
    if args.command == "info":
        from polytag.cli.info import run_info

        return run_info(args.model, args.json, verify=args.verify)
    if args.command == "init-config":
        from polytag.cli.init_config import run_init_config

        run_init_config(args.task, args.output, args.force)
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: run and exit with its code; polytag's errors become one-line messages."""
    from polytag.errors import PolytagError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = run(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except (PolytagError, FileExistsError, FileNotFoundError) as exc:
        if debug:
            raise
        print(f"polytag: error: {exc}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # output piped into head and the like
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
