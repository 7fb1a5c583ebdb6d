"""Datasets of sentences and the train/dev/test corpus that holds them."""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from polytag.data.dictionary import Dictionary
from polytag.data.sentence import Sentence, Span
from polytag.errors import PolytagError

log = logging.getLogger("polytag")

DEFAULT_SEED = 42


class CorpusError(PolytagError, ValueError):
    """A corpus that cannot be trained on as asked (an empty train split, no label of the asked type);
    the message names the corpus file (or the corpus, when its split was not read from a file)."""


def split_source(data: Any) -> str | None:
    """The file(s) a split was read from, when the dataset knows (``path`` or ``source``), else None."""
    if data is None:
        return None
    for attribute in ("source", "path"):
        value = getattr(data, attribute, None)
        if isinstance(value, (str, os.PathLike)):
            return str(value)
    parts = getattr(data, "datasets", None)  # ConcatDataset
    if parts is None:
        inner = getattr(data, "dataset", None)  # SubsetDataset, LabelledView
        parts = [] if inner is None else [inner]
    found = [name for name in (split_source(part) for part in parts) if name]
    return ", ".join(dict.fromkeys(found)) or None


class SentenceDataset:
    """A list of sentences with the ``__len__``/``__getitem__`` protocol torch's loaders use.

    Flair's name for it, :class:`FlairDatapointDataset`, is the same class. ``source`` is the file the
    sentences were read from, for error messages (see :func:`split_source`).
    """

    def __init__(
        self, datapoints: Sentence | Iterable[Sentence], source: str | os.PathLike | None = None
    ) -> None:
        if isinstance(datapoints, Sentence):
            datapoints = [datapoints]
        self.sentences: list[Sentence] = list(datapoints)
        self.source = None if source is None else str(source)

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int) -> Sentence:
        return self.sentences[index]

    def __iter__(self) -> Iterator[Sentence]:
        return iter(self.sentences)

    def is_in_memory(self) -> bool:
        return True


FlairDatapointDataset = SentenceDataset


class SubsetDataset:
    """A view of some indices of another dataset (no copies of sentences)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Sentence:
        return self.dataset[self.indices[index]]

    def __iter__(self) -> Iterator[Sentence]:
        return (self.dataset[i] for i in self.indices)


def _ensure_label(sentence: Sentence, typename: str, value: str) -> Sentence:
    """Add the sentence label ``typename=value`` unless the sentence has it already."""
    if not any(label.value == value for label in sentence.get_labels(typename)):
        sentence.add_label(typename, value)
    return sentence


class LabelledView:
    """Another dataset whose sentences get a sentence label when they are read (if they lack it).

    What :class:`MultiCorpus` puts over data read from disk on every access (``in_memory=False``):
    labels added to such sentences once would be lost with them, so the task id is added on access.
    """

    def __init__(self, dataset: Any, typename: str, value: str) -> None:
        self.dataset = dataset
        self.typename = typename
        self.value = value

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sentence:
        return _ensure_label(self.dataset[index], self.typename, self.value)

    def __iter__(self) -> Iterator[Sentence]:
        return (_ensure_label(sentence, self.typename, self.value) for sentence in self.dataset)

    def is_in_memory(self) -> bool:
        return False

    def token_counts(self) -> Any:
        """Words per sentence from the dataset's index, when it has one (see ``formats.streaming``)."""
        counts = getattr(self.dataset, "token_counts", None)
        return counts() if callable(counts) else None


def reads_from_disk(data: Any) -> bool:
    """True when a dataset (or a part of it) reads its sentences from disk on each access: it says so
    with ``is_in_memory() == False`` (``formats.streaming``'s indexed files, ``in_memory=False`` datasets)."""
    if isinstance(data, SubsetDataset):
        return reads_from_disk(data.dataset)
    if isinstance(data, ConcatDataset):
        return any(reads_from_disk(d) for d in data.datasets)
    in_memory = getattr(data, "is_in_memory", None)
    return callable(in_memory) and not in_memory()


class ConcatDataset:
    """Several datasets read as one, in order."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = [d for d in datasets if d is not None]
        self._offsets = []
        total = 0
        for d in self.datasets:
            self._offsets.append(total)
            total += len(d)
        self._len = total

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> Sentence:
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(index)
        lo, hi = 0, len(self._offsets) - 1
        while lo < hi:  # last offset <= index
            mid = (lo + hi + 1) // 2
            if self._offsets[mid] <= index:
                lo = mid
            else:
                hi = mid - 1
        return self.datasets[lo][index - self._offsets[lo]]

    def __iter__(self) -> Iterator[Sentence]:
        for d in self.datasets:
            yield from iter(d)


def split_statistics(data: Any, name: str, label_type: str | None) -> dict[str, Any]:
    """Flair's statistics of one split (``{}`` when it is missing or empty): ``dataset``,
    ``total_number_of_documents``, ``number_of_documents_per_class`` (every label value on a sentence,
    its tokens and spans), ``number_of_tokens_per_tag`` (tokens' ``label_type`` values) and
    ``number_of_tokens`` (total, min, max, avg per sentence)."""
    if data is None or len(data) == 0:
        return {}
    classes: Counter = Counter()
    tags: Counter = Counter()
    lengths = []
    for sentence in data:
        lengths.append(len(sentence))
        classes.update(label.value for label in sentence.labels)
        if label_type is not None:
            for token in sentence.tokens:
                if token.has_label(label_type):
                    tags[token.get_label(label_type).value] += 1
    return {
        "dataset": name,
        "total_number_of_documents": len(lengths),
        "number_of_documents_per_class": dict(classes),
        "number_of_tokens_per_tag": dict(tags),
        "number_of_tokens": {
            "total": sum(lengths),
            "min": min(lengths),
            "max": max(lengths),
            "avg": sum(lengths) / len(lengths),
        },
    }


def _sample_indices(n: int, fraction: float, rng: random.Random) -> list[int]:
    k = round(n * fraction)
    return sorted(rng.sample(range(n), k))


class Corpus:
    """Train, dev and test splits. A missing dev (and test) split is sampled from train."""

    def __init__(
        self,
        train: Any = None,
        dev: Any = None,
        test: Any = None,
        name: str = "corpus",
        sample_missing_splits: bool | str = True,
        random_seed: int | None = None,
    ) -> None:
        self.name = name
        seed = DEFAULT_SEED if random_seed is None else random_seed
        if isinstance(train, list):
            train = SentenceDataset(train)
        if isinstance(dev, list):
            dev = SentenceDataset(dev)
        if isinstance(test, list):
            test = SentenceDataset(test)
        rng = random.Random(seed)
        if train is not None and test is None and sample_missing_splits in (True, "only_test"):
            picked = set(_sample_indices(len(train), 0.1, rng))
            test = SubsetDataset(train, sorted(picked))
            train = SubsetDataset(train, [i for i in range(len(train)) if i not in picked])
            log.info(
                "Corpus %s has no test split: sampled %d train sentences (10%%, seed %d) as test",
                name,
                len(test),
                seed,
            )
        if train is not None and dev is None and sample_missing_splits in (True, "only_dev"):
            picked = set(_sample_indices(len(train), 0.1, rng))
            dev = SubsetDataset(train, sorted(picked))
            train = SubsetDataset(train, [i for i in range(len(train)) if i not in picked])
            log.info(
                "Corpus %s has no dev split: sampled %d train sentences (10%%, seed %d) as dev",
                name,
                len(dev),
                seed,
            )
        self._train = train
        self._dev = dev
        self._test = test

    @property
    def train(self) -> Any:
        return self._train

    @property
    def dev(self) -> Any:
        return self._dev

    @property
    def test(self) -> Any:
        return self._test

    def downsample(
        self,
        percentage: float = 0.1,
        downsample_train: bool = True,
        downsample_dev: bool = True,
        downsample_test: bool = True,
        random_seed: int | None = None,
    ) -> Corpus:
        """Keep ``percentage`` of each split (seeded, original order kept). Returns ``self``."""
        if not 0.0 < percentage <= 1.0:
            raise ValueError(f"downsample percentage must be in (0, 1], got {percentage}")
        rng = random.Random(DEFAULT_SEED if random_seed is None else random_seed)
        if downsample_train and self._train is not None:
            self._train = SubsetDataset(self._train, _sample_indices(len(self._train), percentage, rng))
        if downsample_dev and self._dev is not None:
            self._dev = SubsetDataset(self._dev, _sample_indices(len(self._dev), percentage, rng))
        if downsample_test and self._test is not None:
            self._test = SubsetDataset(self._test, _sample_indices(len(self._test), percentage, rng))
        return self

    def filter_empty_sentences(self) -> Corpus:
        """Drop sentences without tokens from every split (logged with their count)."""
        for split in ("_train", "_dev", "_test"):
            data = getattr(self, split)
            if data is None:
                continue
            keep = [i for i, s in enumerate(data) if len(s) > 0]
            if len(keep) < len(data):
                log.info("removed %d empty sentences from %s", len(data) - len(keep), split[1:])
                setattr(self, split, SubsetDataset(data, keep))
        return self

    def source(self, split: str = "train") -> str:
        """Where a split came from, for messages: its file(s), or the corpus's name."""
        return split_source(getattr(self, f"_{split}", None)) or f"corpus '{self.name}' ({split} split)"

    def require_train(self) -> None:
        """Raise :class:`CorpusError` (naming the train file) unless the train split has sentences."""
        if self._train is None or len(self._train) == 0:
            where = self.source("train")
            raise CorpusError(f"{where}: the train split has no sentences; expected at least one")

    def get_all_sentences(self) -> ConcatDataset:
        return ConcatDataset([self._train, self._dev, self._test])

    def _label_counts(self, label_type: str, datasets: Iterable[Any]) -> tuple[Counter, bool, bool]:
        counts: Counter = Counter()
        multi_label = False
        span_labels = False
        for data in datasets:
            if data is None:
                continue
            for sentence in data:
                labels = sentence.get_labels(label_type)
                own = 0
                for label in labels:
                    counts[label.value] += 1
                    dp = label.data_point
                    if dp is sentence:
                        own += 1
                    elif isinstance(dp, Span):
                        span_labels = True
                if own > 1:
                    multi_label = True
        return counts, multi_label, span_labels

    def make_label_dictionary(
        self, label_type: str, min_count: int = -1, add_unk: bool = False, add_dev_test: bool = False
    ) -> Dictionary:
        """Dictionary of the values of ``label_type`` in train (and dev/test when asked).

        ``<unk>`` is added exactly when ``add_unk`` is True; values seen fewer than ``min_count``
        times are left out (they then map to ``<unk>`` if it exists).
        """
        self.require_train()
        splits = [self._train] + ([self._dev, self._test] if add_dev_test else [])
        counts, multi_label, span_labels = self._label_counts(label_type, splits)
        if not counts:
            raise CorpusError(
                f"{self.source('train')}: no label of type '{label_type}' in the "
                f"{'train, dev and test splits' if add_dev_test else 'train split'}; expected at least one "
                f"sentence labelled '{label_type}' (label types present: {sorted(self.label_types())})"
            )
        dictionary = Dictionary(add_unk=add_unk)
        for value, count in counts.most_common():
            if min_count <= 0 or count >= min_count:
                dictionary.add_item(value)
        dictionary.multi_label = multi_label
        dictionary.span_labels = span_labels
        log.info(
            "Dictionary for label '%s': %d values (%s%s)",
            label_type,
            len(dictionary),
            ", ".join(dictionary.idx2item[:20]),
            ", ..." if len(dictionary) > 20 else "",
        )
        return dictionary

    def label_types(self, sample: int = 200) -> set[str]:
        """Label types present in the first ``sample`` train sentences."""
        types: set[str] = set()
        if self._train is None:
            return types
        for i in range(min(sample, len(self._train))):
            types.update(self._train[i].annotation_layers)
        return types

    def make_vocab_dictionary(self, max_tokens: int = -1, min_freq: int = 1) -> Dictionary:
        """Dictionary (with ``<unk>``) of the train split's token texts, most frequent first (Flair's).

        ``max_tokens`` caps the number of words and ``min_freq`` drops rarer ones; ``-1`` means no limit.
        """
        self.require_train()
        counts = Counter(token.form for sentence in self._train for token in sentence.tokens)
        dictionary = Dictionary(add_unk=True)
        added = 0
        for word, freq in counts.most_common():
            if (min_freq != -1 and freq < min_freq) or (max_tokens != -1 and added >= max_tokens):
                break
            dictionary.add_item(word)
            added += 1
        return dictionary

    def get_label_distribution(self) -> dict[str, int]:
        """How often each label value occurs in the train split (every layer, as Flair counts)."""
        counts: Counter = Counter()
        for sentence in self._train if self._train is not None else ():
            counts.update(label.value for label in sentence.labels)
        return dict(counts)

    def obtain_statistics(
        self, label_type: str | None = None, pretty_print: bool = True
    ) -> dict[str, Any] | str:
        """Per split (``TRAIN``, ``TEST``, ``DEV``): sentence count, label counts, ``label_type`` tags per
        token and tokens per sentence, in Flair's layout; a JSON string unless ``pretty_print=False``."""
        data = {
            "TRAIN": split_statistics(self._train, "TRAIN", label_type),
            "TEST": split_statistics(self._test, "TEST", label_type),
            "DEV": split_statistics(self._dev, "DEV", label_type),
        }
        return json.dumps(data, indent=4) if pretty_print else data

    def make_tag_dictionary(self, tag_type: str) -> Dictionary:
        """Flair's older name; same as ``make_label_dictionary(tag_type, add_unk=False)``."""
        return self.make_label_dictionary(tag_type, add_unk=False)

    def __str__(self) -> str:
        n = [len(d) if d is not None else 0 for d in (self._train, self._dev, self._test)]
        return f"Corpus: {n[0]} train + {n[1]} dev + {n[2]} test sentences"

    __repr__ = __str__


class MultiCorpus(Corpus):
    """Several corpora trained together; with ``task_ids``, each sentence gets a ``multitask_id``.

    Sentences held in memory are labelled here, as Flair does; a split read from disk on access
    (``in_memory=False``) is wrapped in a :class:`LabelledView` that labels each sentence as it is read.
    """

    def __init__(
        self,
        corpora: list[Corpus],
        task_ids: list[str] | None = None,
        name: str = "multicorpus",
        **kwargs: Any,
    ) -> None:
        self.corpora = list(corpora)
        if task_ids is not None and len(task_ids) != len(self.corpora):
            raise ValueError(f"{len(task_ids)} task ids for {len(self.corpora)} corpora")
        ids = list(task_ids) if task_ids is not None else [None] * len(self.corpora)

        def split(name: str) -> ConcatDataset:
            parts = []
            for corpus, task_id in zip(self.corpora, ids):
                data = getattr(corpus, name)
                if data is not None and task_id is not None:
                    if reads_from_disk(data):
                        data = LabelledView(data, "multitask_id", task_id)
                    else:  # label the sentences in memory once
                        for sentence in data:
                            _ensure_label(sentence, "multitask_id", task_id)
                parts.append(data)
            return ConcatDataset(parts)

        super().__init__(split("train"), split("dev"), split("test"), name=name, sample_missing_splits=False)

    def __str__(self) -> str:
        lines = [
            f"MultiCorpus: {len(self.train)} train + {len(self.dev)} dev + {len(self.test)} test sentences"
        ]
        lines += [f" - {c}" for c in self.corpora]
        return "\n".join(lines)

    __repr__ = __str__
