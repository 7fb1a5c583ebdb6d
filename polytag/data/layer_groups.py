"""Deferred token layers whose names are only known once they are built, for :class:`Sentence`.

A CoNLL-U FEATS column gives one token layer per morphological feature (Flair's ``number``, ``tense``
...). Splitting it for every sentence while reading would cost time and memory that most uses never
need (a POS tagger reads ``pos`` only), so a reader hands over a builder instead: it runs the first
time a layer is asked for that is not filed yet, and its layers then behave like any deferred layer
of :meth:`Sentence.add_token_layer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from sys import intern
from typing import Any

GROUP_KEY = "\x00group"
"""The key of the builder in a sentence's deferred layers (no layer name starts with a NUL)."""


class LayerGroups:
    """The builder half of a sentence's deferred layers (mixed into :class:`Sentence`)."""

    __slots__ = ()

    _pending: dict[str, Any] | None
    _layer_order: list[str] | None
    _layers: dict[str, Any]
    tokens: list[Any]

    def _settle_pending(self) -> None:  # pragma: no cover - Sentence's own
        raise NotImplementedError

    def add_token_layer_group(self, build: Callable[[], Mapping[str, Sequence[str | None]]]) -> None:
        """Token layers built by ``build()`` (``name -> values`` as :meth:`Sentence.add_token_layer`
        takes them) when first needed. A name that has labels by then, or values of the wrong length,
        is skipped: layers filed in the meantime win."""
        if self._pending is None:  # (the slots are Sentence's, which mypy cannot see here)
            self._pending = {}  # type: ignore[misc]
            self._layer_order = list(self._layers)  # type: ignore[misc]
        if GROUP_KEY in self._pending:
            self._expand_group()
        self._pending[GROUP_KEY] = build
        self._layer_order.append(GROUP_KEY)  # type: ignore[union-attr]

    def _expand_group(self) -> None:
        """Run the builder; its layers take its place in the layer order, still deferred."""
        pending = self._pending
        if pending is None or GROUP_KEY not in pending:
            return
        built = pending.pop(GROUP_KEY)()
        names = []
        for name, values in built.items():
            if name not in pending and name not in self._layers and len(values) == len(self.tokens):
                pending[name] = tuple([None if v is None else intern(v) for v in values])
                names.append(name)
        order = self._layer_order or []
        at = order.index(GROUP_KEY)
        order[at : at + 1] = names
        self._settle_pending()
