"""``polytag train`` beyond the end-to-end run: resuming from a checkpoint, single heads, span heads."""

from __future__ import annotations

import pytest
import yaml

from polytag.cli.main import main
from polytag.config import build_corpora, build_model, load_and_resolve
from polytag.io import read_model_header
from tests.test_cli_support import one_torch_thread, write_corpora

SINGLE = """\
encoder: {{model: {encoder}}}
tasks:
  - {{id: ner, head: SequenceTagger, label_type: ner, corpus: {{type: column, folder: data/tagged,
      columns: {{0: text, 1: pos, 2: ner}}}}, options: {{use_rnn: false, hidden_size: 16}}}}
trainer:
  learning_rate: 1.0e-3
  mini_batch_size: 8
  max_epochs: 1
  save_checkpoint_every: 1
  progress_bar: false
  plot_training_curves: false
  seed: 0
"""


def test_train_then_resume_from_the_checkpoint(tiny_encoder_dir, tmp_path):
    write_corpora(tmp_path / "data", sizes=(16, 4, 4))
    config = tmp_path / "single.yaml"
    config.write_text(SINGLE.format(encoder=tiny_encoder_dir), encoding="utf-8")
    output = tmp_path / "out"
    with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
        main(["train", str(config), "-o", str(output), "-q"])
    assert exit_info.value.code == 0
    assert read_model_header(output / "final-model.pt")["config"]["class"] == "SequenceTagger"
    assert (output / "checkpoints").is_dir()
    with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                str(config),
                "-o",
                str(output),
                "--resume",
                str(output / "checkpoints"),
                "--set",
                "trainer.max_epochs=2",
                "-q",
            ]
        )
    assert exit_info.value.code == 0
    log_text = (output / "training.log").read_text(encoding="utf-8")
    assert "EPOCH 2 done" in log_text and log_text.count("EPOCH 1 done") == 1  # epoch 1 was not redone
    embedded = read_model_header(output / "final-model.pt")["config"]["training_config"]
    assert embedded["trainer"]["max_epochs"] == 2
    assert yaml.safe_load((output / "config.yaml").read_text(encoding="utf-8"))["trainer"]["max_epochs"] == 2


LINKING = """\
encoder: {{model: {encoder}}}
tasks:
  - id: nel
    head: span
    label_type: nel
    corpus: {{type: column, folder: links, columns: {{0: text, 1: nel}}}}
    label_dictionary: {{add_unk: true}}
    options:
      candidates: {{source: corpus, top_k: 5}}
      use_entity_names: false
  - id: topic
    head: text
    label_type: topic
    corpus: {{type: jsonl, train: data/topics/train.jsonl}}
"""


def test_span_heads_with_candidates_are_built_from_a_config(tiny_encoder_dir, tmp_path):
    pytest.importorskip("polytag.models.span_classifier")
    write_corpora(tmp_path / "data", sizes=(8, 2, 2))
    links = tmp_path / "links"
    links.mkdir()
    rows = "Obama\tB-Barack_Obama\nvisited\tO\nParis\tB-Paris\n.\tO\n\n"
    for split in ("train", "dev", "test"):
        (links / f"{split}.txt").write_text(rows * 3, encoding="utf-8")
    config = tmp_path / "link.yaml"
    config.write_text(LINKING.format(encoder=tiny_encoder_dir), encoding="utf-8")
    resolved = load_and_resolve(config)
    assert resolved["tasks"][0]["head"] == "SpanClassifier"
    assert resolved["tasks"][0]["options"]["candidates"]["source"] == "corpus"
    corpus, per_task = build_corpora(resolved)
    model = build_model(resolved, per_task)
    head = model.tasks["nel"]
    assert type(head).__name__ == "SpanClassifier"
    assert [entity for entity, _ in head.candidates.lookup("Obama")] == ["Barack_Obama"]
    assert model.tasks["topic"].embeddings is head.embeddings  # one shared encoder
    assert head.embeddings.is_document_embedding  # the text head needs document vectors
