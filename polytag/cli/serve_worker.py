"""``polytag serve``'s predictions in a worker process (the default; ``--predict-in-thread``: in a thread).

Why: in one process the event loop (HTTP, JSON, tokenizing, rendering) and ``predict``'s Python share one
GIL. Measured with ``bench/serve_load.py``: the model was busy 97 % of the time, yet each call took about
twice as long as the same call offline, and the server answered about half of what the model predicts
offline; a shorter GIL switch interval and a C HTTP parser changed nothing. A worker process has its own
interpreter, so ``predict`` runs as it does offline while the event loop serves the sockets.

What crosses the pipe (plain lists, dicts and strings): the tokens of the chunk's sentences and, when the
model reads neighbouring sentences as context, every sentence of their documents, so the worker sees the
same context; back come the model's label layers of each sentence (polytag's lossless dict form), written
into the caller's sentences in place, as an in-process ``predict`` would. The worker loads the model file
itself: a second copy of the weights in memory. If it dies, the chunk fails with an error (the batcher
then retries its requests one by one) and a new worker is started.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
from collections.abc import Sequence
from typing import Any

from polytag.data import Sentence, document_sentences, link_document
from polytag.data.sentence_dict import add_labels, lossless_dict

log = logging.getLogger("polytag")

_STOP = None


class PredictProcess:
    """A callable ``predict(sentences)`` that labels ``sentences`` in place, computed in ``workers``
    worker processes of ``threads`` torch threads each.

    Each call takes a free worker, so up to ``workers`` calls (from the batcher's threads) run side by
    side: while one worker predicts, the server writes the answers of another's call, and no worker waits
    for that. ``layers``: the label types the model writes (replaced in the caller's sentences);
    ``context``: whether the model reads neighbouring sentences (then their documents go along).
    """

    def __init__(
        self,
        model_path: str,
        layers: Sequence[str],
        context: bool,
        device: str | None = None,
        quantize: str | None = None,
        threads: int | None = None,
        mini_batch_size: int | None = None,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.setup = (str(model_path), device, quantize, threads, mini_batch_size)
        self.workers = workers
        self.layers = list(layers)
        self.context = context
        self._mp = multiprocessing.get_context("spawn")
        self._workers: list[tuple[Any, Any]] = []
        self._free: queue.Queue[int] = queue.Queue()
        launched = [self._launch() for _ in range(workers)]  # they load the model at the same time
        try:
            for index, (conn, process) in enumerate(launched):
                self._workers.append(self._ready(conn, process))
                self._free.put(index)
        except BaseException:
            for conn, process in launched[len(self._workers) :]:
                _stop(conn, process)
            self.close()
            raise

    def _launch(self) -> tuple[Any, Any]:
        parent, child = self._mp.Pipe()
        process = self._mp.Process(
            target=_worker, args=(child, self.setup), name="polytag-predict", daemon=True
        )
        process.start()
        child.close()
        return parent, process

    def _start(self) -> tuple[Any, Any]:
        return self._ready(*self._launch())

    @staticmethod
    def _ready(parent: Any, process: Any) -> tuple[Any, Any]:
        """Wait for a launched worker's "ready" (its model is loaded); raise what kept it from starting."""
        try:
            status, message = parent.recv()
        except EOFError:
            process.join(5)
            status, message = "error", f"it exited with code {process.exitcode}"
        if status != "ready":
            _stop(parent, process)
            raise RuntimeError(f"the prediction process could not start: {message}")
        return parent, process

    def __call__(self, sentences: list[Any]) -> None:
        index = self._free.get()  # a worker of its own: calls from several threads run side by side
        try:
            conn = self._workers[index][0]
            try:
                conn.send(self._payload(sentences))
                status, result = conn.recv()
            except (EOFError, OSError) as error:
                raise RuntimeError(self._replace(index, error)) from None
        finally:
            self._free.put(index)
        if status != "ok":
            raise RuntimeError(f"prediction failed in the worker process: {result}")
        for sentence, labels in zip(sentences, result):
            write_layers(sentence, labels, self.layers)

    def _replace(self, index: int, error: BaseException) -> str:
        """Start a new worker in place of a dead one; returns the message the failed call raises."""
        conn, process = self._workers[index]
        code = process.exitcode
        _stop(conn, process)
        self._workers[index] = self._start()
        message = f"the prediction process stopped (exit code {code}: {error!r}); a new one was started"
        log.warning(message)
        return message

    def _payload(self, sentences: list[Any]) -> tuple[list[list[list[Any]]], list[tuple[int, int]]]:
        """``(documents, targets)``: each document as its sentences' ``[form, spaces after]`` tokens, and
        each sentence of the chunk as ``(document, position)``."""
        if not self.context:
            return [[_tokens(s)] for s in sentences], [(k, 0) for k in range(len(sentences))]
        documents: list[list[list[Any]]] = []
        where: dict[int, tuple[int, dict[int, int]]] = {}
        targets = []
        for sentence in sentences:
            members = document_sentences(sentence)
            if id(members[0]) not in where:
                where[id(members[0])] = (len(documents), {id(s): k for k, s in enumerate(members)})
                documents.append([_tokens(s) for s in members])
            index, positions = where[id(members[0])]
            targets.append((index, positions[id(sentence)]))
        return documents, targets

    def close(self) -> None:
        """Stop the workers (each exits when asked, else it is terminated); call it once no call runs."""
        for conn, _ in self._workers:
            with contextlib.suppress(OSError, ValueError):
                conn.send(_STOP)
        for conn, process in self._workers:
            _stop(conn, process)
        self._workers = []


def _stop(conn: Any, process: Any) -> None:
    process.join(2)
    if process.is_alive():
        process.terminate()
        process.join(5)
    conn.close()


def start_workers(
    model: Any,
    model_path: str | os.PathLike,
    workers: int | None,
    threads: int | None,
    device: str | None = None,
    quantize: str | None = None,
    mini_batch_size: int | None = None,
) -> PredictProcess | None:
    """The worker processes ``polytag serve`` predicts in, sharing ``threads`` (default: torch's), or
    None for ``workers == 0`` (predict in a thread). ``workers`` None: 2 on a CPU with 2+ threads, else 1."""
    import torch

    from polytag.cli.inputs import UsageError
    from polytag.cli.results import model_layers, uses_context

    total = int(threads or torch.get_num_threads())
    on_cpu = model.device.type == "cpu"
    count = workers if workers is not None else (2 if on_cpu and total >= 2 else 1)
    if count < 0:
        raise UsageError(f"--predict-workers must be 0 or more, got {count}")
    if count == 0:
        return None
    layers = list(dict.fromkeys(layer.label_type for layer in model_layers(model)))
    share = max(1, total // count) if on_cpu else threads
    return PredictProcess(
        str(model_path), layers, uses_context(model), device, quantize, share, mini_batch_size, count
    )


def _tokens(sentence: Any) -> list[Any]:
    return [[t.form, t.whitespace_after] for t in sentence.tokens]


def write_layers(sentence: Any, labels: dict[str, Any], layers: Sequence[str]) -> None:
    """Replace ``layers`` of ``sentence`` with the labels in ``labels`` (lossless dict form)."""
    for layer in layers:
        sentence.remove_labels(layer)
    add_labels(sentence, labels)


def _worker(conn: Any, setup: tuple) -> None:  # pragma: no cover - runs in the child process
    model_path, device, quantize, threads, mini_batch_size = setup
    # Ctrl-C reaches the whole process group: the server stops its workers itself (or they die with it)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import torch

        from polytag.cli.inputs import load_model
        from polytag.cli.results import model_layers

        if threads:
            torch.set_num_threads(int(threads))
        model = load_model(model_path, device=device, quantize=quantize)
        model.eval()
        layers = list(dict.fromkeys(layer.label_type for layer in model_layers(model)))
    except BaseException as error:  # noqa: BLE001 - told to the parent, which raises it
        conn.send(("error", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is _STOP:
            return
        documents, targets = message
        try:
            built = []
            for tokens in documents:
                sentences = [Sentence.from_tokens([f for f, _ in t], [w for _, w in t]) for t in tokens]
                if len(sentences) > 1:
                    link_document(sentences, None)
                built.append(sentences)
            chunk = [built[d][k] for d, k in targets]
            model.predict(chunk, mini_batch_size=mini_batch_size or max(1, len(chunk)))
            result = [layers_dict(s, layers) for s in chunk]
        except Exception as error:  # noqa: BLE001 - the chunk fails, the worker goes on
            conn.send(("error", f"{type(error).__name__}: {error}"))
            continue
        conn.send(("ok", result))


def layers_dict(sentence: Any, layers: Sequence[str]) -> dict[str, Any]:
    """The labels of ``layers`` in lossless dict form (the worker's sentences carry nothing else, but
    only what the model writes crosses back)."""
    merged: dict[str, Any] = {"labels": {}, "token_labels": {}, "spans": []}
    for layer in layers:
        part = lossless_dict(sentence, layer)
        merged["labels"].update(part.get("labels", {}))
        merged["token_labels"].update(part.get("token_labels", {}))
        merged["spans"].extend(part.get("spans", []))
    return merged


__all__ = ["PredictProcess", "start_workers", "write_layers"]
