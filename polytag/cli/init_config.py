"""``polytag init-config``: a commented starting config for a chosen task."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

_ENCODER = """\
# The shared encoder. The default is all-MiniLM-L6-v2, shipped with polytag (nothing is downloaded);
# any Hugging Face encoder id or local folder works. Every TransformerEmbeddings option is a key here.
encoder:
  model: sentence-transformers/all-MiniLM-L6-v2
  fine_tune: true            # train the encoder too (false: frozen features)
  layers: "-1"               # which hidden layers ("-1", "-1,-2", "all")
  subtoken_pooling: first    # first | last | first_last | mean
  use_context: false         # true or a number: read neighbouring sentences (FLERT)
"""

_TRAINER = """\
# The trainer: method fine_tune (AdamW, linear warm-up/decay), train (SGD, anneal on plateau) or
# train_custom. Every keyword argument of that method is a key here, and so are the optimizer's
# (weight_decay, ...). Numbers like 5e-5 are fine.
trainer:
  method: fine_tune
  learning_rate: 5.0e-5
  mini_batch_size: 16
  max_epochs: {epochs}
  # decoder_learning_rate: 1.0e-3  # a separate rate for the heads
  # max_tokens_per_batch: 4000     # token-budget batches instead of mini_batch_size
  # save_checkpoint_every: 1       # resumable checkpoints (polytag train ... --resume DIR)
  # seed: 42
"""

_OWN_COLUMN_CORPUS = """\
    # Your own data instead: column files (one token a line, blank line between sentences).
    # corpus:
    #   type: column
    #   folder: data/my-corpus   # train/dev/test found by name, or give train: dev: test: files
    #   columns: {{0: text, 1: {label_type}}}
"""

TEMPLATES = {
    "pos": (
        "Part-of-speech tagging on UD English (EWT)",
        """\
tasks:
  - id: pos
    head: TokenClassifier        # one label per token (SequenceTagger adds an RNN and a CRF)
    label_type: pos              # XPOS; use upos for universal tags
    corpus:
      type: UD_ENGLISH           # read from $POLYTAG_DATASETS/ud_english
      downsample: 0.1            # train on 10% for a quick first run
{own}""",
        "pos",
        3,
    ),
    "ner": (
        "Named entity recognition on CoNLL-03",
        """\
tasks:
  - id: ner
    head: TokenClassifier        # spans (PER, ORG, ...) are learned as BIOES tags
    label_type: ner
    corpus:
      type: CONLL_03
      downsample: 0.1
    # options:
    #   dropout: 0.1
{own}""",
        "ner",
        3,
    ),
    "chunk": (
        "Syntactic chunking on CoNLL-2000",
        """\
tasks:
  - id: chunk
    head: TokenClassifier
    label_type: np
    corpus:
      type: CONLL_2000
      downsample: 0.2
{own}""",
        "np",
        3,
    ),
    "classify": (
        "Text classification on AG News",
        """\
tasks:
  - id: topic
    head: TextClassifier         # one label per sentence / document
    label_type: topic
    corpus:
      type: AGNEWS
      downsample: 0.02
    # options:
    #   multi_label: false
    # Your own data instead: JSON lines {{"text": ..., "labels": ["sports"]}}
    # corpus:
    #   type: jsonl
    #   train: data/train.jsonl
    #   label_type: topic
""",
        "topic",
        2,
    ),
    "link": (
        "Entity linking on AIDA (CoNLL-03 with Wikipedia links)",
        """\
tasks:
  - id: nel
    head: SpanClassifier         # one entity per mention, scored against its candidates only
    label_type: nel
    corpus:
      type: AIDA_NEL
      downsample: 0.2
    options:
      candidates: corpus         # candidates counted from the training data, or a TSV file path,
                                 # or {{source: path/candidates.tsv, top_k: 20}}
      use_entity_names: true
""",
        "nel",
        3,
    ),
    "multitask": (
        "POS tagging and chunking on one shared encoder",
        """\
tasks:
  - id: pos
    head: TokenClassifier
    label_type: pos
    corpus: {{type: UD_ENGLISH, downsample: 0.05}}
  - id: chunk
    head: TokenClassifier
    label_type: np
    corpus: {{type: CONLL_2000, downsample: 0.05}}
    # loss_factor: 1.0           # weight of this task's loss

# How batches mix the tasks: proportional (to corpus size), uniform, or temperature.
multitask:
  sampling: proportional
  # temperature: 2.0
  # use_all_tasks: false         # true: every sentence trains every head (aligned data)
""",
        "pos",
        1,
    ),
}


def template(task: str) -> str:
    """The commented YAML for ``task`` (one of :data:`TEMPLATES`)."""
    if task not in TEMPLATES:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TEMPLATES)}")
    title, body, label_type, epochs = TEMPLATES[task]
    own = _OWN_COLUMN_CORPUS.format(label_type=label_type)
    return (
        f"# polytag training config: {title}.\n"
        "# Train with:  polytag train THIS_FILE [--set trainer.max_epochs=1] [--output DIR]\n"
        "# Reference:   docs/config.md. Relative paths are relative to this file's folder.\n\n"
        f"output: runs/{task}\n\n"
        + _ENCODER
        + "\n"
        + body.format(own=own)
        + "\n"
        + _TRAINER.format(epochs=epochs)
    )


def run_init_config(task: str, output: str | os.PathLike | None = None, force: bool = False) -> str:
    """Write the template to ``output`` (or print it); refuses to overwrite without ``force``."""
    text = template(task)
    if output is None or str(output) == "-":
        print(text, end="")
        return text
    path = Path(output)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}; train with: polytag train {path}")
    return text


# -- the command line ----------------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``init-config`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    init = commands.add_parser("init-config", parents=[common], help="write a commented starting config")
    init.add_argument(
        "--task",
        default="multitask",
        choices=sorted(TEMPLATES),
        help="what the config trains (default: multitask POS + chunking)",
    )
    init.add_argument("--output", "-o", help="file to write (default: standard output)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    run_init_config(args.task, args.output, args.force)
    return 0
