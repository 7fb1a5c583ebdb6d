"""What one request and the whole server may hold, and how a request's cost is counted before it is queued.

Why a module of its own: the limits are counted in the units that cost time and memory, not in the
units that are easy to count. The encoder's time and memory follow **subtokens** (one "word" of 100,000
CJK characters is 100,000 subtokens), and the server's memory follows **bytes**. Both are counted here,
before a request reaches the prediction queue, with a private copy of each encoder's tokenizer (a fast
tokenizer must not be used from two threads at once, and the prediction thread uses the model's own).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Limits:
    """What one request and the whole server may hold; see docs/serving.md for every bound."""

    max_body_bytes: int = 1_000_000
    max_texts: int = 256
    # encoder subtokens of all texts of one request together (413 beyond)
    max_tokens: int = 8192
    # seconds a client may take to send its body (408 after that: a slow or stalled client)
    read_timeout_s: float = 30.0
    # seconds a request may wait for and take in prediction (429 after that: the server is overloaded)
    queue_timeout_s: float = 60.0
    # sentences waiting for prediction; a request that would go over is refused at once with 429
    max_queued_sentences: int = 16384
    # encoder subtokens waiting for prediction, all requests together (429 beyond)
    max_queued_subtokens: int = 131_072
    # request body bytes held at once (being read, parsed, queued or predicted), all requests together
    max_pending_bytes: int = 16_000_000
    # characters of one word (413 beyond): tokenizing costs about a microsecond per character, and
    # a word is never split across predict calls
    max_word_chars: int = 1000
    # characters of one sentence (413 beyond): a sentence is never split across predict calls either
    max_sentence_chars: int = 100_000
    # most encoder subtokens in one predict call: a request holds the encoder this long at a time
    max_chunk_subtokens: int = 2048
    # seconds a connection may take to send a request's headers (it is closed after that)
    header_timeout_s: float = 10.0
    # open connections at most (also kept under the process's open-file limit); the oldest idle
    # connection is closed to make room for a new one
    max_connections: int = 512
    # Host names the server answers to (the port is ignored); "*" answers to any
    allowed_hosts: tuple[str, ...] = field(default=("localhost", "127.0.0.1", "[::1]"))


class RequestError(Exception):
    """A request the server refuses: HTTP status and the message sent back."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


# characters that cost about as much to tokenize as one subtoken costs in the encoder
CHARS_PER_WORK_UNIT = 32


def work_units(sentence: Any, subtokens: int) -> int:
    """What a sentence costs in a predict call: its subtokens, or its characters / 32 when more (the
    tokenizer's time follows characters, about a microsecond each). The batcher's chunks are bounded
    in these units."""
    return max(subtokens, len(sentence.text) // CHARS_PER_WORK_UNIT)


def too_long(per_text: Sequence[Sequence[Any]], limits: Limits) -> str | None:
    """Where the first sentence or word over its character limit is (text and character offset), if any."""
    for index, sentences in enumerate(per_text):
        for sentence in sentences:
            if len(sentence.text) > limits.max_sentence_chars:
                return (
                    f"text {index} has a sentence of {len(sentence.text)} characters at character "
                    f"{sentence.start_position}; the limit is {limits.max_sentence_chars} characters"
                    " per sentence"
                )
            for token in sentence.tokens:
                if len(token.form) > limits.max_word_chars:
                    offset = sentence.start_position + token.start_position
                    return (
                        f"text {index} has a word of {len(token.form)} characters at character {offset}; "
                        f"the limit is {limits.max_word_chars} characters per word"
                    )
    return None


def words_at_least(texts: Sequence[str]) -> int:
    """A cheap lower bound of a request's subtokens: every whitespace-separated piece is at least one
    token, and every token at least one subtoken. Lets a huge request be refused before it is tokenized."""
    return sum(len(text.split()) for text in texts)


def subtokens_at_most(texts: Sequence[str]) -> int:
    """A cheap upper bound of a request's subtokens: no tokenizer makes more than one subtoken per
    UTF-8 byte of a word plus one (a word-start marker), and every word has a byte. Small requests
    under the limit by this bound skip exact counting."""
    return sum(2 * len(text.encode("utf-8")) for text in texts)


class SubtokenCounter:
    """Counts the encoder subtokens of sentences exactly as the model's encoders will cut them.

    Uses its own deep copy of every encoder's tokenizer, so it may run in a thread other than the
    prediction thread. Counts are not cached: a cache would keep attackers' long words alive.
    """

    def __init__(self, model: Any) -> None:
        self.tokenizers = [copy.deepcopy(module.tokenizer) for module in model.embedding_modules()]

    def sentence_costs(self, sentences: Sequence[Any]) -> list[int]:
        """Subtokens of each sentence (the most over the model's encoders; every word at least one)."""
        if not sentences:
            return []
        words = sorted({token.form for sentence in sentences for token in sentence.tokens})
        counts = dict.fromkeys(words, 1)
        for tokenizer in self.tokenizers:
            encoded = tokenizer(
                [[word] for word in words], is_split_into_words=True, add_special_tokens=False, verbose=False
            )["input_ids"]
            for word, ids in zip(words, encoded):
                counts[word] = max(counts[word], len(ids))
        return [sum(counts[token.form] for token in sentence.tokens) for sentence in sentences]


__all__ = [
    "Limits",
    "RequestError",
    "SubtokenCounter",
    "too_long",
    "work_units",
    "subtokens_at_most",
    "words_at_least",
]
