"""Shared helpers of the CLI, serving and browser tests: small corpora, quick models, a server thread.

Models built here are untrained (training is what test_cli_end_to_end does); ``rig_spans`` makes a
token head predict one fixed span type on every token, so that pages and answers have known spans.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

NAMES = {"Smith": "PER", "Jones": "PER", "Maria": "PER", "Berlin": "LOC", "Paris": "LOC", "Acme": "ORG"}
VERBS = ["loves", "visited", "saw", "likes"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tagged_sentence(rng: random.Random) -> list[tuple[str, str, str]]:
    """Token, POS, BIO NER rows of one small sentence."""
    a, b = rng.choice(sorted(NAMES)), rng.choice(sorted(NAMES))
    return [
        ("The", "DT", "O"),
        ("man", "NN", "O"),
        (rng.choice(VERBS), "VBD", "O"),
        (a, "NNP", "B-" + NAMES[a]),
        ("and", "CC", "O"),
        (b, "NNP", "B-" + NAMES[b]),
        (".", ".", "O"),
    ]


def write_corpora(folder: Path, sizes: tuple[int, int, int] = (40, 10, 10), seed: int = 0) -> Path:
    """``tagged/{train,dev,test}.txt`` (text, pos, ner columns) and ``topics/*.jsonl`` (a ``topic`` label)."""
    rng = random.Random(seed)
    (folder / "tagged").mkdir(parents=True, exist_ok=True)
    (folder / "topics").mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "dev", "test"), sizes):
        with open(folder / "tagged" / f"{split}.txt", "w", encoding="utf-8") as handle:
            for _ in range(n):
                handle.write("".join("\t".join(row) + "\n" for row in tagged_sentence(rng)) + "\n")
        with open(folder / "topics" / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for _ in range(n):
                topic = rng.choice(["sports", "politics"])
                text = "The team won the match ." if topic == "sports" else "The minister passed a law ."
                handle.write(json.dumps({"text": text, "labels": {"topic": [topic]}}) + "\n")
    return folder


def build_model(encoder_dir: Path, tasks: tuple[str, ...] = ("ner", "pos", "topic"), seed: int = 0) -> Any:
    """An untrained model over the tiny encoder: NER spans, POS tags and a topic (one head each)."""
    from polytag.data import Dictionary
    from polytag.embeddings import TransformerEmbeddings
    from polytag.models import MultitaskModel, TextClassifier, TokenClassifier

    torch.manual_seed(seed)
    encoder = TransformerEmbeddings(
        str(encoder_dir), is_token_embedding=True, is_document_embedding="topic" in tasks
    )
    heads = []
    if "ner" in tasks:
        types = Dictionary(add_unk=False)
        for value in ("PER", "LOC", "ORG"):
            types.add_item(value)
        types.span_labels = True
        heads.append(TokenClassifier(encoder, types, "ner"))
    if "pos" in tasks:
        tags = Dictionary(add_unk=False)
        for value in ("DT", "NN", "VBD", "NNP", "CC", "."):
            tags.add_item(value)
        heads.append(TokenClassifier(encoder, tags, "pos"))
    if "topic" in tasks:
        topics = Dictionary(add_unk=False)
        for value in ("sports", "politics"):
            topics.add_item(value)
        heads.append(TextClassifier(encoder, topics, "topic"))
    if len(heads) == 1:
        return heads[0]
    return MultitaskModel(heads, list(tasks))


def rig_spans(head: Any, span_type: str = "PER") -> None:
    """Make a span token head tag every token ``S-<span_type>`` (zero weights, a large bias)."""
    index = head.tag_dictionary.get_idx_for_item(f"S-{span_type}")
    with torch.no_grad():
        head.decoder.weight.zero_()
        head.decoder.bias.fill_(-5.0)
        head.decoder.bias[index] = 5.0


def rig_topic(head: Any, topic: str) -> None:
    index = head.label_dictionary.get_idx_for_item(topic)
    with torch.no_grad():
        head.decoder.weight.zero_()
        head.decoder.bias.fill_(-3.0)
        head.decoder.bias[index] = 3.0


class ServerThread:
    """``polytag.cli.serve.create_app`` on uvicorn in a background thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def http(
    port: int, method: str, path: str, body: bytes | str | dict | None = None, headers: dict | None = None
) -> tuple[int, Any]:
    """One request on a fresh connection; returns the status and the decoded JSON (or text) body."""
    import http.client

    if isinstance(body, dict):
        body = json.dumps(body)
    if body is not None:  # polytag serve answers POST only with a JSON content type
        headers = {"Content-Type": "application/json", **(headers or {})}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
