"""What a model predicts, as plain JSON: the layers a model writes and each sentence's labels with offsets.

``polytag serve`` answers with this structure, ``polytag predict --format html`` renders it, and
``polytag info`` lists the layers. Offsets are characters in the text the sentence came from:
``sentence.start_position`` (set by :func:`polytag.cli.segment.make_sentences`) plus the token's own.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from polytag.data import Sentence, Span, Token

DEFAULT_LINK_TEMPLATE = "https://en.wikipedia.org/wiki/{}"


@dataclass
class Layer:
    """One label layer a model writes: its task, head class, label type and kind.

    ``kind`` is ``token`` (one label per token), ``span`` (labelled spans such as NER), ``link``
    (spans labelled with an entity id: entity linking) or ``sentence`` (labels of the whole sentence).
    """

    task: str
    head: str
    label_type: str
    kind: str
    labels: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _head_kind(head: Any) -> str:
    name = type(head).__name__
    if name == "SpanClassifier":
        return "link"
    if name == "TextClassifier":
        return "sentence"
    if getattr(head, "predict_spans", False):
        return "span"
    if getattr(head, "evaluation_kind", "token") == "span":
        return "span"
    if name in ("TokenClassifier", "SequenceTagger"):
        return "token"
    return "sentence" if getattr(head, "evaluation_kind", "") == "text" else "token"


def _head_labels(head: Any, limit: int = 1000) -> list[str]:
    dictionary = getattr(head, "label_dictionary", None)
    if dictionary is None:
        return []
    items = [item for item in dictionary.get_items() if item != "<unk>"]
    return items[:limit]


def model_layers(model: Any) -> list[Layer]:
    """The layers ``model`` writes when it predicts, one per head (a MultitaskModel has several)."""
    tasks = getattr(model, "tasks", None)
    heads = list(tasks.items()) if tasks is not None else [("Task_0", model)]
    return [
        Layer(task, type(head).__name__, head.label_type, _head_kind(head), _head_labels(head))
        for task, head in heads
    ]


def uses_context(model: Any) -> bool:
    """Whether any encoder of ``model`` reads neighbouring sentences (then documents stay together)."""
    modules = model.embedding_modules() if hasattr(model, "embedding_modules") else []
    return any(getattr(m, "context_length", 0) > 0 for m in modules)


# Characters a URL may hold (RFC 3986: unreserved, reserved and "%"); anything else (quotes, spaces,
# "<", ">", backslash, control characters) means the template is not a plain URL: no link.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
LINK_SCHEMES = ("http", "https")


def is_web_url(url: str) -> bool:
    """Whether ``url`` is a plain ``http``/``https`` URL with a host, safe to put in an ``href``."""
    if not _URL_CHARACTERS.fullmatch(url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in LINK_SCHEMES and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False


def entity_url(entity: str, template: str | None = DEFAULT_LINK_TEMPLATE) -> str | None:
    """The page of an entity id: ``template`` with the URL-quoted id in place of ``{}``, or None.

    Only ``http``/``https`` links whose host comes from the template are made: the template must be
    such a URL with ``{}`` after its host, the id is quoted (``/``, ``?``, ``#``, ``@`` and ``:``
    included) so it cannot change the scheme, host or query structure, and the result is checked
    again. An id that is itself a URL is quoted like any other id, not passed through. Anything else
    gives no link, so the id is shown as plain (escaped) text.
    """
    if not template or "{}" not in template:
        return None
    marker = "polytag-entity-id"
    if not is_web_url(template.replace("{}", marker)):
        return None
    shape = urlsplit(template.replace("{}", marker))
    if marker in shape.scheme + shape.netloc:
        return None  # the id would choose the scheme or the host
    url = template.replace("{}", quote(entity.replace(" ", "_"), safe="_()',.-!~*"))
    if not is_web_url(url) or urlsplit(url).netloc != shape.netloc:
        return None
    return url


def sentence_result(
    sentence: Sentence, layers: list[Layer], link_template: str | None = DEFAULT_LINK_TEMPLATE
) -> dict[str, Any]:
    """One sentence's predicted labels: tokens (with token labels), spans and sentence labels.

    ``{"text", "start", "end", "tokens": [{"text", "start", "end", "labels": {layer: {"value",
    "score"}}}], "spans": [{"layer", "kind", "start", "end", "token_start", "token_end", "text",
    "value", "score"[, "url"]}], "labels": {layer: [{"value", "score"}]}}``.
    """
    base = sentence.start_position
    tokens: list[dict[str, Any]] = [
        {"text": t.form, "start": base + t.start_position, "end": base + t.end_position, "labels": {}}
        for t in sentence.tokens
    ]
    spans: list[dict[str, Any]] = []
    labels: dict[str, list[dict[str, Any]]] = {}
    for layer in layers:
        for label in sentence.get_labels(layer.label_type):
            point = label.data_point
            score = round(float(label.score), 6)
            if point is sentence:
                labels.setdefault(layer.label_type, []).append({"value": label.value, "score": score})
            elif isinstance(point, Span):
                entry = {
                    "layer": layer.label_type,
                    "kind": layer.kind,
                    "start": base + point.start_position,
                    "end": base + point.end_position,
                    "token_start": point.start,
                    "token_end": point.end,
                    "text": point.text,
                    "value": label.value,
                    "score": score,
                }
                if layer.kind == "link":
                    url = entity_url(label.value, link_template)
                    if url:
                        entry["url"] = url
                spans.append(entry)
            elif isinstance(point, Token):
                tokens[point.idx - 1]["labels"].setdefault(
                    layer.label_type, {"value": label.value, "score": score}
                )
    spans.sort(key=lambda s: (s["start"], -s["end"], s["layer"]))
    return {
        "text": sentence.text,
        "start": base,
        "end": base + len(sentence.text),
        "tokens": tokens,
        "spans": spans,
        "labels": labels,
    }
