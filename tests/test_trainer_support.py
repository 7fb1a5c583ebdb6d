"""A tiny deterministic model and corpus for the trainer tests (no encoder, runs in milliseconds).

Also a command-line entry point: the kill-and-resume test trains in a subprocess with it.
``python tests/test_trainer_support.py BASE_PATH [--delay SECONDS]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from polytag.data import Corpus, Sentence  # noqa: E402

VOCAB = [f"w{i}" for i in range(30)]
TAGS = ["A", "B", "C"]


def tag_of(word: str) -> str:
    return TAGS[int(word[1:]) % len(TAGS)]


@dataclass
class TinyResult:
    """The fields of polytag.evaluation.Result that the trainer reads."""

    main_score: float
    loss: float | None
    detailed_results: str = ""
    log_header: str = "ACCURACY"
    log_line: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    task_results: dict[str, tuple[str, TinyResult]] | None = None


class TinyTagger(torch.nn.Module):
    """Embedding -> dropout -> linear token tagger over a fixed vocabulary."""

    def __init__(self, label_type: str = "pos", dim: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        self.label_type = label_type
        self.dim = dim
        self.dropout_p = dropout
        self.vocab = {w: i for i, w in enumerate(VOCAB)}
        self.tags = {t: i for i, t in enumerate(TAGS)}
        self.embed = torch.nn.Embedding(len(VOCAB), dim)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(dim, len(TAGS))
        self.calls = 0
        self.hooks: dict[int, Any] = {}  # forward_loss call number -> callable(loss) -> loss

    def embedding_modules(self) -> list[torch.nn.Module]:
        return [self.embed]

    def _tensors(self, sentences: list[Sentence], label_type: str) -> tuple[torch.Tensor, torch.Tensor]:
        words = [t.text for s in sentences for t in s]
        gold = [self.tags[t.get_label(label_type).value] for s in sentences for t in s]
        return torch.tensor([self.vocab[w] for w in words]), torch.tensor(gold)

    def forward_loss(self, sentences: list[Sentence]) -> tuple[torch.Tensor, int]:
        ids, gold = self._tensors(sentences, self.label_type)
        logits = self.out(self.dropout(self.embed(ids)))
        loss = F.cross_entropy(logits, gold, reduction="sum")
        self.calls += 1
        if self.calls in self.hooks:
            loss = self.hooks[self.calls](loss)
        return loss, len(gold)

    def evaluate(
        self,
        data_points: Any,
        gold_label_type: str | None = None,
        mini_batch_size: int = 32,
        out_path: Any = None,
        return_loss: bool = True,
        **kwargs: Any,
    ) -> TinyResult:
        sentences = list(data_points)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            ids, gold = self._tensors(sentences, gold_label_type or self.label_type)
            logits = self.out(self.embed(ids))
            loss = float(F.cross_entropy(logits, gold)) if return_loss else None
            accuracy = float((logits.argmax(-1) == gold).float().mean())
        self.train(was_training)
        if out_path is not None:
            Path(out_path).write_text(f"accuracy\t{accuracy}\n", encoding="utf-8")
        return TinyResult(
            accuracy, loss, detailed_results=f"accuracy: {accuracy:.4f}", scores={"accuracy": accuracy}
        )

    def config(self) -> dict[str, Any]:
        return {"label_type": self.label_type, "dim": self.dim, "dropout": self.dropout_p}

    def save(self, path: Any) -> None:
        state = {k: v.contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata={"config": json.dumps(self.config())})

    @classmethod
    def load(cls, path: Any) -> TinyTagger:
        with safe_open(str(path), framework="pt") as handle:
            config = json.loads(handle.metadata()["config"])
            state = {k: handle.get_tensor(k) for k in handle.keys()}
        model = cls(**config)
        model.load_state_dict(state)
        return model


class TinyMultitask(torch.nn.Module):
    """Two TinyTaggers routed by each sentence's ``multitask_id`` label, as a MultitaskModel does."""

    label_type = "multitask"

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self.tasks = torch.nn.ModuleDict(
            {"Task_0": TinyTagger("pos", dropout=dropout), "Task_1": TinyTagger("chunk", dropout=dropout)}
        )
        self.dropout_p = dropout

    def embedding_modules(self) -> list[torch.nn.Module]:
        return [t.embed for t in self.tasks.values()]

    def _split(self, sentences: list[Sentence]) -> dict[str, list[Sentence]]:
        parts: dict[str, list[Sentence]] = {}
        for s in sentences:
            parts.setdefault(s.get_label("multitask_id").value, []).append(s)
        return parts

    def forward_loss(self, sentences: list[Sentence]) -> tuple[torch.Tensor, int]:
        total, count = torch.zeros(()), 0
        for task_id, part in self._split(sentences).items():
            loss, n = self.tasks[task_id].forward_loss(part)
            total, count = total + loss, count + n
        return total, count

    def evaluate(self, data_points: Any, gold_label_type: str | None = None, **kwargs: Any) -> TinyResult:
        parts = self._split(list(data_points))
        results = {
            task_id: ("TinyTagger", self.tasks[task_id].evaluate(part, **kwargs))
            for task_id, part in sorted(parts.items())
        }
        scores = [r.main_score for _, r in results.values()]
        losses = [r.loss for _, r in results.values() if r.loss is not None]
        return TinyResult(
            sum(scores) / len(scores),
            sum(losses) / len(losses) if losses else None,
            detailed_results="multitask",
            task_results=results,
        )

    def save(self, path: Any) -> None:
        state = {k: v.contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path), metadata={"config": json.dumps({"dropout": self.dropout_p})})

    @classmethod
    def load(cls, path: Any) -> TinyMultitask:
        with safe_open(str(path), framework="pt") as handle:
            config = json.loads(handle.metadata()["config"])
            state = {k: handle.get_tensor(k) for k in handle.keys()}
        model = cls(**config)
        model.load_state_dict(state)
        return model


def make_sentences(n: int, seed: int, label_type: str = "pos", task_id: str | None = None) -> list[Sentence]:
    rng = random.Random(seed)
    sentences = []
    for _ in range(n):
        words = [rng.choice(VOCAB) for _ in range(rng.randint(2, 9))]
        sentence = Sentence(words)
        for token in sentence:
            value = tag_of(token.text) if label_type == "pos" else TAGS[(int(token.text[1:]) // 3) % 3]
            token.add_label(label_type, value)
        if task_id is not None:
            sentence.add_label("multitask_id", task_id)
        sentences.append(sentence)
    return sentences


def make_corpus(
    n_train: int = 48, seed: int = 0, label_type: str = "pos", task_id: str | None = None
) -> Corpus:
    return Corpus(
        make_sentences(n_train, seed, label_type, task_id),
        make_sentences(12, seed + 1, label_type, task_id),
        make_sentences(12, seed + 2, label_type, task_id),
        sample_missing_splits=False,
    )


def make_multicorpus() -> Any:
    from polytag.data import MultiCorpus

    corpora = [make_corpus(24, 0, "pos"), make_corpus(24, 10, "chunk")]
    return MultiCorpus(corpora, task_ids=["Task_0", "Task_1"])


def build(model_seed: int = 0) -> tuple[TinyTagger, Corpus]:
    torch.manual_seed(model_seed)
    return TinyTagger(), make_corpus()


RESUME_SETTINGS: dict[str, Any] = {
    "max_epochs": 3,
    "mini_batch_size": 4,
    "learning_rate": 0.05,
    "seed": 7,
    "save_checkpoint_every": "5 steps",
    "progress_bar": False,
    "plot_training_curves": False,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_path")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    model, corpus = build()
    if args.delay:
        original = model.forward_loss

        def slow(sentences: list[Sentence]) -> tuple[torch.Tensor, int]:
            time.sleep(args.delay)
            return original(sentences)

        model.forward_loss = slow  # type: ignore[method-assign]
    from polytag.trainers import ModelTrainer

    ModelTrainer(model, corpus).fine_tune(args.base_path, **RESUME_SETTINGS)


if __name__ == "__main__":
    main()
