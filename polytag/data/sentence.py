"""The data model: labels on tokens, spans and sentences, with Flair's names and printing.

A :class:`Sentence` owns its tokens; every label added to a token or span is also filed under
the sentence, so ``sentence.get_labels("ner")`` is a dictionary look-up, not a walk over tokens.
Sentences of one document are linked to their neighbours, which is what document context
(FLERT) in the embeddings reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from sys import intern
from typing import Any, Union

from polytag.data.label import ARROW, DataPoint, Label
from polytag.data.layer_groups import GROUP_KEY, LayerGroups
from polytag.data.tokenizer import Tokenizer, tokenize, whitespace_tokenize

__all__ = ["ARROW", "DataPoint", "Label", "Sentence", "Span", "Token", "link_document"]


class _PartOfSentence(DataPoint):
    """A token or span: its labels are mirrored into the owning sentence's layers."""

    __slots__ = ()

    sentence: Sentence | None  # a token made on its own belongs to no sentence until one adopts it

    def _materialize(self, typename: str | None) -> None:
        sentence = self.sentence
        if sentence is not None and sentence._pending is not None:
            sentence._materialize(typename)

    def _file_label(self, typename: str, label: Label) -> None:
        super()._file_label(typename, label)
        sentence = self.sentence
        if sentence is not None:
            sentence._layers.setdefault(typename, []).append(label)
            sentence._sorted_layers.discard(typename)

    def remove_labels(self, typename: str) -> None:
        self._materialize(None)
        mine = self._layers.pop(typename, None)
        sentence = self.sentence
        if mine and sentence is not None and typename in sentence._layers:
            ids = {id(label) for label in mine}
            kept = [label for label in sentence._layers[typename] if id(label) not in ids]
            if kept:
                sentence._layers[typename] = kept
            else:
                del sentence._layers[typename]

    def __str__(self) -> str:
        own = self._own_label_string(add_score=True)
        return self.unlabeled_identifier + (ARROW + own if own else "")

    def __repr__(self) -> str:
        return str(self)


class Token(_PartOfSentence):
    """One word of a sentence with its character offset (``idx`` is 1-based, as in Flair)."""

    __slots__ = ("form", "idx", "start_position", "whitespace_after", "sentence")

    def __init__(
        self,
        text: str,
        start_position: int = 0,
        whitespace_after: int = 1,
        sentence: Sentence | None = None,
        idx: int = 0,
    ) -> None:
        self._layers = {}
        self.form = text
        self.start_position = start_position
        self.whitespace_after = whitespace_after
        self.sentence = sentence
        self.idx = idx

    @property
    def text(self) -> str:
        return self.form

    @property
    def end_position(self) -> int:
        return self.start_position + len(self.form)

    @property
    def unlabeled_identifier(self) -> str:
        return f'Token[{self.idx - 1}]: "{self.form}"'

    def text_offsets(self) -> tuple[int, int]:
        return (self.start_position, self.end_position)

    def __len__(self) -> int:
        return len(self.form)


class Span(_PartOfSentence):
    """Consecutive tokens ``[start, end)`` of one sentence; created by ``sentence[start:end]``."""

    __slots__ = ("sentence", "start", "end")

    sentence: Sentence

    def __init__(self, sentence: Sentence, start: int, end: int) -> None:
        self._layers = {}
        self.sentence = sentence
        self.start = start
        self.end = end

    @property
    def tokens(self) -> list[Token]:
        return self.sentence.tokens[self.start : self.end]

    @property
    def text(self) -> str:
        toks = self.tokens
        parts = []
        for i, tok in enumerate(toks):
            parts.append(tok.form)
            if i < len(toks) - 1:
                parts.append(" " * (toks[i + 1].start_position - tok.end_position))
        return "".join(parts)

    @property
    def start_position(self) -> int:
        return self.sentence.tokens[self.start].start_position

    @property
    def end_position(self) -> int:
        return self.sentence.tokens[self.end - 1].end_position

    @property
    def unlabeled_identifier(self) -> str:
        return f'Span[{self.start}:{self.end}]: "{self.text}"'

    def text_offsets(self) -> tuple[int, int]:
        return (self.start_position, self.end_position)

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[Token]:
        return iter(self.tokens)

    def __getitem__(self, i: int) -> Token:
        return self.tokens[i]


class Sentence(DataPoint, LayerGroups):
    """A list of tokens with labels on itself, its tokens and its spans.

    ``Sentence("Mr Smith loves New York")`` tokenizes with polytag's rule tokenizer;
    ``use_tokenizer=False`` splits on whitespace only; a list of strings is taken as tokens.
    """

    __slots__ = (
        "tokens",
        "_known_spans",
        "_sorted_layers",
        "_pending",
        "_layer_order",
        "_previous_sentence",
        "_next_sentence",
        "document_id",
        "metadata",
        "language_code",
        "start_position",
        "__weakref__",
    )

    def __init__(
        self,
        text: Union[str, list[str], list[Token]] = "",
        use_tokenizer: Union[bool, Tokenizer] = True,
        language_code: str | None = None,
        start_position: int = 0,
    ) -> None:
        super().__init__()
        self.tokens: list[Token] = []
        self._known_spans: dict[tuple[int, int], Span] = {}
        self._sorted_layers: set[str] = set()
        self._pending: dict[str, Any] | None = None  # name -> values; GROUP_KEY -> builder
        self._layer_order: list[str] | None = None
        self._previous_sentence: Sentence | None = None
        self._next_sentence: Sentence | None = None
        self.document_id: str | None = None
        self.metadata: dict[str, Any] = {}
        self.language_code = language_code
        self.start_position = start_position

        if isinstance(text, str):
            if use_tokenizer is True:
                pieces = tokenize(text)
            elif use_tokenizer is False:
                pieces = whitespace_tokenize(text)
            else:
                pieces = use_tokenizer(text)
            self._add_pieces(text, pieces)
        else:
            for item in text:
                if isinstance(item, Token):
                    self.add_token(item)
                else:
                    self.add_token(str(item))

    @classmethod
    def from_tokens(cls, forms: list[str], whitespace_after: list[int] | None = None) -> Sentence:
        """Fast constructor for readers: tokens and the spaces after each, no tokenizer run."""
        sentence = cls.__new__(cls)
        DataPoint.__init__(sentence)
        sentence._known_spans = {}
        sentence._sorted_layers = set()
        sentence._pending = None
        sentence._layer_order = None
        sentence._previous_sentence = None
        sentence._next_sentence = None
        sentence.document_id = None
        sentence.metadata = {}
        sentence.language_code = None
        sentence.start_position = 0
        tokens = []
        position = 0
        for i, form in enumerate(forms):
            ws = 1 if whitespace_after is None else whitespace_after[i]
            tokens.append(Token(intern(form), position, ws, sentence, i + 1))
            position += len(form) + ws
        sentence.tokens = tokens
        return sentence

    def _add_pieces(self, text: str, pieces: list[tuple[str, int]]) -> None:
        ends = [start for _, start in pieces[1:]] + [len(text)]
        for i, ((form, start), following) in enumerate(zip(pieces, ends)):
            self.tokens.append(Token(form, start, following - start - len(form), self, i + 1))

    def add_token(self, token: Union[str, Token]) -> None:
        if isinstance(token, str):
            token = Token(token)
        if self.tokens:
            prev = self.tokens[-1]
            token.start_position = prev.end_position + prev.whitespace_after
        else:
            token.start_position = 0
        token.sentence = self
        token.idx = len(self.tokens) + 1
        self.tokens.append(token)

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tokens)

    def __iter__(self) -> Iterator[Token]:
        return iter(self.tokens)

    def __getitem__(self, index: Union[int, slice]) -> Union[Token, Span]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.tokens))
            if step != 1 or stop <= start:
                raise IndexError(f"a span needs consecutive tokens, got slice {index}")
            return self.get_span(start, stop)
        return self.tokens[index]

    def get_span(self, start: int, end: int) -> Span:
        """The span of tokens ``[start, end)``; the same object each time it is asked for."""
        key = (start, end)
        if not 0 <= start < end <= len(self.tokens):
            raise IndexError(f"span [{start}:{end}] is outside a sentence of {len(self.tokens)} tokens")
        span = self._known_spans.get(key)
        if span is None:
            span = Span(self, start, end)
            self._known_spans[key] = span
        return span

    def get_token(self, token_id: int) -> Token | None:
        """Token by its 1-based ``idx`` (Flair's convention)."""
        return self.tokens[token_id - 1] if 0 < token_id <= len(self.tokens) else None

    @property
    def text(self) -> str:
        return self.to_original_text()

    def to_original_text(self) -> str:
        parts = []
        last = len(self.tokens) - 1
        for i, tok in enumerate(self.tokens):
            parts.append(tok.form)
            if i < last:
                parts.append(" " * tok.whitespace_after)
        return "".join(parts)

    def to_tokenized_string(self) -> str:
        return " ".join(tok.form for tok in self.tokens)

    def to_plain_string(self) -> str:
        return self.to_original_text()

    @property
    def unlabeled_identifier(self) -> str:
        return f'Sentence[{len(self)}]: "{self.text}"'

    # -- labels ---------------------------------------------------------------------------------
    def get_labels(self, typename: str | None = None) -> list[Label]:
        """Labels of ``typename`` on this sentence, its tokens and spans, in text order."""
        if typename is None:
            return sorted(self.labels, key=Label._sort_key)
        self._materialize(typename)
        layer = self._layers.get(typename)
        if not layer:
            return []
        if typename not in self._sorted_layers:
            layer.sort(key=Label._sort_key)
            self._sorted_layers.add(typename)
        return list(layer)

    def get_spans(self, typename: str | None = None) -> list[Span]:
        """Spans that carry a label of ``typename`` (any layer when None), in text order."""
        seen: dict[int, Span] = {}
        for label in self.get_labels(typename):
            if isinstance(label.data_point, Span):
                seen.setdefault(id(label.data_point), label.data_point)
        return list(seen.values())

    def remove_labels(self, typename: str) -> None:
        """Remove the layer from the sentence and from every token and span."""
        self._expand_group()  # its layer of this name, if any, must go too
        if self._pending is not None and typename in self._pending:
            self._materialize(None)
        for tok in self.tokens:
            tok._layers.pop(typename, None)
        for span in self._known_spans.values():
            span._layers.pop(typename, None)
        self._layers.pop(typename, None)
        self._sorted_layers.discard(typename)
        if self._layer_order is not None and typename in self._layer_order:
            self._layer_order.remove(typename)

    def _file_label(self, typename: str, label: Label) -> None:
        # a label on the sentence itself (a topic, a task id) leaves its tokens' layers alone, so
        # deferred token layers stay deferred; only the new layer's place in the order is recorded
        if self._pending is not None:
            if typename in self._pending:
                self._materialize(None)
            elif typename not in self._layers:
                self._layer_order.append(typename)  # type: ignore[union-attr]
        self._layers.setdefault(typename, []).append(label)
        self._sorted_layers.discard(typename)

    # -- bulk labelling (readers) ------------------------------------------------------------------
    # A reader that has a whole column in text order files it in one call instead of one ``add_label``
    # a token. Token layers are kept as a tuple of interned strings, and the Label objects (about 200
    # bytes a label with its list) are built the first time anything asks for that layer: read in
    # full, EWT takes 80 MB instead of 292, and training a POS tagger builds only the ``pos`` labels.
    # Everything observable (labels, their order, printing) is what eager ``add_label`` filing gives.
    def add_token_layer(self, typename: str, values: Sequence[str | None]) -> None:
        """Give token i the label ``values[i]`` (score 1.0) in layer ``typename``: one value a token
        (None: no label on that token, as for a morphological feature a word does not have).

        The labels are built when the layer is first used (read, changed or printed); until then the
        layer costs one interned string a token. When the layer already has labels these are filed
        after them, as ``add_label`` would. A ``values`` of the wrong length raises ``ValueError``.
        """
        if len(values) != len(self.tokens):
            raise ValueError(
                f"layer {typename!r}: {len(values)} values for a sentence of {len(self.tokens)} tokens"
            )
        if typename in self._layers or (self._pending is not None and typename in self._pending):
            # the layer already has labels: file these now, after them
            for token, value in zip(self.tokens, values):
                if value is not None:
                    token.add_label(typename, value)
            return
        if not values:
            return
        if self._pending is None:
            self._pending = {}
            self._layer_order = list(self._layers)
        self._pending[typename] = tuple([None if v is None else intern(v) for v in values])
        self._layer_order.append(typename)  # type: ignore[union-attr]

    def add_span_layer(self, typename: str, spans: Iterable[tuple[int, int, str]]) -> None:
        """Label each span ``[start, end)`` of tokens with its value (score 1.0) in layer ``typename``.

        The same labels as ``sentence.get_span(start, end).add_label(typename, value)`` for each, filed
        in one pass (no per-label sorting or layer bookkeeping) when the layer is new and the spans come
        in text order, as a tag decoder gives them. A span outside the sentence raises ``IndexError``
        and files nothing.
        """
        if typename in self._layers or (self._pending is not None and typename in self._pending):
            for start, end, value in spans:  # the layer already has labels: the ordinary path
                self.get_span(start, end).add_label(typename, value)
            return
        known = self._known_spans
        n = len(self.tokens)
        layer: list[Label] = []
        points: list[Span] = []
        in_order = True
        last = (-1, -1)
        for start, end, value in spans:
            key = (start, end)
            span = known.get(key)
            if span is None:
                if not 0 <= start < end <= n:
                    raise IndexError(f"span [{start}:{end}] is outside a sentence of {n} tokens")
                span = known[key] = Span(self, start, end)
            in_order = in_order and key >= last
            last = key
            layer.append(Label(span, value, 1.0, typename))
            points.append(span)
        if not layer:
            return
        for span, label in zip(points, layer):  # filed only once every span is known to be valid
            span._layers.setdefault(typename, []).append(label)
        if self._pending is not None:
            self._layer_order.append(typename)  # type: ignore[union-attr]
        self._layers[typename] = layer
        if in_order:
            self._sorted_layers.add(typename)
        else:
            self._sorted_layers.discard(typename)

    def _materialize(self, typename: str | None) -> None:
        pending = self._pending
        if pending is None:
            return
        if GROUP_KEY in pending and (
            typename is None or typename not in pending and typename not in self._layers
        ):
            self._expand_group()
        names = list(pending) if typename is None else [typename] if typename in pending else []
        for name in names:
            layer = []
            for token, value in zip(self.tokens, pending.pop(name)):
                if value is None:
                    continue
                label = Label(token, value, 1.0, name)
                token._layers[name] = [label]
                layer.append(label)
            self._layers[name] = layer
            self._sorted_layers.add(name)  # filed in text order
        self._settle_pending()

    def _settle_pending(self) -> None:
        """Once every deferred layer is built, put all layers in the order eager filing gives (until
        then labels were only read, so each point's layers are the deferred ones and those filed
        before them)."""
        if self._pending is None or self._pending:
            return
        order = self._layer_order or []
        self._pending = None
        self._layer_order = None
        for point in (self, *self.tokens):
            layers = point._layers
            if len(layers) > 1:
                wanted = [name for name in order if name in layers]
                wanted += [name for name in layers if name not in wanted]
                if list(layers) != wanted:  # in place: callers may hold the dict
                    reordered = [(name, layers.pop(name)) for name in wanted]
                    layers.update(reordered)

    # -- document context ----------------------------------------------------------------------
    def previous_sentence(self) -> Sentence | None:
        return self._previous_sentence

    def next_sentence(self) -> Sentence | None:
        return self._next_sentence

    def is_context_set(self) -> bool:
        return self._previous_sentence is not None or self._next_sentence is not None

    def copy_context_from_sentence(self, sentence: Sentence) -> None:
        self._previous_sentence = sentence._previous_sentence
        self._next_sentence = sentence._next_sentence
        self.document_id = sentence.document_id

    # -- printing -----------------------------------------------------------------------------
    def to_tagged_string(self, main_label: str | None = None) -> str:
        output = self.unlabeled_identifier
        own = (
            self._own_label_string(add_score=True)
            if main_label is None
            else "; ".join(
                f"{lab.value} ({lab.score:.4f})"
                for lab in self.get_labels(main_label)
                if lab.data_point is self
            )
        )
        if own:
            output += ARROW + own
        printed_parts = []
        for label in self.get_labels(main_label):
            point = label.data_point
            if point is self or point is None:
                continue
            printed_parts.append(f'"{point.text}"/{label.value}')
        if printed_parts:
            output += ARROW + "[" + ", ".join(printed_parts) + "]"
        return output

    def __str__(self) -> str:
        return self.to_tagged_string()

    def __repr__(self) -> str:
        return self.to_tagged_string()

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self, tag_type: str | None = None) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal sentence.

        Layout: ``text``, ``tokens`` (with ``start`` offsets and ``ws`` spaces after), sentence
        ``labels``, ``token_labels`` (per layer, a list of ``[token_index, value, score]``) and
        ``spans`` (``start``, ``end`` token indices, ``type``, ``value``, ``score``).
        """
        token_labels: dict[str, list[list[Any]]] = {}
        spans: list[dict[str, Any]] = []
        labels: dict[str, list[dict[str, Any]]] = {}
        layers = [tag_type] if tag_type is not None else list(self.annotation_layers)
        for layer in layers:
            for label in self.get_labels(layer):
                dp = label.data_point
                if dp is self:
                    labels.setdefault(layer, []).append({"value": label.value, "score": label.score})
                elif isinstance(dp, Token):
                    token_labels.setdefault(layer, []).append([dp.idx - 1, label.value, label.score])
                elif isinstance(dp, Span):
                    spans.append(
                        {
                            "start": dp.start,
                            "end": dp.end,
                            "type": layer,
                            "value": label.value,
                            "score": label.score,
                        }
                    )
        out: dict[str, Any] = {
            "text": self.text,
            "tokens": [
                {"text": t.form, "start": t.start_position, "ws": t.whitespace_after} for t in self.tokens
            ],
        }
        if labels:
            out["labels"] = labels
        if token_labels:
            out["token_labels"] = token_labels
        if spans:
            out["spans"] = spans
        if self.document_id is not None:
            out["document_id"] = self.document_id
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sentence:
        """Inverse of :meth:`to_dict`. Without ``tokens``, ``text`` is tokenized."""
        if "tokens" in data:
            toks = data["tokens"]
            sentence = cls.from_tokens(
                [t["text"] if isinstance(t, dict) else str(t) for t in toks],
                [int(t.get("ws", 1)) if isinstance(t, dict) else 1 for t in toks],
            )
            for tok, t in zip(sentence.tokens, toks):
                if isinstance(t, dict) and "start" in t:
                    tok.start_position = int(t["start"])
        else:
            sentence = cls(data["text"])
        for layer, values in data.get("labels", {}).items():
            for v in values:
                sentence.add_label(layer, v["value"], v.get("score", 1.0))
        for layer, entries in data.get("token_labels", {}).items():
            for index, value, score in entries:
                if not 0 <= index < len(sentence.tokens):
                    raise IndexError(
                        f"token label index {index} outside a sentence of {len(sentence)} tokens"
                    )
                sentence.tokens[index].add_label(layer, value, score)
        for sp in data.get("spans", []):
            sentence.get_span(sp["start"], sp["end"]).add_label(sp["type"], sp["value"], sp.get("score", 1.0))
        sentence.document_id = data.get("document_id")
        sentence.metadata = dict(data.get("metadata", {}))
        return sentence


def link_document(sentences: list[Sentence], document_id: str | None) -> None:
    """Make ``sentences`` one document: set its id and chain previous/next neighbours."""
    previous = None
    for sentence in sentences:
        sentence.document_id = document_id
        sentence._previous_sentence = previous
        sentence._next_sentence = None
        if previous is not None:
            previous._next_sentence = sentence
        previous = sentence
