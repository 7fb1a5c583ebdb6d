"""The YAML config: schema validation, error messages, --set overrides, resolution and corpus building."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from polytag.cli.init_config import TEMPLATES, run_init_config, template
from polytag.config import (
    ConfigError,
    apply_override,
    build_corpora,
    load_and_resolve,
    load_config,
    parse_override,
    resolve_config,
)
from tests.test_cli_support import write_corpora

BASE = textwrap.dedent(
    """\
    output: run
    encoder:
      model: sentence-transformers/all-MiniLM-L6-v2
    tasks:
      - id: ner
        head: token
        label_type: ner
        corpus: tagged
      - id: pos
        head: TokenClassifier
        label_type: pos
        corpus: tagged
      - id: topic
        head: text
        label_type: topic
        corpus: {type: jsonl, train: data/topics/train.jsonl, dev: data/topics/dev.jsonl}
    corpora:
      tagged:
        type: column
        folder: data/tagged
        columns: {0: text, 1: pos, 2: ner}
    trainer:
      learning_rate: 5e-5
      max_epochs: 2
      weight_decay: 0.01
    """
)


def write(tmp_path: Path, text: str = BASE, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, *overrides: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_and_resolve(path, list(overrides))
    return info.value


def test_resolves_defaults_aliases_paths_and_numbers(tmp_path):
    resolved = load_and_resolve(write(tmp_path))
    assert resolved["output"] == str((tmp_path / "run").resolve())
    heads = [t["head"] for t in resolved["tasks"]]
    assert heads == ["TokenClassifier", "TokenClassifier", "TextClassifier"]
    # YAML reads 5e-5 as a string; the schema knows learning_rate is a float
    assert resolved["trainer"]["learning_rate"] == pytest.approx(5e-5)
    assert resolved["trainer"]["method"] == "fine_tune"
    assert resolved["trainer"]["optimizer"] == "torch.optim.AdamW"
    assert resolved["trainer"]["weight_decay"] == 0.01  # an AdamW argument
    assert resolved["trainer"]["mini_batch_size"] == 4  # fine_tune's default, filled in
    # relative corpus paths are relative to the config file
    assert resolved["corpora"]["tagged"]["folder"] == str((tmp_path / "data" / "tagged").resolve())
    assert resolved["tasks"][2]["corpus"]["train"] == str(
        (tmp_path / "data" / "topics" / "train.jsonl").resolve()
    )
    # the shared encoder must give token vectors (token heads) and document vectors (the text head)
    assert resolved["encoder"]["is_token_embedding"] is True
    assert resolved["encoder"]["is_document_embedding"] is True
    assert resolved["tasks"][0]["options"] == {"span_encoding": "BIOES", "dropout": 0.0}
    # the resolved config is plain YAML data that resolves to itself again
    again = resolve_config(yaml.safe_load(yaml.safe_dump(resolved)), base_dir=tmp_path)
    assert again == resolved


def test_unknown_key_names_key_line_and_allowed_keys(tmp_path):
    text = BASE.replace("max_epochs: 2", "max_epoch: 2")
    error = error_of(write(tmp_path, text))
    assert error.line == text.splitlines().index("  max_epoch: 2") + 1
    assert "trainer.max_epoch" in str(error) and "did you mean 'max_epochs'" in str(error)
    assert "mini_batch_size" in str(error)  # the allowed keys are listed
    error = error_of(write(tmp_path, BASE.replace("  model: sentence", "  modle: sentence")))
    assert error.line == 3 and "encoder.modle" in str(error) and "subtoken_pooling" in str(error)
    error = error_of(write(tmp_path, BASE + "tasks_extra: 1\n"))
    assert "unknown key 'tasks_extra'" in str(error) and "trainer" in str(error)


def test_wrong_types_are_errors(tmp_path):
    path = write(tmp_path)
    error = error_of(path, "trainer.max_epochs=ten")
    assert "trainer.max_epochs: expected int, got str 'ten'" in str(error) and "--set" in str(error)
    assert "expected bool" in str(error_of(path, "encoder.fine_tune=maybe"))
    assert "expected float" in str(error_of(path, "tasks.0.options.dropout=[1]"))
    assert "dropout" in str(error_of(path, "tasks.0.options.dropot=0.1"))


def test_heads_corpora_optimizers_and_tasks_are_checked(tmp_path):
    path = write(tmp_path)
    assert "unknown head 'Foo'" in str(error_of(path, "tasks.0.head=Foo"))
    assert "unknown corpus type 'nope'" in str(error_of(path, "tasks.2.corpus.type=nope"))
    assert "unknown optimizer 'Magic'" in str(error_of(path, "trainer.optimizer=Magic"))
    assert "distinct" in str(error_of(path, "tasks.1.id=ner"))
    assert "no encoder named 'other'" in str(error_of(path, "tasks.0.encoder=other"))
    assert "sampling" in str(error_of(path, "multitask.sampling=random"))
    error = error_of(write(tmp_path, BASE.replace("    columns: {0: text, 1: pos, 2: ner}\n", "")))
    assert "missing required key 'columns'" in str(error)


def test_set_overrides_nested_keys_list_items_and_yaml_values(tmp_path):
    config, source = load_config(
        write(tmp_path),
        [
            "trainer.max_epochs=7",
            "tasks.1.options.dropout=0.25",
            "multitask.sampling=uniform",
            "tasks.0.label_dictionary.add_unk=true",
            "trainer.main_evaluation_metric=[accuracy, f1-score]",
        ],
    )
    resolved = resolve_config(config, source)
    assert resolved["trainer"]["max_epochs"] == 7
    assert resolved["tasks"][1]["options"]["dropout"] == 0.25
    assert resolved["multitask"]["sampling"] == "uniform"
    assert resolved["tasks"][0]["label_dictionary"]["add_unk"] is True
    assert resolved["trainer"]["main_evaluation_metric"] == ["accuracy", "f1-score"]
    assert parse_override("a.b=") == (("a", "b"), None)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("trainer.max_epochs")
    data = {"tasks": [{"a": 1}]}
    apply_override(data, ("tasks", 0, "b"), 2)
    assert data == {"tasks": [{"a": 1, "b": 2}]}
    with pytest.raises(ConfigError, match="no list item"):
        apply_override(data, ("tasks", 5, "b"), 2)


def test_yaml_syntax_errors_name_the_line(tmp_path):
    error = error_of(write(tmp_path, "tasks:\n  - id: [unclosed\n"))
    assert error.line is not None and "not valid YAML" in str(error)
    assert "config.yaml" in str(error)


def test_trainer_methods_have_their_own_keys(tmp_path):
    path = write(tmp_path)
    resolved = load_and_resolve(path, ["trainer.method=train", "trainer.patience=2"])
    assert resolved["trainer"]["patience"] == 2 and resolved["trainer"]["optimizer"] == "torch.optim.SGD"
    assert "patience" in str(error_of(path, "trainer.patience=2"))  # fine_tune has no patience
    custom = load_and_resolve(
        path, ["trainer.method=train_custom", "trainer.shuffle=false", "trainer.weight_decay=null"]
    )
    assert custom["trainer"]["shuffle"] is False


@pytest.mark.parametrize("task", sorted(TEMPLATES))
def test_init_config_templates_are_valid(tmp_path, task):
    path = tmp_path / f"{task}.yaml"
    run_init_config(task, path)
    resolved = load_and_resolve(path)
    assert resolved["tasks"] and resolved["output"] == str((tmp_path / "runs" / task).resolve())
    assert "#" in template(task)  # commented
    with pytest.raises(FileExistsError):
        run_init_config(task, path)


def test_build_corpora_groups_tasks_and_marks_aligned_sentences(tmp_path):
    write_corpora(tmp_path / "data")
    resolved = load_and_resolve(write(tmp_path))
    corpus, per_task = build_corpora(resolved)
    assert per_task["ner"] is per_task["pos"]  # one corpus read once for two tasks
    assert per_task["topic"] is not per_task["ner"]
    assert len(corpus.train) == 40 + 36  # the JSONL corpus has no test split: 10% of train became it
    first = corpus.train[0]
    assert sorted(label.value for label in first.get_labels("multitask_id")) == ["ner", "pos"]
    last = corpus.train[len(corpus.train) - 1]
    assert [label.value for label in last.get_labels("multitask_id")] == ["topic"]
    assert first.get_spans("ner")  # BIO column read as spans


def test_downsample_and_single_task_corpus(tmp_path):
    write_corpora(tmp_path / "data")
    jsonl_task = "corpus: {type: jsonl, train: data/topics/train.jsonl, dev: data/topics/dev.jsonl}\n"
    text = BASE.split("  - id: pos")[0] + BASE.split(jsonl_task)[1]
    text = text.replace("    folder: data/tagged\n", "    folder: data/tagged\n    downsample: 0.5\n")
    corpus, per_task = build_corpora(load_and_resolve(write(tmp_path, text)))
    assert list(per_task) == ["ner"]
    assert len(corpus.train) == 20
    assert not corpus.train[0].get_labels("multitask_id")  # one task: no task ids
