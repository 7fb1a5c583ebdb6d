"""Labels and the label bookkeeping shared by tokens, spans and sentences.

A :class:`Label` is a value with a score on one data point; :class:`DataPoint` keeps a data point's
labels by layer. Kept apart from :mod:`polytag.data.sentence`, which builds the text structure on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported only where vectors are handled: reading a corpus does not need it
    import torch

ARROW = " → "


class _EmptyMetadata(Mapping[str, Any]):
    """The read-only empty metadata shared by the many labels without any.

    A module-level singleton that pickles and copies as itself (a ``MappingProxyType`` cannot be
    pickled, which made labelled sentences impossible to ``deepcopy`` or send to a worker process).
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __reduce__(self) -> str:
        return "_NO_METADATA"

    def __copy__(self) -> _EmptyMetadata:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _EmptyMetadata:
        return self

    def __repr__(self) -> str:
        return "{}"


_NO_METADATA: Mapping[str, Any] = _EmptyMetadata()


def score_text(score: float) -> str:
    """A score as Flair's documentation prints it: ``round(score, 4)``, so ``1.0`` and ``0.9989``.

    Flair 0.15.1's code prints a Label so, but four decimals after a token or sentence; its tutorials show
    ``(1.0)`` everywhere, and a ported script is compared with those, so polytag prints one way.
    """
    return str(round(score, 4))


class Label:
    """A value with a confidence, attached to one data point (token, span or sentence)."""

    __slots__ = ("data_point", "typename", "value", "score", "metadata")

    def __init__(
        self,
        data_point: DataPoint | None,
        value: str,
        score: float = 1.0,
        typename: str = "",
        **metadata: Any,
    ) -> None:
        self.data_point = data_point
        self.typename = typename
        self.value = value
        self.score = score
        self.metadata = metadata or _NO_METADATA

    def set_value(self, value: str, score: float = 1.0) -> None:
        self.value = value
        self.score = score

    @property
    def shortstring(self) -> str:
        return f'"{self.data_point.text}"/{self.value}' if self.data_point is not None else self.value

    @property
    def unlabeled_identifier(self) -> str:
        return self.data_point.unlabeled_identifier if self.data_point is not None else ""

    @property
    def labeled_identifier(self) -> str:
        return f"{self.unlabeled_identifier}/{self.value}"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": self.score}

    @property
    def metadata_str(self) -> str:
        """``/key=value`` for each metadata entry (empty without metadata), as Flair prints it."""
        if not self.metadata:
            return ""
        return "/" + "/".join(f"{key}={value}" for key, value in self.metadata.items())

    def __str__(self) -> str:
        return f"{self.unlabeled_identifier}{ARROW}{self.value}{self.metadata_str} ({score_text(self.score)})"

    def __repr__(self) -> str:
        return f"'{self.unlabeled_identifier}'/'{self.value}'{self.metadata_str} ({score_text(self.score)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Label):
            return NotImplemented
        return (
            self.value == other.value
            and self.score == other.score
            and self.unlabeled_identifier == other.unlabeled_identifier
        )

    def __hash__(self) -> int:
        return hash((self.value, self.unlabeled_identifier))

    def _sort_key(self) -> tuple[int, int]:
        """Text order: labels on tokens and spans by their character offsets, the others first."""
        dp = self.data_point
        return (-1, -1) if dp is None else dp.text_offsets()


class DataPoint:
    """Anything that carries labels: the shared label bookkeeping of tokens, spans, sentences."""

    __slots__ = ("_layers",)

    def __init__(self) -> None:
        self._layers: dict[str, list[Label]] = {}

    @property
    def annotation_layers(self) -> dict[str, list[Label]]:
        """Every label layer of this data point: ``typename`` -> labels."""
        self._materialize(None)
        return self._layers

    def text_offsets(self) -> tuple[int, int]:
        """Where this data point lies in its sentence's text, for sorting labels; ``(-1, -1)`` when it
        is not a part of a text (a sentence's own labels sort first)."""
        return (-1, -1)

    def _materialize(self, typename: str | None) -> None:
        """Build labels a reader stored as plain values (``typename``, or all when None); see
        :meth:`Sentence.add_token_layer`. Nothing is deferred on a data point by default."""

    # -- labels -----------------------------------------------------------------------------
    def add_label(self, typename: str, value: str, score: float = 1.0, **metadata: Any) -> DataPoint:
        """Add a label of layer ``typename``; existing labels of that layer are kept."""
        label = Label(self, value, score, typename, **metadata)
        self._file_label(typename, label)
        return self

    def set_label(self, typename: str, value: str, score: float = 1.0, **metadata: Any) -> DataPoint:
        """Replace all labels of layer ``typename`` on this data point by one label."""
        self.remove_labels(typename)
        return self.add_label(typename, value, score, **metadata)

    # Changing labels first builds every deferred layer: the order of the layers (``labels``, ``tag``)
    # then stays exactly what eager filing gives. Reading builds only the layer that is read.
    def _file_label(self, typename: str, label: Label) -> None:
        self._materialize(None)
        self._layers.setdefault(typename, []).append(label)

    def remove_labels(self, typename: str) -> None:
        self._materialize(None)
        self._layers.pop(typename, None)

    def get_labels(self, typename: str | None = None) -> list[Label]:
        """This data point's labels of ``typename`` (all layers when None), in text order."""
        if typename is None:
            return self.labels
        self._materialize(typename)
        return list(self._layers.get(typename, ()))

    def get_label(self, typename: str | None = None, zero_tag_value: str = "O") -> Label:
        labels = self.get_labels(typename)
        return labels[0] if labels else Label(self, zero_tag_value, typename=typename or "")

    def has_label(self, typename: str) -> bool:
        self._materialize(typename)
        return bool(self._layers.get(typename))

    @property
    def labels(self) -> list[Label]:
        return [label for layer in self.annotation_layers.values() for label in layer]

    @property
    def tag(self) -> str:
        return self.labels[0].value if self.annotation_layers else ""

    @property
    def score(self) -> float:
        return self.labels[0].score if self.annotation_layers else 0.0

    def _own_label_string(self, add_score: bool) -> str:
        values = []
        for label in self.labels:
            if label.data_point is not self:
                continue
            values.append(f"{label.value} ({score_text(label.score)})" if add_score else label.value)
        return "; ".join(values)

    # -- embeddings: named vectors, set only by an explicit ``embed`` call (never by training) ---
    def _vectors(self, create: bool) -> dict[str, torch.Tensor] | None:
        """This point's named vectors; None when it has none and ``create`` is False."""
        raise NotImplementedError

    def set_embedding(self, name: str, vector: torch.Tensor) -> None:
        """Keep ``vector`` under ``name`` (an embedding's name); replaces a vector of that name."""
        store = self._vectors(True)
        assert store is not None
        store[name] = vector

    def get_each_embedding(self, embedding_names: list[str] | None = None) -> list[torch.Tensor]:
        """The stored vectors, ordered by name (only ``embedding_names`` when given), as Flair orders them."""
        store = self._vectors(False) or {}
        return [store[name] for name in sorted(store) if not embedding_names or name in embedding_names]

    def get_embedding(self, names: list[str] | None = None) -> torch.Tensor:
        """The stored vectors concatenated in name order; an empty tensor when nothing is stored."""
        import torch

        parts = self.get_each_embedding(names)
        if not parts:
            return torch.tensor([])
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

    @property
    def embedding(self) -> torch.Tensor:
        """All stored vectors as one 1-D tensor (empty when not embedded), as in Flair."""
        return self.get_embedding()

    def clear_embeddings(self, embedding_names: list[str] | None = None) -> None:
        """Forget the stored vectors (only ``embedding_names`` when given)."""
        store = self._vectors(False)
        if not store:
            return
        if embedding_names is None:
            store.clear()
        else:
            for name in embedding_names:
                store.pop(name, None)

    def to(self, device: str | torch.device, pin_memory: bool = False) -> None:
        """Move the stored vectors to ``device`` (pinned when asked)."""
        store = self._vectors(False)
        for name, vector in (store or {}).items():
            moved = vector.to(device, non_blocking=pin_memory)
            store[name] = moved.pin_memory() if pin_memory and moved.device.type == "cpu" else moved  # type: ignore[index]

    # -- metadata: free-form values a user keeps on a data point ------------------------------
    def _metadata_store(self, create: bool) -> dict[str, Any] | None:
        raise NotImplementedError

    def add_metadata(self, key: str, value: Any) -> None:
        store = self._metadata_store(True)
        assert store is not None
        store[key] = value

    def get_metadata(self, key: str) -> Any:
        """The value stored under ``key``; ``KeyError`` naming the data point when there is none."""
        store = self._metadata_store(False)
        if not store or key not in store:
            raise KeyError(f"{self.unlabeled_identifier} has no metadata {key!r}")
        return store[key]

    def has_metadata(self, key: str) -> bool:
        store = self._metadata_store(False)
        return bool(store) and key in store  # type: ignore[operator]

    # -- identity (subclasses define text and unlabeled_identifier) --------------------------
    @property
    def text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def unlabeled_identifier(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError
