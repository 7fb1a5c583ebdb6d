"""Model.load checks the file against a meta-device skeleton before it reads or allocates any weight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from polytag.cli.main import main
from polytag.data import Dictionary, Sentence
from polytag.embeddings import TransformerEmbeddings, TransformerWordEmbeddings
from polytag.errors import ModelFileError
from polytag.io import MAX_JSON_DEPTH, parse_json, register_model_class
from polytag.models import Model, SequenceTagger, SpanClassifier, TextClassifier
from polytag.nn.candidates import CandidateGenerator
from polytag.nn.prototypical import PrototypicalDecoder
from tests.test_untrusted_model_files import join_file, split_file


def _dictionary(*items: str, unk: bool = False) -> Dictionary:
    dictionary = Dictionary(add_unk=unk)
    for item in items:
        dictionary.add_item(item)
    return dictionary


@register_model_class
class ScratchBufferHead(TextClassifier):
    """A head with a non-persistent buffer sized by its config: not in the file, yet allocated on load."""

    def __init__(self, *args: Any, scratch_size: int = 4, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scratch_size = scratch_size
        self.register_buffer("scratch", torch.zeros(scratch_size), persistent=False)

    def head_config(self) -> dict[str, Any]:
        return {**super().head_config(), "scratch_size": self.scratch_size}


def _edit_config(path: Path, target: Path, edit: Any) -> Path:
    header, data = split_file(path)
    config = json.loads(header["__metadata__"]["config"])
    edit(config)
    header["__metadata__"]["config"] = json.dumps(config)
    return join_file(target, header, data)


def _sentences() -> list[Sentence]:
    sentences = [Sentence("Smith visited Berlin ."), Sentence("Jones saw Smith")]
    sentences[0][0:1].add_label("nel", "Smith")
    sentences[1][2:3].add_label("nel", "Smith")
    return sentences


def _heads(encoder_dir: Path) -> dict[str, Model]:
    torch.manual_seed(0)
    words = TransformerWordEmbeddings(str(encoder_dir))
    document = TransformerEmbeddings(str(encoder_dir), is_token_embedding=False, is_document_embedding=True)
    candidates = CandidateGenerator({"Smith": {"Smith": 3, "Jones": 1}, "Berlin": {"Berlin": 1}})
    return {
        "tagger": SequenceTagger(words, _dictionary("DT", "NN"), "pos", use_crf=True, use_rnn=True),
        "prototypes": TextClassifier(
            document, _dictionary("a", "b"), "topic", decoder=PrototypicalDecoder(2, 32)
        ),
        "linker": SpanClassifier(
            words,
            _dictionary("Smith", "Berlin", unk=True),
            "nel",
            candidates=candidates,
            document_context=True,
        ),
    }


@pytest.mark.parametrize("name", ["tagger", "prototypes", "linker"])
def test_every_head_loads_through_the_meta_skeleton_and_predicts_the_same(
    tiny_encoder_dir: Path, tmp_path: Path, name: str
) -> None:
    model = _heads(tiny_encoder_dir)[name]
    model.eval()
    path = tmp_path / f"{name}.pt"
    model.save(path)
    loaded = Model.load(path)
    assert all(not t.is_meta for t in (*loaded.parameters(), *loaded.buffers()))
    before, after = _sentences(), _sentences()
    model.predict(before, return_probabilities_for_all_classes=True, label_name="out")
    loaded.predict(after, return_probabilities_for_all_classes=True, label_name="out")
    labels = [[(str(x.data_point), x.value, x.score) for x in s.get_labels("out")] for s in before]
    assert labels == [[(str(x.data_point), x.value, x.score) for x in s.get_labels("out")] for s in after]
    assert any(labels)


def test_a_mismatch_is_refused_before_any_tensor_is_read(
    tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "linker.pt"
    _heads(tiny_encoder_dir)["linker"].save(path)

    def huge_table(config: dict) -> None:  # a candidate table of 1e12 entries
        config["model"]["candidates"]["sizes"]["mention_ids"] = 10**12

    damaged = _edit_config(path, tmp_path / "huge-table.pt", huge_table)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("tensor data was read before the checks passed")

    monkeypatch.setattr("polytag.models.loading.load_model_tensors", no_reading)
    with pytest.raises(ModelFileError) as error:
        Model.load(damaged)
    message = str(error.value)
    assert message.startswith(str(damaged)) and "candidates.mention_ids' has shape" in message
    assert "expected (1000000000000,)" in message


def test_memory_beyond_the_declared_tensors_is_refused(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    encoder = TransformerEmbeddings(
        str(tiny_encoder_dir), is_token_embedding=False, is_document_embedding=True
    )
    path = tmp_path / "scratch.pt"
    ScratchBufferHead(encoder, _dictionary("a", "b"), "topic").save(path)
    assert isinstance(Model.load(path), ScratchBufferHead)

    def bigger(config: dict) -> None:  # 40 GB of float32 that the file does not hold
        config["model"]["scratch_size"] = 10**10

    damaged = _edit_config(path, tmp_path / "bigger.pt", bigger)
    with pytest.raises(ModelFileError, match="describes a model of 40,00"):
        Model.load(damaged)


def test_json_depth_is_bounded() -> None:
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "x")[1] is None
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    assert parse_json(too_deep, "the config") == (
        None,
        f"the config nests deeper than the {MAX_JSON_DEPTH} levels allowed",
    )
    assert "nests deeper" in str(parse_json("[" * 100_000 + "]" * 100_000, "x")[1])  # RecursionError
    assert "not valid JSON" in str(parse_json("{", "x")[1])


def test_info_reads_the_header_unless_asked_to_verify(
    tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "tagger.pt"
    _heads(tiny_encoder_dir)["tagger"].save(path)
    calls: list[object] = []
    real_load = Model.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type[Model], model_path: object, *args: object, **kwargs: object) -> Model:
        calls.append(model_path)
        return real_load(cls, model_path, *args, **kwargs)

    monkeypatch.setattr(Model, "load", classmethod(counting_load))
    for flags in ([], ["--header-only"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["info", str(path), *flags])
        assert exit_info.value.code in (0, None) and calls == []
        assert "not loaded (header only" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(path), "--verify"])
    assert exit_info.value.code in (0, None) and len(calls) == 1
    assert "every tensor fits" in capsys.readouterr().out
