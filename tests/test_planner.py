"""EncoderSettings and the torch-free SubtokenPlanner: one source of settings, one plan for every path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from polytag.data import Sentence
from polytag.embeddings import (
    CONFIG_KEYS,
    EmbeddingConfigError,
    EncoderSettings,
    SubtokenPlanner,
    TransformerEmbeddings,
    load_tokenizer,
)
from polytag.errors import ModelFileError
from tests.conftest import build_tiny_encoder


@pytest.fixture(scope="module")
def short_positions_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert-64"), max_position_embeddings=64)


def test_settings_are_normalised_frozen_and_the_config_keys() -> None:
    settings = EncoderSettings(model="m", layers=[-1, -2], use_context=True, fine_tune=0)  # type: ignore[arg-type]
    assert (settings.layers, settings.use_context, settings.fine_tune) == ("-1,-2", 64, False)
    assert settings.name == "transformer-m"
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.layers = "-1"  # type: ignore[misc]
    assert tuple(settings.to_config()) == CONFIG_KEYS
    assert EncoderSettings.from_config(settings.to_config()) == settings
    with pytest.raises(EmbeddingConfigError, match="subtoken_pooling"):
        EncoderSettings(subtoken_pooling="median")


def test_from_config_names_the_key_and_what_was_expected() -> None:
    with pytest.raises(ModelFileError, match=r"'layer_mean': expected true or false, got 'no'"):
        EncoderSettings.from_config({"layer_mean": "no"})
    with pytest.raises(ModelFileError, match=r"'use_context': expected true, false or a subtoken count"):
        EncoderSettings.from_config({"use_context": 2.5})
    assert EncoderSettings.from_config({"unknown": 1, "use_context": 8}).use_context == 8


def test_planner_alone_plans_what_the_module_plans(tiny_encoder_dir: Path) -> None:
    module = TransformerEmbeddings(str(tiny_encoder_dir), use_context=8, model_max_length=24)
    planner = SubtokenPlanner(load_tokenizer(str(tiny_encoder_dir)), module.settings)
    assert planner.settings == module.settings
    doc = [Sentence("Hello world ."), Sentence("Unbelievably long words everywhere here ."), Sentence("Bye")]
    for a, b in zip(doc, doc[1:]):
        a._next_sentence, b._previous_sentence = b, a
    batch = [*doc, Sentence(" ".join(["antidisestablishmentarianism"] * 6))]
    module.eval()
    mine, theirs = planner.plan(batch), module.plan(batch)
    for field in dataclasses.fields(mine):
        value = getattr(mine, field.name)
        assert not isinstance(value, torch.Tensor), field.name  # plain numpy, no torch
        assert np.array_equal(value, getattr(theirs, field.name)), field.name
    # the long sentence became several windows, none longer than the window, every subtoken planned once
    assert mine.input_ids.shape[0] > len(batch) and mine.input_ids.shape[1] <= 24
    assert np.unique(mine.source).size == mine.source.size
    assert np.array_equal(np.unique(mine.key // mine.n_tokens), np.arange(len(batch)))


def test_context_dropout_is_drawn_by_the_module_only_in_training(tiny_encoder_dir: Path) -> None:
    module = TransformerEmbeddings(str(tiny_encoder_dir), use_context=8, context_dropout=1.0)
    doc = [Sentence("Left side ."), Sentence("Middle"), Sentence("Right side .")]
    for a, b in zip(doc, doc[1:]):
        a._next_sentence, b._previous_sentence = b, a
    module.eval()
    with_context = module.plan([doc[1]]).input_ids.shape[1]
    module.train()
    without = module.plan([doc[1]]).input_ids.shape[1]
    assert with_context > without == module.planner.plan([Sentence("Middle")]).input_ids.shape[1]


def test_model_max_length_beyond_the_position_table_is_refused(short_positions_dir: Path) -> None:
    with pytest.raises(EmbeddingConfigError, match="larger than the encoder's 64 positions"):
        TransformerEmbeddings(str(short_positions_dir), model_max_length=65)
    assert TransformerEmbeddings(str(short_positions_dir)).model_max_length == 64
