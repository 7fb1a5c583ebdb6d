"""Document context: a sentence's neighbours in its document and the tokens around it.

Sentences of one document are chained (``previous_sentence()`` / ``next_sentence()``); document context
(FLERT) in the embeddings and Flair's ``left_context`` / ``right_context`` follow the chain, stopping at
a ``-DOCSTART-`` line or a neighbour of another document when ``respect_document_boundaries`` is set.
Kept apart from :mod:`polytag.data.sentence` as a mixin of :class:`~polytag.data.Sentence`.

Copies and pickles keep the chain without recursing along it: a sentence's pickled state names its
document (a :class:`DocumentLinks`, one per chain) instead of its neighbours, and the document restores
the links once every sentence exists. Pickling a sentence of a 10,000-sentence document therefore needs
no deeper recursion than a single sentence (the chain is pickled with it, as in Flair).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only in annotations: typing.Self is Python 3.11+, polytag runs on 3.10
    from typing import Self

    from polytag.data.sentence import Token

__all__ = ["DOCSTART", "DocumentContext", "DocumentLinks", "link_document"]

DOCSTART = "-DOCSTART-"  # the line that starts a document in CoNLL-style files


class DocumentLinks:
    """The chain of one document, as pickled: its sentences in order, relinked when it is unpickled.

    One object a chain (found from the chain's first sentence), so every sentence of the document that is
    pickled or deep-copied in one go names the same object and the chain is written once.
    """

    def __init__(self, first: Any = None) -> None:
        self._first = None if first is None else weakref.ref(first)

    def __reduce_ex__(self, protocol: object) -> tuple[Any, ...]:
        first = None if self._first is None else self._first()
        chain = [] if first is None else list(_walk(first, forward=True))
        return (DocumentLinks, (), chain)

    def __setstate__(self, chain: list[Any]) -> None:
        self._first = weakref.ref(chain[0]) if chain else None
        previous = None
        for sentence in chain:
            sentence._previous_sentence = previous
            sentence._next_sentence = None
            if previous is not None:
                previous._next_sentence = sentence
            previous = sentence


_DOCUMENTS: weakref.WeakKeyDictionary[Any, DocumentLinks] = weakref.WeakKeyDictionary()
_LINKS = ("_previous_sentence", "_next_sentence")


def _walk(sentence: Any, forward: bool) -> Iterator[Any]:
    """``sentence`` and its neighbours in one direction (each once, even in a broken, cyclic chain)."""
    seen: set[int] = set()
    while sentence is not None and id(sentence) not in seen:
        seen.add(id(sentence))
        yield sentence
        sentence = sentence._next_sentence if forward else sentence._previous_sentence


class DocumentContext:
    """The neighbour links of a sentence and what is read through them (mixed into ``Sentence``).

    It declares no ``__slots__`` on purpose: it gives sentences a ``__dict__`` for user attributes.
    """

    # -- copies and pickles: the links go through the document's DocumentLinks (module docstring) -------
    def __getstate__(self) -> tuple[dict[str, Any], dict[str, Any]]:
        slots: dict[str, Any] = {}
        for cls in type(self).__mro__:
            for name in cls.__dict__.get("__slots__", ()):
                if name not in _LINKS and name not in ("__dict__", "__weakref__") and hasattr(self, name):
                    slots[name] = getattr(self, name)
        if self._previous_sentence is not None or self._next_sentence is not None:
            *_, first = _walk(self, forward=False)
            document = _DOCUMENTS.get(first)
            if document is None:
                document = _DOCUMENTS[first] = DocumentLinks(first)
            slots["_document"] = document
        return dict(self.__dict__), slots

    def __setstate__(self, state: tuple[dict[str, Any] | None, dict[str, Any]]) -> None:
        attributes, slots = state
        self.__dict__.update(attributes or {})
        for name, value in slots.items():
            if name != "_document":
                object.__setattr__(self, name, value)
        for name in _LINKS:  # the document may have linked this sentence already
            if not hasattr(self, name):
                object.__setattr__(self, name, None)

    tokens: list[Token]
    document_id: str | None
    _previous_sentence: Self | None
    _next_sentence: Self | None
    __dict__: dict[str, Any]

    # -- document context ----------------------------------------------------------------------
    def previous_sentence(self) -> Self | None:
        return self._previous_sentence

    def next_sentence(self) -> Self | None:
        return self._next_sentence

    def is_context_set(self) -> bool:
        return self._previous_sentence is not None or self._next_sentence is not None

    def copy_context_from_sentence(self, sentence: Self) -> None:
        self._previous_sentence = sentence._previous_sentence
        self._next_sentence = sentence._next_sentence
        self.document_id = sentence.document_id

    @property
    def is_document_boundary(self) -> bool:
        """True for a ``-DOCSTART-`` line (or when set): document context does not cross it."""
        flag = self.__dict__.get("_document_boundary")
        if flag is not None:
            return bool(flag)
        return len(self.tokens) == 1 and self.tokens[0].form == DOCSTART

    @is_document_boundary.setter
    def is_document_boundary(self, value: bool) -> None:
        self.__dict__["_document_boundary"] = bool(value)

    def _context_sentences(self, forward: bool, respect_document_boundaries: bool) -> Iterator[Self]:
        """The neighbours on one side, nearest first, up to a boundary (each once, even in a cycle)."""
        seen = {id(self)}
        current = self.next_sentence() if forward else self.previous_sentence()
        while current is not None and id(current) not in seen:
            if respect_document_boundaries and (
                current.is_document_boundary or current.document_id != self.document_id
            ):
                return
            seen.add(id(current))
            yield current
            current = current.next_sentence() if forward else current.previous_sentence()

    def left_context(self, context_length: int, respect_document_boundaries: bool = True) -> list[Token]:
        """Up to ``context_length`` tokens of the sentences before this one, in text order (Flair's)."""
        context: list[Token] = []
        for neighbour in self._context_sentences(False, respect_document_boundaries):
            if len(context) >= context_length:
                break
            context = neighbour.tokens + context
        return context[-context_length:] if context_length > 0 else []

    def right_context(self, context_length: int, respect_document_boundaries: bool = True) -> list[Token]:
        """Up to ``context_length`` tokens of the sentences after this one, in text order (Flair's)."""
        context: list[Token] = []
        for neighbour in self._context_sentences(True, respect_document_boundaries):
            if len(context) >= context_length:
                break
            context = context + neighbour.tokens
        return context[:context_length] if context_length > 0 else []


def document_sentences(sentence: Any) -> list[Any]:
    """Every sentence of ``sentence``'s linked chain, first to last, each once (a broken, cyclic chain
    included); ``[sentence]`` when it has no neighbours."""
    *_, first = _walk(sentence, forward=False)
    return list(_walk(first, forward=True))


def link_document(sentences: list[Any], document_id: str | None) -> None:
    """Make ``sentences`` one document: set its id and chain previous/next neighbours."""
    previous = None
    for sentence in sentences:
        sentence.document_id = document_id
        sentence._previous_sentence = previous
        sentence._next_sentence = None
        if previous is not None:
            previous._next_sentence = sentence
        previous = sentence
