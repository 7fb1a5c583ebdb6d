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

from polytag.data.context import DOCSTART, DocumentContext, link_document
from polytag.data.label import ARROW, DataPoint, Label
from polytag.data.layer_groups import GROUP_KEY, LayerGroups
from polytag.data.printing import tagged_string
from polytag.data.tokenizer import Tokenizer, tokenize, whitespace_tokenize

__all__ = ["ARROW", "DOCSTART", "DataPoint", "Label", "Sentence", "Span", "Token", "link_document"]


class _PartOfSentence(DataPoint):
    """A token or span: its labels are mirrored into the owning sentence's layers.

    ``_extra`` holds the rarely used parts (stored vectors, metadata) in one slot, None until used:
    a corpus of a million tokens pays one pointer a token for them.
    """

    __slots__ = ("_extra",)

    _extra: dict[str, dict[str, Any]] | None

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

    def _extra_part(self, part: str, create: bool) -> dict[str, Any] | None:
        extra = self._extra
        if extra is None:
            if not create:
                return None
            extra = self._extra = {}
        found: dict[str, Any] | None = extra.get(part)
        if found is None and create:
            found = extra[part] = {}
        return found

    def _vectors(self, create: bool) -> dict[str, Any] | None:
        return self._extra_part("embeddings", create)

    def _metadata_store(self, create: bool) -> dict[str, Any] | None:
        return self._extra_part("metadata", create)

    def to_dict(self, tag_type: str | None = None) -> dict[str, Any]:
        """Flair's shape: ``text``, character ``start_pos`` / ``end_pos`` and ``labels`` (value, score)."""
        start, end = self.text_offsets()
        return {
            "text": self.text,
            "start_pos": start,
            "end_pos": end,
            "labels": [label.to_dict() for label in self.get_labels(tag_type) if label.data_point is self],
        }

    def __str__(self) -> str:
        own = self._own_label_string(add_score=True)
        return self.unlabeled_identifier + (ARROW + own if own else "")

    def __repr__(self) -> str:
        return str(self)


class Token(_PartOfSentence):
    """One word of a sentence with its character offset (``idx`` is 1-based, as in Flair)."""

    __slots__ = ("form", "idx", "start_position", "whitespace_after", "sentence", "tags_proba_dist")

    def __init__(
        self,
        text: str,
        start_position: int = 0,
        whitespace_after: int = 1,
        sentence: Sentence | None = None,
        idx: int = 0,
    ) -> None:
        self._layers = {}
        self._extra = None
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

    def add_tags_proba_dist(self, tag_type: str, tags: list[Label]) -> None:
        """Keep every class's probability for ``tag_type`` (an all-classes prediction writes it)."""
        if not hasattr(self, "tags_proba_dist"):
            self.tags_proba_dist: dict[str, list[Label]] = {}
        self.tags_proba_dist[tag_type] = tags

    def get_tags_proba_dist(self, tag_type: str) -> list[Label]:
        """One Label per class (dictionary order) from the last all-classes prediction; [] if none."""
        return list(getattr(self, "tags_proba_dist", {}).get(tag_type, []))

    def __len__(self) -> int:
        return len(self.form)


def _span_bounds(tokens: Sequence[Token]) -> tuple[Sentence, int, int]:
    """The sentence and ``[start, end)`` of consecutive tokens of one sentence (for ``Span(tokens)``)."""
    tokens = list(tokens)
    if not tokens or not all(isinstance(t, Token) for t in tokens):
        raise ValueError(f"Span(tokens): expected a non-empty list of Tokens, got {tokens!r}")
    sentence = tokens[0].sentence
    if sentence is None or any(t.sentence is not sentence for t in tokens):
        raise ValueError(f"Span(tokens): the tokens must belong to one sentence, got {tokens!r}")
    start = tokens[0].idx - 1
    if [t.idx - 1 for t in tokens] != list(range(start, start + len(tokens))):
        raise ValueError(f"Span(tokens): the tokens must be consecutive, got {tokens!r}")
    return sentence, start, start + len(tokens)


class Span(_PartOfSentence):
    """Consecutive tokens ``[start, end)`` of one sentence.

    Made by ``sentence[start:end]``, or as in Flair by ``Span(tokens)`` (consecutive tokens of one
    sentence); either way the same tokens give the same Span object, so labels on it are shared.
    """

    __slots__ = ("sentence", "start", "end")

    sentence: Sentence

    def __new__(
        cls, sentence: Sentence | Sequence[Token] | None = None, start: int = 0, end: int = 0
    ) -> Span:
        if sentence is None or isinstance(sentence, Sentence):  # None: unpickling
            return super().__new__(cls)
        owner, first, stop = _span_bounds(sentence)
        return owner.get_span(first, stop)

    def __init__(
        self, sentence: Sentence | Sequence[Token] | None = None, start: int = 0, end: int = 0
    ) -> None:
        if not isinstance(sentence, Sentence):
            return  # Span(tokens): __new__ returned the sentence's span, already set up
        self._layers = {}
        self._extra = None
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


class Sentence(DataPoint, DocumentContext, LayerGroups):
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
        "_embeddings",
    )  # DocumentContext (no slots) adds __dict__, for user attributes (``sentence.my_id = 3``) as in Flair,
    # and __weakref__; tokens stay slotted

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
        self._embeddings: dict[str, Any] | None = None

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
        sentence._embeddings = None
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

    # -- embeddings and metadata ---------------------------------------------------------------
    def _vectors(self, create: bool) -> dict[str, Any] | None:
        if self._embeddings is None and create:
            self._embeddings = {}
        return self._embeddings

    def _metadata_store(self, create: bool) -> dict[str, Any] | None:
        return self.metadata

    def clear_embeddings(self, embedding_names: list[str] | None = None) -> None:
        """Forget the sentence's vectors and those of its tokens and spans (only the names given)."""
        super().clear_embeddings(embedding_names)
        for part in (*self.tokens, *self._known_spans.values()):
            part.clear_embeddings(embedding_names)

    def to(self, device: Any, pin_memory: bool = False) -> None:
        """Move the sentence's and its tokens' vectors to ``device``."""
        super().to(device, pin_memory)
        for token in self.tokens:
            token.to(device, pin_memory)

    # -- printing -----------------------------------------------------------------------------
    def to_tagged_string(self, main_label: str | None = None) -> str:
        """The sentence with its labels as Flair prints it (``main_label``: one layer only)."""
        return tagged_string(self, main_label)

    def __str__(self) -> str:
        return self.to_tagged_string()

    def __repr__(self) -> str:
        return self.to_tagged_string()

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self, tag_type: str | None = None, lossless: bool = False) -> dict[str, Any]:
        """Flair's dict: ``text``, sentence ``labels``, ``entities`` (labelled spans), ``relations`` and
        ``tokens`` (each ``text``, ``start_pos``, ``end_pos``, ``labels``); only ``tag_type`` when given.

        Flair's labels carry no layer name, so ``lossless=True`` gives polytag's form instead, the one
        :meth:`from_dict` reads back into an equal sentence (see :mod:`polytag.data.sentence_dict`).
        """
        if lossless:
            from polytag.data.sentence_dict import lossless_dict

            return lossless_dict(self, tag_type)
        return {
            "text": self.to_original_text(),
            "labels": [label.to_dict() for label in self.get_labels(tag_type) if label.data_point is self],
            "entities": [span.to_dict(tag_type) for span in self.get_spans(tag_type)],
            "relations": [],
            "tokens": [token.to_dict(tag_type) for token in self.tokens],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sentence:
        """Inverse of ``to_dict(lossless=True)``. Without ``tokens``, ``text`` is tokenized."""
        from polytag.data.sentence_dict import sentence_from_dict

        return sentence_from_dict(cls, data)
