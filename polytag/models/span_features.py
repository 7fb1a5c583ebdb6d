"""Surface features of each (mention, candidate entity) pair, for the SpanClassifier's candidate scores.

Why: a candidate never seen in training has no prototype; what then tells ``Phil_Mickelson`` from
``Mickelson`` for the mention "Mickelson", or ``Japan_national_football_team`` from ``Japan`` in a soccer
report, is mostly on the surface: how the title's words relate to the mention's words, and whether the
title's words (and its parenthetical disambiguator, "(cricketer)") occur elsewhere in the *document*.
These are cheap to compute (set operations on case-folded words), depend only on the mention, the entity
and the document text (never on the rest of the batch or on other predictions), and a learned weight per
feature turns them into a score term.

Features (all in [0, 1]), in this order:

0. the mention equals the title (both normalised, the title without its parenthetical);
1. every word of the title is in the mention;
2. every word of the mention is in the title;
3. word Jaccard similarity of mention and title;
4. share of the title's words that occur in the document;
5. share of the parenthetical's words that occur in the document (0 without a parenthetical);
6. the title has a parenthetical;
7. the mention is the title's acronym ("UN" for ``United_Nations``).
"""

from __future__ import annotations

import re
import weakref
from functools import lru_cache

import numpy as np

from polytag.data import Sentence, Span
from polytag.models.span_parts import document_head

FEATURES = (
    "mention_is_title",
    "title_in_mention",
    "mention_in_title",
    "word_jaccard",
    "title_in_document",
    "parenthetical_in_document",
    "has_parenthetical",
    "mention_is_acronym",
)
NUM_FEATURES = len(FEATURES)
MAX_DOCUMENT_SENTENCES = 10_000  # a document walk stops here (a corrupted neighbour chain cannot loop)

_WORD = re.compile(r"\w+", re.UNICODE)
_PARENTHETICAL = re.compile(r"\(([^()]*)\)\s*$")


def words(text: str) -> tuple[str, ...]:
    """Case-folded word characters runs: ``"U.S. Open"`` -> ``("u", "s", "open")``."""
    return tuple(_WORD.findall(text.casefold()))


@lru_cache(maxsize=200_000)
def title_parts(entity: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The title's words without and inside its final parenthetical:
    ``"Ronaldo_(Brazilian_footballer)"`` -> ``(("ronaldo",), ("brazilian", "footballer"))``."""
    text = entity.replace("_", " ").strip()
    match = _PARENTHETICAL.search(text)
    if match is None:
        return words(text), ()
    return words(text[: match.start()]), words(match.group(1))


def document_words(sentence: Sentence) -> frozenset[str]:
    """Every word of ``sentence``'s document (the sentence alone when it has no neighbours)."""
    head = document_head(sentence)
    found: set[str] = set()
    current: Sentence | None = head
    for _ in range(MAX_DOCUMENT_SENTENCES):
        if current is None:
            break
        found.update(w for token in current for w in words(token.text))
        following = current.next_sentence()
        if following is None or following is head or following.document_id != head.document_id:
            break
        current = following
    return frozenset(found)


class DocumentWords:
    """``document_words`` computed once per document (keyed by its first sentence) and remembered per
    sentence; weak caches, so they go with the sentences."""

    def __init__(self) -> None:
        self._by_sentence: weakref.WeakKeyDictionary[Sentence, frozenset[str]] = weakref.WeakKeyDictionary()
        self._by_head: weakref.WeakKeyDictionary[Sentence, frozenset[str]] = weakref.WeakKeyDictionary()

    def __call__(self, sentence: Sentence) -> frozenset[str]:
        found = self._by_sentence.get(sentence)
        if found is None:
            head = document_head(sentence)
            found = self._by_head.get(head)
            if found is None:
                found = self._by_head[head] = document_words(head)
            self._by_sentence[sentence] = found
        return found


def pair_features(mention: tuple[str, ...], entity: str, document: frozenset[str]) -> list[float]:
    """The features of one (mention words, entity) pair in a document; see the module docstring."""
    title, parenthetical = title_parts(entity)
    mention_set, title_set = set(mention), set(title)
    union = mention_set | title_set
    acronym = "".join(w[0] for w in title if w not in {"of", "the", "and", "for", "de"})
    return [
        float(bool(title) and mention == title),
        float(bool(title_set) and title_set <= mention_set),
        float(bool(mention_set) and mention_set <= title_set),
        len(mention_set & title_set) / len(union) if union else 0.0,
        sum(w in document for w in title) / len(title) if title else 0.0,
        sum(w in document for w in parenthetical) / len(parenthetical) if parenthetical else 0.0,
        float(bool(parenthetical)),
        float(len(mention) == 1 and len(mention[0]) >= 2 and len(title) >= 2 and mention[0] == acronym),
    ]


def candidate_features(
    spans: list[Span],
    span_sentences: list[Sentence],
    ids: np.ndarray,
    entities: list[str],
    documents: DocumentWords,
) -> np.ndarray:
    """``[spans, max candidates, NUM_FEATURES]`` float32 features (zeros where ``ids`` is -1)."""
    out = np.zeros((*ids.shape, NUM_FEATURES), dtype=np.float32)
    for i, span in enumerate(spans):
        mention = words(span.text)
        document = documents(span_sentences[i])
        for k, entity_id in enumerate(ids[i].tolist()):
            if entity_id >= 0:
                out[i, k] = pair_features(mention, entities[entity_id], document)
    return out
