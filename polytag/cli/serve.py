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

Batching. Requests that arrive together are answered by one ``model.predict`` call: a single worker
collects what is queued, waits ``max_wait_ms`` for more when the batch is not yet full, then predicts
everything (up to ``max_batch_sentences``) at once in a worker thread. While it predicts, new requests
queue up and form the next batch, so under load batches fill by themselves. ``batching=False``
(``--no-batching``) predicts each request on its own, for comparison.

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
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request

from polytag.cli.render import CSS, render_document
from polytag.cli.results import DEFAULT_LINK_TEMPLATE, model_layers, sentence_result
from polytag.cli.segment import make_sentences

log = logging.getLogger("polytag")

REQUEST_KEYS = ("text", "texts", "split_sentences", "render")


@dataclass
class Limits:
    """What one request may ask for; larger requests are refused with 413 before any work is done."""

    max_body_bytes: int = 1_000_000
    max_texts: int = 256
    max_tokens: int = 8192
    # seconds a client may take to send its body (408 after that: a slow or stalled client)
    read_timeout_s: float = 30.0
    # seconds a request may wait for its prediction (429 after that: the server is overloaded)
    queue_timeout_s: float = 60.0
    # sentences waiting for prediction; a request that would go over is refused at once with 429
    max_queued_sentences: int = 16384


class RequestError(Exception):
    """A request the server refuses: HTTP status and the message sent back."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class MicroBatcher:
    """Collects the sentences of concurrent requests into one ``predict`` call (see the module doc)."""

    def __init__(
        self,
        predict: Callable[[list[Any]], None],
        enabled: bool = True,
        max_batch_sentences: int = 64,
        max_wait_ms: float = 5.0,
    ) -> None:
        self.predict = predict
        self.enabled = enabled
        self.max_batch_sentences = max(1, int(max_batch_sentences))
        self.max_wait = max(0.0, float(max_wait_ms)) / 1000.0
        self.queue: asyncio.Queue | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="polytag-predict")
        self.task: asyncio.Task | None = None
        self.predict_calls = 0
        self.batched_requests = 0
        self.largest_batch = 0
        self.queued_sentences = 0  # submitted and not yet predicted
        self.failed_requests = 0

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, sentences: list[Any]) -> None:
        """Predict ``sentences`` in place, together with whatever else is queued now."""
        if not sentences:
            return
        if self.queue is None:
            raise RuntimeError("the batcher is not running")
        future = asyncio.get_running_loop().create_future()
        self.queued_sentences += len(sentences)
        try:
            await self.queue.put((sentences, future))
            await future
        finally:
            if not future.done():  # the waiting request gave up (timeout, client gone)
                future.cancel()

    def _take_ready(self, items: list, count: int) -> int:
        assert self.queue is not None
        while count < self.max_batch_sentences and not self.queue.empty():
            item = self.queue.get_nowait()
            items.append(item)
            count += len(item[0])
        return count

    async def _run(self) -> None:
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        while True:
            first = await self.queue.get()
            items = [first]
            count = len(first[0])
            if self.enabled:
                count = self._take_ready(items, count)
                if count < self.max_batch_sentences and self.max_wait > 0:
                    await asyncio.sleep(self.max_wait)
                    count = self._take_ready(items, count)
            self.queued_sentences -= sum(len(s) for s, _ in items)
            live = [(s, f) for s, f in items if not f.done()]  # a client that went away or gave up
            await self._predict_batch(loop, live)

    async def _predict_batch(self, loop: asyncio.AbstractEventLoop, live: list) -> None:
        """One predict call for every live request; if it fails, each request again on its own."""
        sentences = [sentence for s, _ in live for sentence in s]
        self.predict_calls += 1
        self.batched_requests += len(live)
        self.largest_batch = max(self.largest_batch, len(sentences))
        try:
            if sentences:
                await loop.run_in_executor(self.executor, self.predict, sentences)
        except Exception as exc:  # noqa: BLE001 - isolated below, then handed to the request that caused it
            if len(live) > 1:  # find the culprit: the other requests must not fail with it
                for one in live:
                    if not one[1].done():
                        await self._predict_batch(loop, [one])
                return
            log.exception("prediction failed")
            self.failed_requests += len(live)
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)
        else:
            for _, future in live:
                if not future.done():
                    future.set_result(None)


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


async def _read_body_in_time(request: Request, limits: Limits) -> bytes:
    """The body, or 408 if the client takes longer than ``read_timeout_s`` to send it."""
    try:
        return await asyncio.wait_for(_read_body(request, limits.max_body_bytes), limits.read_timeout_s)
    except asyncio.TimeoutError:
        raise RequestError(  # the rest of the body may still come: close rather than read it
            408,
            f"the request body did not arrive within {limits.read_timeout_s:g} seconds",
            {"Connection": "close"},
        ) from None


async def _read_body(request: Request, limit: int) -> bytes:
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
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestError(
                413, f"request body is over the limit of {limit} bytes", {"Connection": "close"}
            )
    return bytes(body)


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


def create_app(
    model: Any,
    model_path: str | os.PathLike | None = None,
    batching: bool = True,
    max_batch_sentences: int = 64,
    max_wait_ms: float = 5.0,
    mini_batch_size: int = 32,
    limits: Limits | None = None,
    link_template: str | None = DEFAULT_LINK_TEMPLATE,
) -> Any:
    """The FastAPI application serving ``model`` (see the module docstring)."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    limits = limits or Limits()
    layers = model_layers(model)
    model.eval()

    def predict(sentences: list[Any]) -> None:
        model.predict(sentences, mini_batch_size=mini_batch_size)

    batcher = MicroBatcher(predict, batching, max_batch_sentences, max_wait_ms)
    counters = {"requests": 0, "refused": 0, "texts": 0, "sentences": 0, "tokens": 0}
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
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="polytag", version=_version(), lifespan=lifespan, docs_url="/docs", redoc_url=None)

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        counters["refused"] += 1
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "uptime_s": round(time.time() - started, 1),
            **counters,
            "predict_calls": batcher.predict_calls,
            "largest_batch": batcher.largest_batch,
            "queued_sentences": batcher.queued_sentences,
            "failed_requests": batcher.failed_requests,
        }

    @app.get("/info")
    async def get_info() -> dict[str, Any]:
        return info

    @app.post("/predict")
    async def post_predict(request: Request) -> JSONResponse:
        body = await _read_body_in_time(request, limits)
        texts, split, render = parse_request(body, limits)
        per_text = [make_sentences(text, split=split) for text in texts]
        n_tokens = sum(len(s) for sentences in per_text for s in sentences)
        if n_tokens > limits.max_tokens:
            raise RequestError(
                413, f"the request has {n_tokens} tokens; the limit is {limits.max_tokens} per request"
            )
        everything = [s for sentences in per_text for s in sentences]
        if batcher.queued_sentences + len(everything) > limits.max_queued_sentences:
            raise RequestError(
                429,
                f"the server is busy ({batcher.queued_sentences} sentences queued); retry later",
                {"Retry-After": "1"},
            )
        try:
            await asyncio.wait_for(batcher.submit(everything), limits.queue_timeout_s)
        except asyncio.TimeoutError:
            raise RequestError(
                429,
                f"the server is busy: no answer within {limits.queue_timeout_s:g} seconds; retry later",
                {"Retry-After": "5"},
            ) from None
        results = []
        for text, sentences in zip(texts, per_text):
            rendered = [sentence_result(s, layers, link_template) for s in sentences]
            entry: dict[str, Any] = {"text": text, "sentences": rendered}
            if render:
                entry["html"] = render_document(rendered, layers)
            results.append(entry)
        counters["requests"] += 1
        counters["texts"] += len(texts)
        counters["sentences"] += len(everything)
        counters["tokens"] += n_tokens
        return JSONResponse({"results": results, "tokens": n_tokens})

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.replace("__CSS__", CSS).replace("__TITLE__", _title(model_path)))

    return app


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


def run_serve(
    model_path: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8000,
    batching: bool = True,
    max_batch_sentences: int = 64,
    max_wait_ms: float = 5.0,
    mini_batch_size: int = 32,
    limits: Limits | None = None,
    threads: int | None = None,
    access_log: bool = False,
    link_template: str | None = DEFAULT_LINK_TEMPLATE,
    device: str | None = None,
) -> None:
    """Load the model and serve it until interrupted (Ctrl-C or SIGTERM stop it cleanly)."""
    import torch
    import uvicorn

    from polytag.cli.inputs import load_model

    if threads:
        torch.set_num_threads(int(threads))
    model = load_model(model_path, device=device)
    app = create_app(
        model, model_path, batching, max_batch_sentences, max_wait_ms, mini_batch_size, limits, link_template
    )
    print(
        f"serving {model_path} on http://{host}:{port} (batching {'on' if batching else 'off'})", flush=True
    )
    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=access_log, timeout_graceful_shutdown=5
    )


__all__ = ["Limits", "MicroBatcher", "RequestError", "create_app", "parse_request", "run_serve"]
