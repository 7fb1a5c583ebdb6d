"""One epoch of fine-tuning on EWT train: fixed-size batches against token-budget batching.

    python bench/trainer_epoch.py            # both runs, each in its own process, then the comparison
    python bench/trainer_epoch.py --one fixed|budget [--train-limit N]   # a single run (JSON line)

For each run it prints the training throughput (sentences/s over the training steps), the share of the
epoch spent outside the encoder's forward and backward (measured with hooks on the Hugging Face model:
forward from its pre-hook to its output; backward from the moment the gradient reaches the encoder's
output to the end of ``backward()``), the test accuracy, and the process's peak RSS. Targets: budget
batching >= 1.3x the sentences/s of fixed batches at accuracy within 0.3 points; outside time < 10 %;
peak RSS < 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class EncoderClock:
    """Accumulates the encoder's forward and backward seconds through hooks."""

    def __init__(self, encoder) -> None:
        import torch

        self.forward = 0.0
        self.backward = 0.0
        self._start = 0.0
        self._grad_arrived: float | None = None
        encoder.register_forward_pre_hook(self._pre)
        encoder.register_forward_hook(self._post)
        original = torch.Tensor.backward
        clock = self

        def backward(tensor, *args, **kwargs):
            result = original(tensor, *args, **kwargs)
            if clock._grad_arrived is not None:
                clock.backward += time.perf_counter() - clock._grad_arrived
                clock._grad_arrived = None
            return result

        torch.Tensor.backward = backward

    def _pre(self, module, args) -> None:
        self._start = time.perf_counter()

    def _post(self, module, args, output) -> None:
        self.forward += time.perf_counter() - self._start
        hidden = output[0] if isinstance(output, tuple) else output.last_hidden_state
        if hidden.requires_grad:
            hidden.register_hook(self._grad_hook)

    def _grad_hook(self, grad):
        if self._grad_arrived is None:
            self._grad_arrived = time.perf_counter()
        return grad


class OptimizerClock:
    """Seconds spent in the optimizer's step, gradient clipping and zero_grad (part of "outside")."""

    def __init__(self) -> None:
        import torch

        self.seconds = 0.0
        for owner, name in (
            (torch.optim.AdamW, "step"),
            (torch.optim.Optimizer, "zero_grad"),
            (torch.nn.utils, "clip_grad_norm_"),
        ):
            setattr(owner, name, self._timed(getattr(owner, name)))

    def _timed(self, function):
        clock = self

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - start

        return timed


def budget_for_steps(lengths, batch_size: int, seed: int) -> int:
    """The smallest token budget whose epoch has no more optimizer steps than batches of ``batch_size``.

    So both runs make the same number of updates of about the same number of sentences, and the
    comparison is about padding, not about taking fewer, larger steps. (16 x the mean length gives
    ~10 % more steps than fixed batches: padding inside a length bucket and the packing's edges.)
    """
    from polytag.training.batching import BatchPlan, ShuffleSampler

    target = -(-len(lengths) // batch_size)
    budget = int(batch_size * lengths.mean())
    while True:
        sampler = ShuffleSampler(len(lengths), seed)  # the trainer's sampler with the run's seed
        plan = BatchPlan(range(len(lengths)), sampler, batch_size, budget, lambda _: lengths)
        if plan.num_batches(1) <= target:
            return budget
        budget += 4


def one_run(mode: str, train_limit: int, budget: int) -> dict:
    import torch

    from polytag.data import Corpus
    from polytag.datasets import UD_ENGLISH
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models import TokenClassifier
    from polytag.trainers import ModelTrainer

    torch.manual_seed(1)
    ud = UD_ENGLISH()
    train = list(ud.train)[: train_limit or None]
    test = list(ud.test)
    corpus = Corpus(train, None, None, sample_missing_splits=False)
    model = TokenClassifier(
        TransformerWordEmbeddings(fine_tune=True), corpus.make_label_dictionary("pos"), "pos"
    )
    clock = EncoderClock(model.embeddings.model)
    optimizer_clock = OptimizerClock()
    out = Path(tempfile.mkdtemp(prefix=f"polytag-epoch-{mode}-"))
    if mode == "budget" and not budget:  # from the model's own encoder: no second corpus or encoder in memory
        budget = budget_for_steps(model.embeddings.subtoken_lengths(train), batch_size=16, seed=1)
    extra = {"max_tokens_per_batch": budget} if mode == "budget" else {}
    start = time.perf_counter()
    ModelTrainer(model, corpus).fine_tune(
        out,
        max_epochs=1,
        mini_batch_size=16,
        learning_rate=5e-5,
        seed=1,
        evaluate_on_test=False,
        plot_training_curves=False,
        progress_bar=False,
        **extra,
    )
    total = time.perf_counter() - start
    forward, backward = clock.forward, clock.backward  # before the test evaluation adds forwards
    # everything the trainer did besides the training steps' encoder work counts as outside
    score = model.evaluate(test, gold_label_type="pos", mini_batch_size=32).main_score
    return {
        "mode": mode,
        "train_sentences": len(train),
        "budget": budget if mode == "budget" else None,
        "seconds": total,
        "sentences_per_s": len(train) / total,
        "encoder_forward_s": forward,
        "encoder_backward_s": backward,
        "outside_share": 1 - (forward + backward) / total,
        "optimizer_share": optimizer_clock.seconds / total,  # AdamW step, clipping, zero_grad
        "test_accuracy": score,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", choices=["fixed", "budget"])
    parser.add_argument("--train-limit", type=int, default=0)
    parser.add_argument(
        "--budget",
        type=int,
        default=0,
        help="subtokens per batch (default: the smallest budget giving no more steps than batches of 16)",
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.train_limit, args.budget)))
        return
    load_before = os.getloadavg()
    runs = {}
    for mode in ("fixed", "budget"):
        cmd = [sys.executable, __file__, "--one", mode, "--train-limit", str(args.train_limit)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        runs[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(runs[mode]))
    fixed, budget = runs["fixed"], runs["budget"]
    speedup = budget["sentences_per_s"] / fixed["sentences_per_s"]
    delta = abs(budget["test_accuracy"] - fixed["test_accuracy"]) * 100
    print(
        f"\nfixed batches (16):     {fixed['sentences_per_s']:.1f} sentences/s, "
        f"acc {fixed['test_accuracy']:.4f}"
    )
    print(
        f"token-budget batches:   {budget['sentences_per_s']:.1f} sentences/s, "
        f"acc {budget['test_accuracy']:.4f}"
    )
    print(f"speed-up {speedup:.2f}x (target >= 1.3x), accuracy difference {delta:.2f} points (target <= 0.3)")
    for mode, run in runs.items():
        print(
            f"{mode}: outside encoder fwd+bwd {run['outside_share']:.2%} of the epoch (target < 10 %; of it "
            f"optimizer step, clipping and zero_grad {run['optimizer_share']:.2%}), "
            f"peak RSS {run['peak_rss_mb']:.0f} MB (target < 1500)"
        )
    print(f"load average before {load_before}, after {os.getloadavg()}, cores {os.cpu_count()}")


if __name__ == "__main__":
    main()
