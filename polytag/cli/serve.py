"""``polytag serve MODEL``: an HTTP JSON API (FastAPI on uvicorn) with micro-batching.

Endpoints:

* ``POST /predict``: ``{"text": "..."}`` or ``{"texts": ["...", ...]}`` (optional ``"split_sentences":
  false`` to take each text as one sentence, ``"render": true`` to add the HTML picture). Answers
  ``{"results": [{"text", "sentences": [...], ["html"]}], "tokens": N}``; every sentence lists its
  tokens, spans and sentence labels with character offsets into its text and scores (see
  :func:`polytag.cli.results.sentence_result`).
* ``GET /health``: ``{"status": "ok", ...}`` with request and batching counters.
* ``GET /info``: tasks (head, label type, kind, labels), encoders, parameter count, limits.
* ``GET /``: a small page with a text box, a button and the rendered result.

Batching. Requests that arrive together are answered by one ``model.predict`` call, in a worker thread:
as soon as the model is idle, the next call takes what queued meanwhile (up to ``max_batch_sentences``,
shortest first), so under load calls fill by themselves and the model is not left waiting
(``max_wait_ms`` > 0 makes an idle model wait that long for company first). docs/serving.md has the
measurements that chose the defaults. ``batching=False`` (``--no-batching``) predicts each request on its
own, for comparison.

Malformed requests get a 4xx with a message, never a 500: 400 for a body that is not JSON, 413 for a
body, a list of texts or a token count over the limits, 422 for JSON of the wrong shape. A client that
sends its body too slowly gets 408; when the server is overloaded (too many sentences queued, or a request
that waited longer than its limit) the answer is 429 with ``Retry-After``: the client should come back
later, nothing is wrong with its request. If one request of a batch makes the model fail, the others of
that batch are predicted again without it, so a poisoned request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse  # module level: FastAPI resolves annotations here
from starlette.requests import Request

from polytag.cli.render import CSS, render_document
from polytag.cli.results import DEFAULT_LINK_TEMPLATE, model_layers, sentence_result
from polytag.cli.segment import make_sentences
from polytag.cli.serve_batcher import MicroBatcher
from polytag.cli.serve_guard import (
    ACCEPT_BURST,
    ConnectionGuard,
    RepeatFilter,
    RequestGate,
    host_name,
    install_repeat_filter,
)
from polytag.cli.serve_limits import (
    Limits,
    RequestError,
    SubtokenCounter,
    subtokens_at_most,
    too_long,
    words_at_least,
    work_units,
)
from polytag.cli.serve_worker import start_workers

log = logging.getLogger("polytag")

REQUEST_KEYS = ("text", "texts", "split_sentences", "render")

# bodies up to this size are parsed and counted on the event loop; larger ones in a helper thread
INLINE_BYTES = 65_536


def _encoder_facts(model: Any) -> list[dict[str, Any]]:
    facts = []
    for module in model.embedding_modules():
        config = module.model.config
        facts.append(
            {
                "model": module.model_name,
                "architecture": getattr(config, "model_type", None),
                "layers": getattr(config, "num_hidden_layers", None),
                "hidden_size": getattr(config, "hidden_size", None),
                "max_length": module.model_max_length,
                "context": module.context_length,
            }
        )
    return facts


class ByteBudget:
    """Request body bytes the server holds at once: being read, parsed, queued or predicted.

    Why: memory follows bytes, and a count of sentences lets 120 one-sentence 1 MB requests in.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[list[int]]:
        """A request's share; ``take(share, n)`` grows it, and all of it is given back on exit."""
        share = [0]
        try:
            yield share
        finally:
            self.held -= share[0]

    def take(self, share: list[int], size: int) -> None:
        if size > 0 and self.held + size > self.limit:
            raise RequestError(
                429,
                f"the server is busy ({self.held} request bytes held, limit {self.limit}); retry later",
                {"Retry-After": "1", "Connection": "close"},
            )
        self.held += size
        share[0] += size


async def _read_body_in_time(request: Request, limits: Limits, budget: ByteBudget, share: list[int]) -> bytes:
    """The body, or 408 if the client takes longer than ``read_timeout_s`` to send it."""
    try:
        return await asyncio.wait_for(
            _read_body(request, limits.max_body_bytes, budget, share), limits.read_timeout_s
        )
    except asyncio.TimeoutError:
        raise RequestError(  # the rest of the body may still come: close rather than read it
            408,
            f"the request body did not arrive within {limits.read_timeout_s:g} seconds",
            {"Connection": "close"},
        ) from None


async def _read_body(request: Request, limit: int, budget: ByteBudget, share: list[int]) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RequestError(400, f"Content-Length {declared!r} is not a number") from None
        if size > limit:  # the body is not read: close the connection rather than wait for it
            raise RequestError(
                413,
                f"request body of {size} bytes is over the limit of {limit} bytes",
                {"Connection": "close"},
            )
        budget.take(share, size)  # before reading: memory is reserved, not discovered
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(
                413, f"request body is over the limit of {limit} bytes", {"Connection": "close"}
            )
        if len(body) > share[0]:  # no or a lying Content-Length
            budget.take(share, len(body) - share[0])
    return bytes(body)


async def _until_disconnected(request: Request) -> None:
    """Returns when the client goes away (after its body was read, the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def parse_request(body: bytes, limits: Limits) -> tuple[list[str], bool, bool]:
    """The texts, whether to split them into sentences, and whether to render HTML; or a RequestError."""
    if not body.strip():
        raise RequestError(400, 'empty body; send JSON such as {"text": "Mr Smith loves New York."}')
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise RequestError(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            400, f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise RequestError(400, "the body's JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise RequestError(400, f"the body is not acceptable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(
            422, f'expected a JSON object such as {{"text": "..."}}, got a {type(data).__name__}'
        )
    unknown = sorted(set(data) - set(REQUEST_KEYS))
    if unknown:
        raise RequestError(422, f"unknown key(s) {unknown}; allowed: {', '.join(REQUEST_KEYS)}")
    if ("text" in data) == ("texts" in data):
        raise RequestError(422, "give exactly one of 'text' (a string) or 'texts' (a list of strings)")
    if "text" in data:
        if not isinstance(data["text"], str):
            raise RequestError(422, f"'text' must be a string, got {type(data['text']).__name__}")
        texts = [data["text"]]
    else:
        texts = data["texts"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise RequestError(422, "'texts' must be a list of strings")
        if not texts:
            raise RequestError(422, "'texts' is empty")
        if len(texts) > limits.max_texts:
            raise RequestError(413, f"{len(texts)} texts in one request; the limit is {limits.max_texts}")
    for index, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON escapes can spell lone surrogates, which are not text
            raise RequestError(
                422, f"text {index} is not valid Unicode: {exc.reason} at character {exc.start}"
            ) from None
    flags = []
    for key, default in (("split_sentences", True), ("render", False)):
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise RequestError(422, f"'{key}' must be true or false, got {value!r}")
        flags.append(value)
    return texts, flags[0], flags[1]


# long: the routes are closures over one app's shared state (batcher, byte budget, counters, tokenizers).
def create_app(
    model: Any,
    model_path: str | os.PathLike | None = None,
    batching: bool = True,
    max_batch_sentences: int = 64,
    max_wait_ms: float = 0.0,
    mini_batch_size: int | None = None,
    limits: Limits | None = None,
    link_template: str | None = DEFAULT_LINK_TEMPLATE,
    predictor: Callable[[list[Any]], None] | None = None,
) -> Any:
    """The FastAPI application serving ``model`` (see the module docstring); ``predictor`` labels a
    chunk's sentences in place instead of ``model.predict`` in a thread (e.g. a ``PredictProcess``,
    which takes as many calls at once as it has workers)."""
    from fastapi import FastAPI
    from starlette.exceptions import HTTPException as StarletteHTTPException

    limits = limits or Limits()
    layers = model_layers(model)
    model.eval()

    def predict(sentences: list[Any]) -> None:
        # one encoder pass per chunk unless told otherwise: a chunk is already bounded in sentences and
        # subtokens, and every extra pass costs a fixed few milliseconds of Python around the encoder
        model.predict(sentences, mini_batch_size=mini_batch_size or max(1, len(sentences)))

    concurrency = int(getattr(predictor, "workers", 1))
    batcher = MicroBatcher(
        predictor or predict,
        batching,
        max_batch_sentences,
        max_wait_ms,
        limits.max_chunk_subtokens,
        concurrency,
    )
    # one tokenizer copy per thread that counts: the event loop (small requests) and the helper thread
    counters_inline, counter_helper = SubtokenCounter(model), SubtokenCounter(model)
    helper = ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="polytag-prepare", initializer=_lower_priority
    )
    budget = ByteBudget(limits.max_pending_bytes)
    counters = {"requests": 0, "refused": 0, "texts": 0, "sentences": 0, "tokens": 0, "subtokens": 0}
    started = time.time()
    info = {
        "model_file": str(model_path) if model_path else None,
        "model_class": type(model).__name__,
        "tasks": [layer.to_dict() for layer in layers],
        "encoders": _encoder_facts(model),
        "parameters": sum(p.numel() for p in model.parameters()),
        "batching": {
            "enabled": batching,
            "max_batch_sentences": max_batch_sentences,
            "max_wait_ms": max_wait_ms,
        },
        "limits": asdict(limits),
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        remove_filter = install_repeat_filter(RepeatFilter())
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()
            helper.shutdown(wait=False, cancel_futures=True)
            remove_filter()

    app = FastAPI(title="polytag", version=_version(), lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.add_middleware(RequestGate, allowed_hosts=limits.allowed_hosts, on_refuse=lambda: _count(counters))

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        counters["refused"] += 1
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        guard = getattr(app.state, "connection_guard", None)
        return {
            "status": "ok",
            "uptime_s": round(time.time() - started, 1),
            **counters,
            "predict_calls": batcher.predict_calls,
            "predicted_sentences": batcher.predicted_sentences,
            "predict_seconds": round(batcher.predict_seconds, 3),
            "largest_batch": batcher.largest_batch,
            "queued_sentences": batcher.queued_sentences,
            "queued_subtokens": batcher.queued_subtokens,
            "pending_bytes": budget.held,
            "failed_requests": batcher.failed_requests,
            "abandoned_requests": batcher.abandoned_requests,
            **(_guard_counts(guard) if guard is not None else {}),
        }

    @app.get("/info")
    async def get_info() -> dict[str, Any]:
        return info

    @app.post("/predict")
    async def post_predict(request: Request) -> JSONResponse:
        with budget.hold() as share:
            body = await _read_body_in_time(request, limits, budget, share)
            if len(body) <= INLINE_BYTES:
                texts, split, render, per_text, costs = prepare(body, limits, counters_inline)
            else:
                loop = asyncio.get_running_loop()
                texts, split, render, per_text, costs = await loop.run_in_executor(
                    helper, prepare, body, limits, counter_helper
                )
            del body
            everything = [s for sentences in per_text for s in sentences]
            _check_room(batcher, limits, len(everything), sum(costs))
            weights = [work_units(s, cost) for s, cost in zip(everything, costs)]
            await _predict_while_connected(request, batcher, everything, costs, weights, limits)
            results = []
            for text, sentences in zip(texts, per_text):
                rendered = [sentence_result(s, layers, link_template) for s in sentences]
                entry: dict[str, Any] = {"text": text, "sentences": rendered}
                if render:
                    entry["html"] = render_document(rendered, layers)
                results.append(entry)
            n_tokens = sum(len(s) for s in everything)
            counters["requests"] += 1
            counters["texts"] += len(texts)
            counters["sentences"] += len(everything)
            counters["tokens"] += n_tokens
            counters["subtokens"] += sum(costs)
            return JSONResponse({"results": results, "tokens": n_tokens})

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.replace("__CSS__", CSS).replace("__TITLE__", _title(model_path)))

    return app


def _lower_priority() -> None:
    """Large bodies are parsed and counted at a lower CPU priority than the event loop and predictions,
    so a flood of them slows small requests less (Linux: a thread has its own nice value)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _count(counters: dict[str, int]) -> None:
    counters["refused"] += 1


def _guard_counts(guard: ConnectionGuard) -> dict[str, int]:
    return {
        "open_connections": len(guard.open),
        "max_connections": guard.max_connections,
        "closed_slow_connections": guard.closed_slow,
        "closed_idle_for_room": guard.closed_for_room,
    }


def prepare(
    body: bytes, limits: Limits, counter: SubtokenCounter
) -> tuple[list[str], bool, bool, list[list[Any]], list[int]]:
    """Parse, split and count a request before it is queued: texts, flags, sentences per text and the
    subtokens of every sentence; 413 when it is over ``max_tokens`` (a cheap bound first, so a huge
    text is refused before it is tokenized)."""
    texts, split, render = parse_request(body, limits)
    least = words_at_least(texts)
    if least > limits.max_tokens:
        raise RequestError(
            413,
            f"the request has at least {least} tokens; the limit is {limits.max_tokens} subtokens"
            " per request",
        )
    per_text = [make_sentences(text, split=split) for text in texts]
    where = too_long(per_text, limits)
    if where is not None:
        raise RequestError(413, where)
    everything = [s for sentences in per_text for s in sentences]
    if subtokens_at_most(texts) <= limits.max_tokens:
        costs = [max(1, len(s)) for s in everything]  # provably under the limit: words stand in for subtokens
    else:
        costs = counter.sentence_costs(everything)
    total = sum(costs)
    if total > limits.max_tokens:
        raise RequestError(
            413, f"the request has {total} encoder subtokens; the limit is {limits.max_tokens} per request"
        )
    return texts, split, render, per_text, costs


def _check_room(batcher: MicroBatcher, limits: Limits, sentences: int, subtokens: int) -> None:
    """429 at once when the request would take the queue over its sentence or subtoken limit."""
    for queued, adding, limit, unit in (
        (batcher.queued_sentences, sentences, limits.max_queued_sentences, "sentences"),
        (batcher.queued_subtokens, subtokens, limits.max_queued_subtokens, "subtokens"),
    ):
        if queued + adding > limit and queued > 0:
            raise RequestError(
                429, f"the server is busy ({queued} {unit} queued); retry later", {"Retry-After": "1"}
            )


async def _predict_while_connected(
    request: Request,
    batcher: MicroBatcher,
    sentences: list[Any],
    costs: list[int],
    weights: list[int],
    limits: Limits,
) -> None:
    """Predict, but give up (and drop the queued work) when the client goes away or the deadline passes."""
    work = batcher.enqueue(sentences, costs, weights)
    gone = asyncio.ensure_future(_until_disconnected(request))
    try:
        done, _ = await asyncio.wait(
            {work, gone}, timeout=limits.queue_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        gone.cancel()
        if not work.done():
            work.cancel()
    if work in done:
        work.result()  # a model failure reaches its own request only
        return
    if gone in done:
        raise RequestError(408, "the client went away before its answer was ready", {"Connection": "close"})
    raise RequestError(
        429,
        f"the server is busy: no answer within {limits.queue_timeout_s:g} seconds; retry later",
        {"Retry-After": "5"},
    )


def _version() -> str:
    from polytag import __version__

    return __version__


def _title(model_path: Any) -> str:
    from html import escape

    return escape(f"polytag: {Path(model_path).name}" if model_path else "polytag")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>__CSS__
body{max-width:60em;margin:2em auto;padding:0 1em;
 font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
textarea{width:100%;font-size:1em;padding:.5em;box-sizing:border-box}
button{margin:.6em 0;padding:.4em 1.2em;font-size:1em}
#error{color:#b00020}
</style></head>
<body>
<h1>__TITLE__</h1>
<textarea id="text" rows="5" placeholder="Type a sentence, e.g. Mr Smith loves New York."></textarea>
<div><button id="submit" type="button">Analyse</button> <span id="status"></span></div>
<div id="error"></div>
<div id="result"></div>
<script>
const button = document.getElementById("submit");
async function analyse() {
  const text = document.getElementById("text").value;
  const error = document.getElementById("error");
  const status = document.getElementById("status");
  error.textContent = ""; status.textContent = "…";
  try {
    const response = await fetch("/predict", {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify({texts: [text], render: true})});
    const data = await response.json();
    if (!response.ok) {
      error.textContent = data.detail || response.statusText; status.textContent = ""; return;
    }
    document.getElementById("result").innerHTML = data.results[0].html;
    status.textContent = data.tokens + " tokens";
    document.getElementById("result").setAttribute("data-done", String(Date.now()));
  } catch (e) { error.textContent = String(e); status.textContent = ""; }
}
button.addEventListener("click", analyse);
</script>
</body></html>
"""


def uvicorn_config(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    access_log: bool = False,
) -> Any:
    """uvicorn's settings for ``app``: header timeouts and the connection cap of :class:`ConnectionGuard`
    (reported in ``/health``), a short keep-alive, and no ``limit_concurrency`` (it answers 503)."""
    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    limits = limits or Limits()
    guard = ConnectionGuard(limits.header_timeout_s, limits.max_connections)
    app.state.connection_guard = guard
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guard.protocol_class(AutoHTTPProtocol),
        log_level="warning",
        access_log=access_log,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
        backlog=ACCEPT_BURST,  # asyncio accepts this many at once: the guard keeps room for them
    )


def run_serve(
    model_path: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8000,
    batching: bool = True,
    max_batch_sentences: int = 64,
    max_wait_ms: float = 0.0,
    mini_batch_size: int | None = None,
    limits: Limits | None = None,
    threads: int | None = None,
    access_log: bool = False,
    link_template: str | None = DEFAULT_LINK_TEMPLATE,
    device: str | None = None,
    quantize: str | None = None,
    predict_workers: int | None = None,
) -> None:
    """Load the model and serve it until interrupted (Ctrl-C or SIGTERM stop it cleanly); prediction runs
    in ``predict_workers`` processes (:func:`polytag.cli.serve_worker.start_workers`)."""
    import torch
    import uvicorn

    from polytag.cli.inputs import load_model

    limits = limits or Limits()
    if host not in ("0.0.0.0", "::", "") and host_name(host) not in limits.allowed_hosts:
        limits = replace(limits, allowed_hosts=(*limits.allowed_hosts, host))  # the address it is reached at
    if threads:
        torch.set_num_threads(int(threads))
    model = load_model(model_path, device=device, quantize=quantize)
    predictor = start_workers(model, model_path, predict_workers, threads, device, quantize, mini_batch_size)
    settings = (batching, max_batch_sentences, max_wait_ms, mini_batch_size, limits, link_template)
    app = create_app(model, model_path, *settings, predictor)
    print(
        f"serving {model_path} on http://{host}:{port} (batching {'on' if batching else 'off'})", flush=True
    )
    server = uvicorn.Server(uvicorn_config(app, host, port, limits, access_log))
    try:
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it stopped on
            server.run()
    finally:
        if predictor is not None:
            predictor.close()


__all__ = [
    "ByteBudget",
    "Limits",
    "MicroBatcher",
    "RequestError",
    "create_app",
    "parse_request",
    "prepare",
    "run_serve",
    "uvicorn_config",
]
