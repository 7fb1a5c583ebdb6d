"""CandidateGenerator: which entities a mention may link to, with a prior for each.

A candidate table maps a mention surface (``"Exxon"``) to entities with a non-negative prior (a link
count, an in-link count, a probability: anything where larger means more likely). It is built from a
mapping, from a TSV file (``mention<TAB>entity[<TAB>count[<TAB>...]]``, e.g. the shared
``aida_nel/candidates.tsv``), or from the gold spans of a training corpus.

Look-up backs off in three levels and stops at the first level that knows the mention:

1. the exact surface;
2. whitespace collapsed and case folded (``"NEW  YORK"`` -> ``"new york"``);
3. additionally with every Unicode punctuation character removed (``"U.S."`` -> ``"us"``,
   ``"Lloyd 's"`` -> ``"lloyd s"``).

At levels 2 and 3 several surfaces can share a key; their lists are merged, an entity listed under
several of them keeping its largest prior (``merge="max"``, right for entity-level counts such as
in-links) or the sum (``merge="sum"``, right for mention-entity co-occurrence counts).

Storage. The generator is a ``torch.nn.Module`` whose buffers hold the whole table, so a model that owns
one saves it in its safetensors file and loads it without pickle: the strings travel as one UTF-8 blob
per kind (NUL separated), the lists as CSR arrays (int64 offsets, int32 entity ids, float32 priors)
sorted best first. Python dictionaries for the look-up are built lazily from the blobs on first use,
which takes well under a second for a million mentions.
"""

from __future__ import annotations

import logging
import os
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polytag.datasets.candidates import (
    count_linked_spans,
    read_candidate_file,
    zelda_candidate_table,
)
from polytag.errors import DatasetNotFoundError, PolytagError
from polytag.evaluation import candidate_recall_at_k
from polytag.formats.textio import atomic_writer

log = logging.getLogger("polytag")

PathLike = str | os.PathLike
LEVELS = ("exact", "casefold", "normalised")
MERGES = ("max", "sum")
_SEPARATOR = "\x00"
_LOOKUP_CACHE = 200_000


class CandidateError(PolytagError, ValueError):
    """A candidate table that cannot be built (bad argument, a string with a NUL character)."""


@lru_cache(maxsize=1)
def _punctuation_table() -> dict[int, None]:
    """``str.translate`` table that deletes every Unicode punctuation character (category P*)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp))[0] == "P"}


def casefold_key(mention: str) -> str:
    """Back-off level 2: whitespace collapsed to single spaces, case folded."""
    return " ".join(mention.split()).casefold()


def normalised_key(mention: str) -> str:
    """Back-off level 3: level 2 without punctuation (whitespace collapsed again afterwards)."""
    return " ".join(mention.translate(_punctuation_table()).split()).casefold()


_BACKOFF_KEYS: dict[int, Callable[[str], str]] = {1: casefold_key, 2: normalised_key}


def _blob(strings: list[str], what: str) -> torch.Tensor:
    """One uint8 tensor holding ``strings`` NUL-separated as UTF-8."""
    text = _SEPARATOR.join(strings)
    if text.count(_SEPARATOR) != max(len(strings) - 1, 0):
        bad = next(s for s in strings if _SEPARATOR in s)
        raise CandidateError(f"{what} {bad!r} contains a NUL character")
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return torch.from_numpy(data.copy())


def _strings(blob: torch.Tensor, count: int) -> list[str]:
    if count == 0:
        return []
    strings = blob.numpy().tobytes().decode("utf-8").split(_SEPARATOR)
    if len(strings) != count:
        raise CandidateError(f"candidate table is damaged: expected {count} strings, found {len(strings)}")
    return strings


def _csr(lists: list[np.ndarray], dtype: Any) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate(lists).astype(dtype) if lists else np.zeros(0, dtype=dtype)
    return torch.from_numpy(offsets), torch.from_numpy(values)


def _normalise_mapping(candidates: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Accept ``{mention: [entity]}``, ``{mention: {entity: prior}}`` or ``{mention: [(entity, prior)]}``.

    Only the shape is handled here; :meth:`CandidateGenerator._build` checks the values in bulk.
    """
    table: dict[str, dict[str, float]] = {}
    for mention, entries in candidates.items():
        if isinstance(entries, Mapping):
            target = {entity: float(prior) for entity, prior in entries.items()}
        elif isinstance(entries, str):
            raise CandidateError(f"the candidates of {mention!r} must be a collection, not {entries!r}")
        else:
            target = {}
            for entry in entries:
                entity, prior = (entry, 1.0) if isinstance(entry, str) else (entry[0], float(entry[1]))
                target[entity] = max(prior, target.get(entity, prior))
        known = table.get(mention)
        if known is not None:
            for entity, prior in target.items():
                known[entity] = max(prior, known.get(entity, prior))
        else:
            table[mention] = target
    return table


class CandidateGenerator(torch.nn.Module):
    """Mention -> candidate entities with priors; backs off to case- and punctuation-free surfaces.

    ``candidates`` is a mapping (``{mention: [entities]}``, ``{mention: {entity: prior}}``), the path of
    a TSV file (or a folder holding ``candidates.tsv``), ``"zelda"`` (ZELDA's lists from the local
    datasets folder: its ``zelda_mention_entities_counter.pickle`` as downloaded, read by a restricted
    reader, or a TSV; see :func:`polytag.datasets.candidates.zelda_candidate_table`), or
    None for an empty table. ``backoff=False`` uses exact surfaces only. ``top_k`` caps every list
    (best priors first) in :meth:`lookup`, :meth:`get_candidates` and the models that use it.
    """

    def __init__(
        self,
        candidates: Mapping[str, Any] | PathLike | None = None,
        backoff: bool = True,
        top_k: int | None = None,
        merge: str = "max",
    ) -> None:
        super().__init__()
        if merge not in MERGES:
            raise CandidateError(f"merge must be one of {MERGES}, got {merge!r}")
        if top_k is not None and int(top_k) < 1:
            raise CandidateError(f"top_k must be a positive integer or None, got {top_k!r}")
        self.backoff = bool(backoff)
        self.top_k = None if top_k is None else int(top_k)
        self.merge = merge
        self.source = "mapping"
        if candidates is None:
            table: dict[str, dict[str, float]] = {}
        elif isinstance(candidates, Mapping):
            table = _normalise_mapping(candidates)
        elif isinstance(candidates, (str, os.PathLike)):
            table = self._table_from_name(candidates)
        else:
            raise CandidateError(
                f"candidates must be a mapping, a TSV path or 'zelda', got {type(candidates).__name__}"
            )
        self._build(table)

    # -- construction ----------------------------------------------------------------------------------
    def _table_from_name(self, name: PathLike) -> dict[str, dict[str, float]]:
        if isinstance(name, str) and name.lower() == "zelda":
            self.source = "zelda"
            return zelda_candidate_table()
        path = Path(name)
        if path.is_dir():
            path = path / "candidates.tsv"
        if not path.is_file():
            raise DatasetNotFoundError(f"candidate file not found: {path}")
        self.source = path.name  # no local paths in model files
        return read_candidate_file(path)

    @classmethod
    def from_corpus(
        cls, data: Any, label_type: str = "nel", include_dev_test: bool = False, **kwargs: Any
    ) -> CandidateGenerator:
        """Candidates counted from gold spans: the prior of (mention, entity) is how often the span text
        was labelled with that entity. ``data`` is a Corpus (its train split, or all splits with
        ``include_dev_test``) or any iterable of sentences. ``merge`` defaults to ``"sum"`` here."""
        if hasattr(data, "train") and hasattr(data, "dev"):
            parts = [data.train] + ([data.dev, data.test] if include_dev_test else [])
            sentences: Iterable[Any] = (s for part in parts if part is not None for s in part)
        else:
            sentences = data
        kwargs.setdefault("merge", "sum")
        generator = cls(None, **kwargs)
        generator.source = "corpus"
        generator._build(count_linked_spans(sentences, label_type))
        return generator

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CandidateGenerator:
        """An empty generator whose buffers have the sizes ``config`` names; ``load_state_dict`` fills it."""
        generator = cls(
            None,
            backoff=config.get("backoff", True),
            top_k=config.get("top_k"),
            merge=config.get("merge", "max"),
        )
        generator.source = config.get("source", "model file")
        generator._allocate(dict(config["sizes"]))
        return generator

    def to_config(self) -> dict[str, Any]:
        """JSON-serialisable settings plus the buffer sizes (the tables themselves are buffers)."""
        return {
            "backoff": self.backoff,
            "top_k": self.top_k,
            "merge": self.merge,
            "source": self.source,
            "sizes": {name: int(buffer.numel()) for name, buffer in self.named_buffers()},
        }

    def _allocate(self, sizes: Mapping[str, int]) -> None:
        dtypes = {"blob": torch.uint8, "offsets": torch.int64, "ids": torch.int32, "priors": torch.float32}
        expected = {
            "entity_blob",
            "mention_blob",
            "mention_offsets",
            "mention_ids",
            "mention_priors",
            *(f"level{level}_{kind}" for level in (1, 2) for kind in ("blob", "offsets", "ids")),
        }
        if set(sizes) != expected or not all(isinstance(n, int) and n >= 0 for n in sizes.values()):
            raise CandidateError(
                f"the candidate table's config has buffer sizes {dict(sizes)}; expected sizes >= 0 for "
                f"{sorted(expected)}"
            )
        for name, size in sizes.items():
            self.register_buffer(name, torch.zeros(size, dtype=dtypes[name.split("_")[-1]]))
        self._reset_caches()
        self._filled = False  # placeholders until load_state_dict brings the real tables

    def _build(self, table: dict[str, dict[str, float]]) -> None:
        """Fill the buffers from ``mention -> {entity: prior}``."""
        mentions = list(table)
        lengths = np.fromiter((len(table[m]) for m in mentions), dtype=np.int64, count=len(mentions))
        total = int(lengths.sum())
        entity_index: dict[str, int] = {}
        add = entity_index.setdefault
        flat_ids = np.fromiter(
            (add(e, len(entity_index)) for m in mentions for e in table[m]), dtype=np.int64, count=total
        )
        flat_priors = np.fromiter(
            (p for m in mentions for p in table[m].values()), dtype=np.float64, count=total
        )
        entities = list(entity_index)
        bad_mention = next((m for m in mentions if not isinstance(m, str) or not m), None)
        bad_entity = next((e for e in entities if not isinstance(e, str) or not e), None)
        if bad_mention is not None or bad_entity is not None or not bool(np.all(flat_priors >= 0.0)):
            raise CandidateError(
                "candidates need non-empty string mentions and entities and priors >= 0 "
                f"(found mention {bad_mention!r}, entity {bad_entity!r})"
            )
        # best first within each mention: prior descending, ties by entity name (one lexsort for all)
        name_rank = np.empty(len(entities), dtype=np.int64)
        name_rank[sorted(range(len(entities)), key=entities.__getitem__)] = np.arange(len(entities))
        owner = np.repeat(np.arange(len(mentions), dtype=np.int64), lengths)
        order = np.lexsort((name_rank[flat_ids], -flat_priors, owner))
        offsets = np.zeros(len(mentions) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.register_buffer("entity_blob", _blob(entities, "entity"))
        self.register_buffer("mention_blob", _blob(mentions, "mention"))
        self.register_buffer("mention_offsets", torch.from_numpy(offsets))
        self.register_buffer("mention_ids", torch.from_numpy(flat_ids[order].astype(np.int32)))
        self.register_buffer("mention_priors", torch.from_numpy(flat_priors[order].astype(np.float32)))
        for level in (1, 2):
            keyed: dict[str, list[int]] = {}
            if self.backoff:
                make_key = _BACKOFF_KEYS[level]
                for number, mention in enumerate(mentions):
                    key = make_key(mention)
                    if key:
                        keyed.setdefault(key, []).append(number)
            keys = list(keyed)
            self.register_buffer(f"level{level}_blob", _blob(keys, "key"))
            key_offsets, key_ids = _csr([np.asarray(keyed[k], dtype=np.int64) for k in keys], np.int32)
            self.register_buffer(f"level{level}_offsets", key_offsets)
            self.register_buffer(f"level{level}_ids", key_ids)
        self._reset_caches()
        self._filled = True

    # -- lazily built look-up structures -----------------------------------------------------------
    def _reset_caches(self) -> None:
        self._entities: list[str] | None = None
        self._entity_index: dict[str, int] | None = None
        self._keys: list[dict[str, int] | None] = [None, None, None]
        self._arrays: dict[str, np.ndarray] | None = None
        self._lookups: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._reset_caches()
        self._filled = True  # the buffers were overwritten: derived dictionaries are stale

    def _array(self, name: str) -> np.ndarray:
        if self._arrays is None:
            self._arrays = {  # float buffers may have been cast (e.g. to bfloat16, which numpy lacks)
                n: (b.detach().cpu().float() if b.is_floating_point() else b.detach().cpu()).numpy()
                for n, b in self.named_buffers()
            }
        return self._arrays[name]

    def _buffer(self, name: str) -> torch.Tensor:
        """The buffer ``name`` (typed: ``getattr`` on a Module is Tensor-or-Module to a type checker)."""
        buffer = self._buffers[name]
        if buffer is None:
            raise CandidateError(f"candidate table is damaged: buffer {name!r} is missing")
        return buffer

    def _count(self, name: str) -> int:
        return max(int(self._buffer(name).numel()) - 1, 0)

    @property
    def entities(self) -> list[str]:
        """Every entity of the table; an entity's position is its id in :meth:`lookup_ids`."""
        if not self._filled:
            return []
        if self._entities is None:
            blob = self._buffer("entity_blob").cpu()
            self._entities = _strings(blob, 0 if blob.numel() == 0 else int((blob == 0).sum()) + 1)
        return self._entities

    def entity_id(self, entity: str) -> int | None:
        if self._entity_index is None:
            self._entity_index = {e: i for i, e in enumerate(self.entities)}
        return self._entity_index.get(entity)

    def _key_index(self, level: int) -> dict[str, int]:
        index = self._keys[level]
        if index is None:
            blob = self._buffer("mention_blob" if level == 0 else f"level{level}_blob")
            offsets = "mention_offsets" if level == 0 else f"level{level}_offsets"
            keys = _strings(blob.cpu(), self._count(offsets))
            index = self._keys[level] = dict(zip(keys, range(len(keys))))
        return index

    @property
    def mentions(self) -> list[str]:
        return list(self._key_index(0)) if self._filled else []

    def __len__(self) -> int:
        return self._count("mention_offsets") if self._filled else 0

    def __contains__(self, mention: object) -> bool:
        return isinstance(mention, str) and len(self.lookup_ids(mention)[0]) > 0

    # -- look-up ---------------------------------------------------------------------------------------
    def _mention_lists(self, numbers: list[int]) -> tuple[np.ndarray, np.ndarray]:
        offsets = self._array("mention_offsets")
        ids, priors = self._array("mention_ids"), self._array("mention_priors")
        if len(numbers) == 1:
            a, b = offsets[numbers[0]], offsets[numbers[0] + 1]
            return ids[a:b].astype(np.int64), priors[a:b]
        all_ids = np.concatenate([ids[offsets[n] : offsets[n + 1]] for n in numbers]).astype(np.int64)
        all_priors = np.concatenate([priors[offsets[n] : offsets[n + 1]] for n in numbers])
        unique, inverse = np.unique(all_ids, return_inverse=True)
        merged = np.zeros(len(unique), dtype=np.float32)
        if self.merge == "sum":
            np.add.at(merged, inverse, all_priors)
        else:
            np.maximum.at(merged, inverse, all_priors)
        entities = self.entities
        order = sorted(range(len(unique)), key=lambda i: (-merged[i], entities[unique[i]]))
        return unique[order], merged[order]

    def lookup_ids(self, mention: str) -> tuple[np.ndarray, np.ndarray, float]:
        """``(entity ids, priors, total prior)`` for ``mention``, best first and cut to ``top_k``.

        ``total`` sums the priors of the whole list before the cut, so ``prior / total`` is the
        entity's share of the mention's prior mass. Empty arrays when no level knows the mention.
        """
        cached = self._lookups.get(mention)
        if cached is not None:
            return cached
        if not self._filled:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0
        numbers: list[int] = []
        exact = self._key_index(0).get(mention)
        if exact is not None:
            numbers = [exact]
        elif self.backoff:
            for level in (1, 2):
                key = _BACKOFF_KEYS[level](mention)
                row = self._key_index(level).get(key) if key else None
                if row is not None:
                    offsets = self._array(f"level{level}_offsets")
                    numbers = self._array(f"level{level}_ids")[offsets[row] : offsets[row + 1]].tolist()
                    break
        if numbers:
            ids, priors = self._mention_lists(numbers)
            total = float(priors.sum())
            if self.top_k is not None:
                ids, priors = ids[: self.top_k], priors[: self.top_k]
        else:
            ids, priors, total = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0
        if len(self._lookups) >= _LOOKUP_CACHE:
            self._lookups.clear()
        result = (ids, priors, total)
        self._lookups[mention] = result
        return result

    def lookup(self, mention: str, top_k: int | None = None) -> list[tuple[str, float]]:
        """``[(entity, prior), ...]`` for ``mention``, best prior first (ties by name)."""
        ids, priors, _ = self.lookup_ids(mention)
        if top_k is not None:
            ids, priors = ids[:top_k], priors[:top_k]
        entities = self.entities
        return [(entities[i], float(p)) for i, p in zip(ids.tolist(), priors.tolist())]

    def get_candidates(self, mention: str) -> set[str]:
        """Flair's method: the candidate entities of ``mention`` as a set (empty when unknown)."""
        entities = self.entities
        return {entities[i] for i in self.lookup_ids(mention)[0].tolist()}

    # -- evaluation ------------------------------------------------------------------------------------
    def recall_at_k(
        self, data: Any, label_type: str = "nel", ks: Iterable[int] = (1, 5, 10, 30)
    ) -> dict[int, float]:
        """Share of gold ``label_type`` spans whose entity is among the first k candidates of their text.

        A thin call of :func:`polytag.evaluation.candidate_recall_at_k` with this table's ranked look-up;
        ``top_k`` applies, so k above it cannot help.
        """
        entities = self.entities
        return candidate_recall_at_k(
            lambda text: [entities[i] for i in self.lookup_ids(text)[0].tolist()], data, label_type, ks
        )

    # -- export ----------------------------------------------------------------------------------------
    def to_tsv(self, path: PathLike) -> None:
        """Write the exact-surface table as ``mention<TAB>entity<TAB>prior`` with a header line."""
        entities = self.entities
        offsets = self._array("mention_offsets")
        ids, priors = self._array("mention_ids"), self._array("mention_priors")
        with atomic_writer(path) as handle:
            handle.write("mention\tentity\tprior\n")
            for number, mention in enumerate(self._key_index(0)):
                for k in range(offsets[number], offsets[number + 1]):
                    handle.write(f"{mention}\t{entities[ids[k]]}\t{float(priors[k]):g}\n")

    def extra_repr(self) -> str:
        return (
            f"mentions={len(self)}, entities={len(self.entities)}, backoff={self.backoff}, "
            f"top_k={self.top_k}, source={self.source!r}"
        )
