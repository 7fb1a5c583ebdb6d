"""HTML pictures of predictions, in the style users know from displaCy.

Spans (NER, chunks) are highlighted ``<mark>`` elements with their label in small capitals; entity
links (``link`` layers) are hyperlinks to the entity's page (only plain http/https URLs, see
:func:`polytag.cli.results.entity_url`); token labels (POS) sit under their words;
sentence labels (topics) are badges. Each span layer gets its own line under the sentence so that
layers that overlap (chunks and entities) stay readable; spans of one layer that overlap each other
go to an extra line.

The renderer works on the JSON of :func:`polytag.cli.results.sentence_result`, so ``polytag predict
--format html`` and the page of ``polytag serve`` draw the same picture. Everything taken from the
input or the model is HTML-escaped.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

from polytag.cli.results import is_web_url

PALETTE = (
    "#7aecec",
    "#bfeeb7",
    "#feca74",
    "#ff9561",
    "#aa9cfc",
    "#c887fb",
    "#9cc9cc",
    "#ffeb80",
    "#ff8197",
    "#ddd",
    "#e4e7d2",
    "#f0d0ff",
    "#b3e5fc",
    "#c5e1a5",
    "#ffccbc",
    "#d1c4e9",
)
# displaCy's colours for the common entity types, so that familiar pictures look familiar
KNOWN_COLOURS = {
    "PER": "#aa9cfc",
    "PERSON": "#aa9cfc",
    "ORG": "#7aecec",
    "LOC": "#ff9561",
    "GPE": "#feca74",
    "MISC": "#c887fb",
    "NORP": "#c887fb",
    "DATE": "#bfe1d9",
    "NP": "#bfeeb7",
    "VP": "#ffeb80",
    "PP": "#e4e7d2",
}

CSS = """
.polytag-doc{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
 line-height:2.4;direction:ltr}
.polytag-sentence{margin:0 0 1.2em 0;padding:.4em .6em;border-left:3px solid #eee}
.polytag-row{margin:.1em 0}
.polytag-layer{display:inline-block;min-width:4.5em;font-size:.7em;color:#888;text-transform:uppercase;
 letter-spacing:.05em;vertical-align:middle}
mark.polytag-span{padding:.25em .5em;margin:0 .2em;line-height:1;border-radius:.35em;
 box-decoration-break:clone;-webkit-box-decoration-break:clone}
.polytag-label{font-size:.62em;font-weight:bold;line-height:1;border-radius:.35em;
 text-transform:uppercase;vertical-align:middle;margin-left:.5em}
a.polytag-link{color:inherit;text-decoration:underline dotted}
.polytag-token{display:inline-block;text-align:center;margin:0 .25em;line-height:1.3;vertical-align:top}
.polytag-word{display:block}
.polytag-tag{display:block;font-size:.65em;font-weight:bold;color:#555}
.polytag-badges{margin-bottom:.2em}
.polytag-badge{display:inline-block;padding:.1em .6em;margin-right:.4em;border-radius:1em;font-size:.75em;
 line-height:1.6;font-weight:bold}
.polytag-score{font-weight:normal;opacity:.7;margin-left:.3em}
"""


def label_colour(label: str) -> str:
    """A stable background colour for a label value (the same label always gets the same colour)."""
    known = KNOWN_COLOURS.get(label.upper())
    if known:
        return known
    digest = hashlib.md5(label.encode("utf-8"), usedforsecurity=False).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def _span_rows(spans: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Spans of one layer in lines without overlaps (first fit, in text order)."""
    rows: list[list[dict[str, Any]]] = []
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        for row in rows:
            if row[-1]["end"] <= span["start"]:
                row.append(span)
                break
        else:
            rows.append([span])
    return rows


def _mark(span: dict[str, Any], text: str, show_scores: bool) -> str:
    value = str(span["value"])
    inner = escape(text)
    url = span.get("url")
    if isinstance(url, str) and is_web_url(url):  # results from elsewhere (e.g. a JSON file) are re-checked
        href = escape(url, quote=True)
        inner = f'<a class="polytag-link" href="{href}" target="_blank" rel="noopener">{inner}</a>'
    score = f'<span class="polytag-score">{span["score"]:.2f}</span>' if show_scores else ""
    return (
        f'<mark class="polytag-span" data-layer="{escape(span["layer"], quote=True)}" '
        f'data-label="{escape(value, quote=True)}" data-start="{span["start"]}" data-end="{span["end"]}" '
        f'style="background:{label_colour(value)}">{inner}'
        f'<span class="polytag-label">{escape(value)}</span>{score}</mark>'
    )


def _span_line(result: dict[str, Any], row: list[dict[str, Any]], layer: str, show_scores: bool) -> str:
    text, base = result["text"], result["start"]
    parts, position = [], 0
    for span in row:
        start, end = span["start"] - base, span["end"] - base
        parts.append(escape(text[position:start]))
        parts.append(_mark(span, text[start:end], show_scores))
        position = end
    parts.append(escape(text[position:]))
    return (
        f'<div class="polytag-row" data-layer="{escape(layer, quote=True)}">'
        f'<span class="polytag-layer">{escape(layer)}</span>{"".join(parts)}</div>'
    )


def _token_line(result: dict[str, Any], layer: str) -> str:
    cells = []
    for token in result["tokens"]:
        label = token["labels"].get(layer)
        tag = escape(str(label["value"])) if label else "&nbsp;"
        cells.append(
            f'<span class="polytag-token"><span class="polytag-word">{escape(token["text"])}</span>'
            f'<span class="polytag-tag">{tag}</span></span>'
        )
    return (
        f'<div class="polytag-row polytag-tokens" data-layer="{escape(layer, quote=True)}">'
        f'<span class="polytag-layer">{escape(layer)}</span>{"".join(cells)}</div>'
    )


def render_sentence(
    result: dict[str, Any], layers: list[Any] | None = None, show_scores: bool = False
) -> str:
    """HTML for one sentence result; ``layers`` (``Layer`` objects or dicts) fixes the order of lines."""
    order = _layer_order(result, layers)
    lines = []
    badges = []
    for layer, kind in order:
        if kind == "sentence":
            for label in result["labels"].get(layer, []):
                value = str(label["value"])
                score = f'<span class="polytag-score">{label["score"]:.2f}</span>' if show_scores else ""
                badges.append(
                    f'<span class="polytag-badge" data-layer="{escape(layer, quote=True)}" '
                    f'data-label="{escape(value, quote=True)}" style="background:{label_colour(value)}">'
                    f"{escape(layer)}: {escape(value)}{score}</span>"
                )
        elif kind == "token":
            lines.append(_token_line(result, layer))
        else:
            spans = [s for s in result["spans"] if s["layer"] == layer]
            for row in _span_rows(spans) or [[]]:
                lines.append(_span_line(result, row, layer, show_scores))
    if not lines:
        lines.append(f'<div class="polytag-row">{escape(result["text"])}</div>')
    head = f'<div class="polytag-badges">{"".join(badges)}</div>' if badges else ""
    return f'<div class="polytag-sentence">{head}{"".join(lines)}</div>'


def _layer_order(result: dict[str, Any], layers: list[Any] | None) -> list[tuple[str, str]]:
    if layers is not None:
        out = []
        for layer in layers:
            if isinstance(layer, dict):
                out.append((layer["label_type"], layer["kind"]))
            else:
                out.append((layer.label_type, layer.kind))
        return out
    seen: dict[str, str] = {}
    for name in result["labels"]:
        seen.setdefault(name, "sentence")
    for span in result["spans"]:
        seen.setdefault(span["layer"], span.get("kind", "span"))
    for token in result["tokens"]:
        for name in token["labels"]:
            seen.setdefault(name, "token")
    return list(seen.items())


def render_document(
    results: list[dict[str, Any]], layers: list[Any] | None = None, show_scores: bool = False
) -> str:
    """HTML fragment (a ``div``) for the sentences of one text."""
    body = "".join(render_sentence(r, layers, show_scores) for r in results)
    return f'<div class="polytag-doc">{body}</div>'


def page_start(title: str = "polytag predictions") -> str:
    """The opening of a standalone HTML page (``polytag predict --format html`` streams into it)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><style>{CSS}</style></head>\n<body><div class="polytag-doc">\n'
    )


def page_end() -> str:
    return "</div></body></html>\n"
