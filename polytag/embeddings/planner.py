"""The subtoken planner: from sentences to encoder rows and gather indexes, in plain Python and numpy.

Training, prediction and the ONNX export all plan batches here, so every path feeds the encoder
identical rows. Per batch: one fast-tokenizer call on the pre-tokenized words, a handful of numpy
operations that turn the tokenizer's word ids into index arrays, nothing per token in Python except the
unavoidable reading of the word strings. See ``polytag.embeddings.transformer`` for the behaviour
(empty words, document context, windows for long sentences).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from polytag.data import Sentence
from polytag.embeddings.settings import EmbeddingConfigError, EncoderSettings
from polytag.errors import ModelFileError

_COUNT_CACHE_LIMIT = 2_000_000
_DOCSTART = "-DOCSTART-"
# encoders whose position ids start after the padding index, so they accept two positions fewer than
# max_position_embeddings says
PADDING_OFFSET_MODEL_TYPES = frozenset(
    {
        "roberta",
        "xlm-roberta",
        "xlm-roberta-xl",
        "camembert",
        "longformer",
        "data2vec-text",
        "xmod",
        "roberta-prelayernorm",
    }
)


def position_limit(encoder_config: Any) -> int | None:
    """The longest row the encoder's position table accepts (None: the config states no table size)."""
    positions = getattr(encoder_config, "max_position_embeddings", None)
    if positions is None:
        return None
    if getattr(encoder_config, "model_type", "") in PADDING_OFFSET_MODEL_TYPES:
        positions -= 2
    return int(positions)


@dataclass
class BatchPlan:
    """Where every vector of a batch comes from.

    ``input_ids`` / ``attention_mask`` ``[rows, width]`` are the encoder rows (one per sentence, or its
    windows); ``key`` (token slot ``sentence * n_tokens + token``) and ``source`` (flat position in the
    ``[rows * width]`` hidden states) pair up every subtoken of the sentences, in order; ``rows`` is the
    sentence of each pair and ``cls_source`` the flat position of each sentence's CLS token.
    """

    batch: int
    n_tokens: int
    n_words: np.ndarray
    input_ids: np.ndarray
    attention_mask: np.ndarray
    rows: np.ndarray
    key: np.ndarray
    source: np.ndarray
    cls_source: np.ndarray

    def first_and_last(self) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks over ``key``: the first and the last subtoken of each token."""
        key = self.key
        first = np.zeros(key.size, dtype=bool)
        last = np.zeros(key.size, dtype=bool)
        if key.size:
            first[0] = last[-1] = True
            np.not_equal(key[1:], key[:-1], out=first[1:])
            np.not_equal(key[:-1], key[1:], out=last[:-1])
        return first, last


class SubtokenPlanner:
    """Plans batches for one tokenizer and one set of settings (no torch, no encoder weights).

    ``position_limit`` is the encoder's position table (see :func:`position_limit`); it bounds
    ``model_max_length`` and, with the tokenizer's own limit, gives its default. ``settings`` on the
    planner holds the resolved ``model_max_length`` and ``window_stride``.
    """

    def __init__(self, tokenizer: Any, settings: EncoderSettings, position_limit: int | None = None) -> None:
        self.tokenizer = tokenizer
        # special tokens the tokenizer puts before and after a sequence (e.g. [CLS] ... [SEP])
        probe = tokenizer([["a"]], is_split_into_words=True, verbose=False).word_ids(0)
        self.n_prefix = next(i for i, w in enumerate(probe) if w is not None)
        self.n_suffix = len(probe) - 1 - max(i for i, w in enumerate(probe) if w is not None)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        max_length = settings.model_max_length or self._default_max_length(position_limit)
        if position_limit is not None and max_length > position_limit:
            raise EmbeddingConfigError(
                f"model_max_length {max_length} is larger than the encoder's {position_limit} positions"
            )
        room = max_length - self.n_prefix - self.n_suffix
        if room < 1:
            raise EmbeddingConfigError(f"model_max_length {max_length} leaves no room for subtokens")
        stride = settings.window_stride or max(1, room // 2)
        if not 1 <= stride <= room:
            raise EmbeddingConfigError(f"window_stride must lie in [1, {room}], got {settings.window_stride}")
        self.settings = dataclasses.replace(settings, model_max_length=max_length, window_stride=stride)
        self.model_max_length = max_length
        self.window_stride = stride
        self.room = room

        # per distinct word string: how many subtokens it becomes (0 = replaced by the unk text)
        self.subtoken_counts: dict[str, int] = {}
        self.empty_words: set[str] = set()
        self.unk_text = self._pick_unk_text()

    def _default_max_length(self, positions: int | None) -> int:
        """The encoder's window: the tokenizer's limit capped by the position embeddings."""
        stated = getattr(self.tokenizer, "model_max_length", None)
        stated = stated if stated is not None and 0 < stated < 100_000 else None
        candidates = [int(x) for x in (positions, stated) if x]
        return min(candidates) if candidates else 512

    def _pick_unk_text(self) -> str:
        for text in (self.tokenizer.unk_token, "?", "x"):
            if text and self.count_subtokens([text])[text] > 0:
                return text
        raise ModelFileError("the tokenizer turns neither its unk token nor '?' into a subtoken")

    # -- word bookkeeping --------------------------------------------------------------------------------
    def count_subtokens(self, words: Iterable[str]) -> dict[str, int]:
        """Subtoken counts of ``words`` (cached per distinct string; unseen ones in one tokenizer call)."""
        cache = self.subtoken_counts
        wanted = set(words)
        new = list(wanted.difference(cache))
        if new:
            if len(cache) + len(new) > _COUNT_CACHE_LIMIT:
                cache.clear()
                self.empty_words.clear()
                new = list(wanted)
            encoded = self.tokenizer(
                [[w] for w in new], is_split_into_words=True, add_special_tokens=False, verbose=False
            )["input_ids"]
            for word, ids in zip(new, encoded):
                cache[word] = len(ids)
                if not ids:
                    self.empty_words.add(word)
        return cache

    def subtoken_lengths(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """Number of subtokens of each sentence (without context or special tokens).

        What batching should count: one word can be hundreds of subtokens (a line of dashes, a URL),
        and the encoder's memory and time follow subtokens, not words.
        """
        counts = self.count_subtokens(t.form for s in sentences for t in s.tokens)
        return np.fromiter(
            (sum(max(counts[t.form], 1) for t in s.tokens) for s in sentences),
            dtype=np.int64,
            count=len(sentences),
        )

    def _replace_empty(self, words: list[str]) -> list[str]:
        empty = self.empty_words
        if empty and not empty.isdisjoint(words):
            unk = self.unk_text
            return [unk if w in empty else w for w in words]
        return words

    # -- document context ----------------------------------------------------------------------------
    def _is_boundary(self, sentence: Sentence, neighbour: Sentence) -> bool:
        if not self.settings.respect_document_boundaries:
            return False
        if neighbour.document_id != sentence.document_id:
            return True
        tokens = neighbour.tokens
        return len(tokens) == 1 and tokens[0].form == _DOCSTART

    def _context_candidates(self, sentence: Sentence, forward: bool) -> list[str]:
        """Up to ``use_context`` words of the neighbouring sentences on one side, in text order."""
        limit = self.settings.use_context
        collected: list[list[str]] = []
        total = 0
        current: Sentence | None = sentence
        visited = {id(sentence)}
        while total < limit:
            assert current is not None
            current = current.next_sentence() if forward else current.previous_sentence()
            if current is None or id(current) in visited or self._is_boundary(sentence, current):
                break
            visited.add(id(current))
            forms = [t.form for t in current.tokens]
            collected.append(forms)
            total += len(forms)
        if forward:
            return list(chain.from_iterable(collected))[:limit]
        return list(chain.from_iterable(reversed(collected)))[-limit:] if collected else []

    def _with_context(
        self, sentences: list[Sentence], words: list[list[str]], drop: np.ndarray | None
    ) -> tuple[list[list[str]], np.ndarray]:
        """Each sentence's words wrapped in its document context; returns them and the left-context sizes."""
        batch = len(sentences)
        lefts = [self._context_candidates(s, forward=False) for s in sentences]
        rights = [self._context_candidates(s, forward=True) for s in sentences]
        counts = self.count_subtokens(chain(chain.from_iterable(lefts), chain.from_iterable(rights)))
        dropped = drop.tolist() if drop is not None else [[False, False]] * batch
        full: list[list[str]] = []
        left_sizes = np.zeros(batch, dtype=np.int64)
        for i, sentence_words in enumerate(words):
            own = sum(map(counts.__getitem__, sentence_words))
            budget = min(self.settings.use_context, max(0, self.room - own) // 2)
            left = [] if dropped[i][0] or budget == 0 else self._take_context(lefts[i], budget, from_end=True)
            right = (
                [] if dropped[i][1] or budget == 0 else self._take_context(rights[i], budget, from_end=False)
            )
            left_sizes[i] = len(left)
            full.append(left + sentence_words + right if (left or right) else sentence_words)
        return full, left_sizes

    def _take_context(self, candidates: list[str], budget: int, from_end: bool) -> list[str]:
        """The words nearest the sentence whose subtokens fit into ``budget``."""
        if not candidates:
            return []
        words = self._replace_empty(candidates)
        counts = self.subtoken_counts
        sizes = np.fromiter(
            (counts[w] for w in (reversed(words) if from_end else words)), dtype=np.int64, count=len(words)
        )
        keep = int(np.searchsorted(np.cumsum(np.maximum(sizes, 1)), budget, side="right"))
        if keep == 0:
            return []
        return words[-keep:] if from_end else words[:keep]

    # -- the batch plan ------------------------------------------------------------------------------------
    def plan(self, sentences: Sequence[Sentence], context_drop: np.ndarray | None = None) -> BatchPlan:
        """Tokenize once and work out, as numpy index arrays, where every vector comes from.

        ``context_drop`` ``[batch, 2]`` (bool) drops the left / right context of a sentence (context
        dropout: the torch module draws it in training mode, so the planner needs no random source).
        """
        sentences = list(sentences)
        batch = len(sentences)
        words = [[t.form for t in s.tokens] for s in sentences]
        self.count_subtokens(chain.from_iterable(words))
        if self.empty_words:
            words = [self._replace_empty(w) for w in words]
        n_words = np.fromiter(map(len, words), dtype=np.int64, count=batch)
        if self.settings.use_context > 0:
            full, left_sizes = self._with_context(sentences, words, context_drop)
        else:
            full, left_sizes = words, np.zeros(batch, dtype=np.int64)

        encoding = self.tokenizer(
            full,
            is_split_into_words=True,
            return_tensors="np",
            padding=True,
            truncation=False,
            verbose=False,
            return_token_type_ids=False,
            padding_side="right",
        )
        input_ids = np.asarray(encoding["input_ids"], dtype=np.int64)
        attention_mask = np.asarray(encoding["attention_mask"], dtype=np.int64)
        width = input_ids.shape[1]
        # None (special tokens, padding) becomes NaN here, then -1
        word_ids = np.array([encoding.word_ids(i) for i in range(batch)], dtype=np.float64)
        word_ids = word_ids.reshape(batch, width)
        word_ids = np.nan_to_num(word_ids, nan=-1.0).astype(np.int64)
        row_lengths = attention_mask.sum(1)
        token_index = word_ids - left_sizes[:, None]
        in_sentence = (word_ids >= 0) & (token_index >= 0) & (token_index < n_words[:, None])

        if int(row_lengths.max(initial=0)) <= self.model_max_length:
            flat_position = np.arange(batch * width, dtype=np.int64).reshape(batch, width)
            cls_row_position = np.zeros(batch, dtype=np.int64) if self.n_prefix else row_lengths - 1
            cls_source = np.arange(batch, dtype=np.int64) * width + cls_row_position
        else:
            input_ids, attention_mask, flat_position, cls_source = self._windows(
                input_ids, row_lengths, in_sentence
            )

        rows, cols = np.nonzero(in_sentence)
        n_tokens = int(n_words.max(initial=0))
        key = rows * n_tokens + token_index[rows, cols]
        source = flat_position[rows, cols]
        return BatchPlan(
            batch,
            n_tokens,
            n_words,
            input_ids,
            attention_mask,
            rows,
            key,
            source,
            cls_source.astype(np.int64),
        )

    def _windows(
        self, input_ids: np.ndarray, row_lengths: np.ndarray, in_sentence: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cut rows longer than the encoder window into overlapping windows (or truncate them)."""
        batch, width = in_sentence.shape
        max_len, room, stride = self.model_max_length, self.room, self.window_stride
        prefix, suffix = self.n_prefix, self.n_suffix
        piece_of = np.repeat(np.arange(batch, dtype=np.int64)[:, None], width, axis=1)
        offset_in_piece = np.tile(np.arange(width, dtype=np.int64), (batch, 1))
        piece_rows: list[int] = []
        piece_columns: list[np.ndarray] = []
        first_piece = np.zeros(batch, dtype=np.int64)
        last_piece = np.zeros(batch, dtype=np.int64)
        for row in range(batch):
            length = int(row_lengths[row])
            piece = len(piece_rows)
            first_piece[row] = piece
            if length <= max_len:
                piece_rows.append(row)
                piece_columns.append(np.arange(length, dtype=np.int64))
                piece_of[row] = piece
                last_piece[row] = piece
                continue
            content = length - prefix - suffix
            if self.settings.allow_long_sentences:
                count = -(-(content - room) // stride) + 1
                starts = np.minimum(np.arange(count, dtype=np.int64) * stride, content - room)
            else:
                starts = np.zeros(1, dtype=np.int64)
                in_sentence[row, prefix + room :] = False
            head = np.arange(prefix, dtype=np.int64)
            body = prefix + np.arange(room, dtype=np.int64)
            tail = length - suffix + np.arange(suffix, dtype=np.int64)
            for start in starts:
                piece_rows.append(row)
                piece_columns.append(np.concatenate([head, body + start, tail]))
            positions = np.arange(content, dtype=np.int64)
            centres = starts + (room - 1) / 2.0
            best = np.abs(positions[:, None] - centres[None, :]).argmin(axis=1)
            piece_of[row, prefix : prefix + content] = piece + best
            offset_in_piece[row, prefix : prefix + content] = prefix + positions - starts[best]
            last_piece[row] = piece + len(starts) - 1
        n_pieces = len(piece_rows)
        piece_lengths = np.fromiter(map(len, piece_columns), dtype=np.int64, count=n_pieces)
        piece_width = int(piece_lengths.max())
        columns = np.zeros((n_pieces, piece_width), dtype=np.int64)
        valid = np.arange(piece_width)[None, :] < piece_lengths[:, None]
        columns[valid] = np.concatenate(piece_columns)
        piece_rows_array = np.asarray(piece_rows, dtype=np.int64)
        ids = np.where(valid, input_ids[piece_rows_array[:, None], columns], self.pad_id)
        mask = valid.astype(np.int64)
        flat_position = piece_of * piece_width + offset_in_piece
        if prefix:
            cls_source = first_piece * piece_width
        else:
            cls_source = last_piece * piece_width + piece_lengths[last_piece] - 1
        return ids, mask, flat_position, cls_source
