"""Which sentences go into which training batch, in which order.

The order of one epoch is a pure function of ``(seed, epoch)``, so a checkpoint only needs the sampler's
position (epoch, batches done) to continue exactly where a run stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from polytag.data.sizes import dataset_token_counts, is_lazy

LENGTH_SAMPLE = 1000  # sentences whose subtokens are counted to estimate lengths of data read from disk
_EPOCH_STRIDE = 1_000_003  # mixes the epoch into the seed so that epochs get unrelated orders
_BUCKET_BATCHES = 50  # token-budget mode sorts pools of about this many batches by length


def _rng(seed: int, epoch: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, epoch, salt])


class ShuffleSampler:
    """A seeded shuffling sampler whose position ``(epoch, index)`` is part of every checkpoint.

    ``order(epoch)`` is the permutation of the dataset for that epoch (identity when shuffling is off,
    or in epoch 1 when ``shuffle_first_epoch`` is False). With per-sentence ``weights`` (a multitask
    model's task sampling) an epoch instead draws ``size`` sentences with replacement in proportion to
    them. ``index`` counts the batches of ``epoch`` already trained on; the trainer advances it after
    each optimizer step.
    """

    def __init__(
        self,
        size: int,
        seed: int,
        shuffle: bool = True,
        shuffle_first_epoch: bool = True,
        weights: Sequence[float] | None = None,
    ) -> None:
        self.size = size
        self.seed = int(seed)
        self.shuffle = shuffle
        self.shuffle_first_epoch = shuffle_first_epoch
        self.probabilities = None
        if weights is not None:
            if len(weights) != size:
                raise ValueError(f"{len(weights)} sampling weights for {size} training sentences")
            w = np.asarray(weights, dtype=np.float64)
            if (w < 0).any() or w.sum() <= 0:
                raise ValueError("sampling weights must be non-negative and not all zero")
            self.probabilities = w / w.sum()
        self.epoch = 1
        self.index = 0

    def order(self, epoch: int) -> np.ndarray:
        if self.probabilities is not None:
            return _rng(self.seed, epoch, 2).choice(self.size, size=self.size, p=self.probabilities)
        if not self.shuffle or (epoch == 1 and not self.shuffle_first_epoch):
            return np.arange(self.size)
        return _rng(self.seed, epoch).permutation(self.size)

    def advance(self) -> None:
        self.index += 1

    def next_epoch(self) -> None:
        self.epoch += 1
        self.index = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "shuffle_first_epoch": self.shuffle_first_epoch,
            "epoch": self.epoch,
            "index": self.index,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["size"] != self.size:
            raise ValueError(
                f"checkpoint sampler covers {state['size']} training sentences, this corpus has {self.size}"
            )
        self.seed = int(state["seed"])
        self.shuffle = bool(state["shuffle"])
        self.shuffle_first_epoch = bool(state["shuffle_first_epoch"])
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])


def fixed_size_batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive slices of ``batch_size`` indices (the last may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"mini_batch_size must be at least 1, got {batch_size}")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def token_budget_batches(
    order: np.ndarray, lengths: np.ndarray, max_tokens: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Dense batches whose padded size (longest sentence x sentences) stays within ``max_tokens``.

    The shuffled ``order`` is cut into pools; each pool is sorted by length and packed greedily, so
    sentences of similar length share a batch. The batches are then shuffled so that an epoch does not
    run from short to long. A sentence longer than the budget gets a batch of its own.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens_per_batch must be at least 1, got {max_tokens}")
    lengths = np.maximum(lengths, 1)
    mean_len = float(lengths.mean()) if len(lengths) else 1.0
    pool_size = max(1, int(_BUCKET_BATCHES * max_tokens / mean_len))
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool_size):
        pool = order[start : start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        pool_lengths = lengths[pool]
        begin = 0
        for i in range(1, len(pool) + 1):
            # pool is sorted ascending, so the batch pool[begin:i] is as long as its last member
            if i == len(pool) or pool_lengths[i] * (i + 1 - begin) > max_tokens:
                batches.append(pool[begin:i])
                begin = i
    permutation = rng.permutation(len(batches))
    return [batches[i] for i in permutation]


class BatchPlan:
    """The batches (index arrays into the training data) of each epoch.

    With ``max_tokens_per_batch`` the batches are built by token budget with length bucketing
    (``mini_batch_size`` is then not used); otherwise they hold ``mini_batch_size`` sentences. Lengths
    come from ``length_fn`` (the encoder's subtoken counts) when given, else they are word counts.
    """

    def __init__(
        self,
        data: Any,
        sampler: ShuffleSampler,
        mini_batch_size: int,
        max_tokens_per_batch: int | None = None,
        length_fn: Callable[[Sequence[Any]], np.ndarray] | None = None,
    ) -> None:
        self.data = data
        self.length_fn = length_fn
        self.sampler = sampler
        self.mini_batch_size = mini_batch_size
        self.max_tokens = max_tokens_per_batch
        self._lengths: np.ndarray | None = None
        self._cache: tuple[tuple[int, int], list[np.ndarray]] | None = None

    def lengths(self) -> np.ndarray:
        """Per-sentence sizes for the token budget (computed once).

        Data read from disk on access (``in_memory=False``) is never parsed as a whole: its word counts
        come from the file index, and subtoken counts are estimated as word counts times the
        subtokens-per-word ratio of a seeded sample of :data:`LENGTH_SAMPLE` sentences (rounded up), so
        a batch may exceed ``max_tokens_per_batch`` by the sample's error.
        """
        if self._lengths is None:
            counts = dataset_token_counts(self.data) if is_lazy(self.data) else None
            if counts is not None:
                self._lengths = self._estimated_lengths(np.asarray(counts, dtype=np.int64))
            elif self.length_fn is not None:
                self._lengths = np.asarray(self.length_fn(list(self.data)), dtype=np.int64)
            else:
                self._lengths = np.fromiter((len(s) for s in self.data), dtype=np.int64, count=len(self.data))
        return self._lengths

    def _estimated_lengths(self, words: np.ndarray) -> np.ndarray:
        if self.length_fn is None or not len(words):
            return words
        rng = _rng(self.sampler.seed, 0, 3)
        sample = np.sort(rng.choice(len(words), size=min(LENGTH_SAMPLE, len(words)), replace=False))
        sub = np.asarray(self.length_fn([self.data[int(i)] for i in sample]), dtype=np.float64)
        ratio = float(sub.sum()) / max(1.0, float(words[sample].sum()))
        return np.ceil(words * ratio).astype(np.int64)

    def batches(self, epoch: int) -> list[np.ndarray]:
        key = (epoch, self.sampler.seed)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        order = self.sampler.order(epoch)
        if self.max_tokens:
            rng = _rng(self.sampler.seed, epoch, 1)
            result = token_budget_batches(order, self.lengths(), self.max_tokens, rng)
        else:
            result = fixed_size_batches(order, self.mini_batch_size)
        self._cache = (key, result)
        return result

    def num_batches(self, epoch: int) -> int:
        if not self.max_tokens:
            return -(-len(self.data) // self.mini_batch_size)
        return len(self.batches(epoch))

    def total_steps(self, first_epoch: int, last_epoch: int) -> int:
        """Optimizer steps of epochs ``first_epoch..last_epoch`` (what a linear schedule spans)."""
        if not self.max_tokens:
            return max(0, last_epoch - first_epoch + 1) * self.num_batches(first_epoch)
        cache = self._cache
        total = sum(len(self.batches(e)) for e in range(first_epoch, last_epoch + 1))
        self._cache = cache
        return total

    def sentences(self, indices: np.ndarray) -> list[Any]:
        data = self.data
        return [data[int(i)] for i in indices]


def split_chunks(batch: Sequence[Any], chunk_size: int | None) -> list[Sequence[Any]]:
    """``mini_batch_chunk_size``: pieces of a batch that are run one after another for memory."""
    if not chunk_size or len(batch) <= chunk_size:
        return [batch]
    return [batch[i : i + chunk_size] for i in range(0, len(batch), chunk_size)]
