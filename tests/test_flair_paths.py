"""Flair's import paths: one lazy table, shims that resolve from it, and Flair's two sequence dropouts."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest
import torch

from polytag.flair_paths import FLAIR_PATHS, resolve
from polytag.nn import LockedDropout, WordDropout


def _modules_after(statement: str) -> list[str]:
    """The polytag modules loaded by a fresh interpreter after ``statement``."""
    listing = "print(json.dumps(sorted(m for m in sys.modules if m.startswith('polytag'))))"
    code = f"import sys, json\n{statement}\n{listing}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_polytag_nn_does_not_import_the_models_layer() -> None:
    loaded = _modules_after("import polytag.nn, polytag.nn.multitask, polytag.trainers")
    assert "polytag.nn" in loaded and "polytag.nn.multitask" in loaded
    assert not [m for m in loaded if m.startswith(("polytag.models", "polytag.training"))], loaded
    after_use = _modules_after("from polytag.nn import Classifier")
    assert "polytag.models.base" in after_use


def test_every_table_entry_resolves_to_the_named_object() -> None:
    for module_name, names in FLAIR_PATHS.items():
        shim = importlib.import_module(module_name)
        assert set(names) <= set(shim.__all__)
        for name, target in names.items():
            real_module, _, attribute = target.partition(":")
            expected = getattr(importlib.import_module(real_module), attribute)
            assert getattr(shim, name) is expected, f"{module_name}.{name}"


def test_flair_names_are_the_polytag_objects() -> None:
    from polytag.models.base import Classifier as RealClassifier
    from polytag.models.base import Model as RealModel
    from polytag.models.entity_linker_model import CandidateGenerator, EntityLinker
    from polytag.models.span_classifier import SpanClassifier
    from polytag.nn import Classifier, DefaultClassifier, Model
    from polytag.nn.candidates import CandidateGenerator as RealCandidates
    from polytag.nn.multitask import make_multitask_model_and_corpus
    from polytag.trainers import ModelTrainer
    from polytag.training import ModelTrainer as RealTrainer

    assert Classifier is RealClassifier and DefaultClassifier is RealClassifier and Model is RealModel
    assert EntityLinker is SpanClassifier and CandidateGenerator is RealCandidates
    assert ModelTrainer is RealTrainer and callable(make_multitask_model_and_corpus)


def test_unknown_names_raise_attribute_and_import_errors() -> None:
    import polytag.trainers

    with pytest.raises(AttributeError, match="'polytag.trainers' has no attribute 'Trainer'"):
        polytag.trainers.Trainer  # noqa: B018
    with pytest.raises(ImportError):
        from polytag.nn import NoSuchThing  # noqa: F401
    with pytest.raises(AttributeError):
        resolve("polytag.not_a_shim", "ModelTrainer")


# -- dropouts ---------------------------------------------------------------------------------------


def test_locked_dropout_shares_one_mask_across_time_and_rescales() -> None:
    torch.manual_seed(0)
    dropout = LockedDropout(0.5)
    x = torch.ones(4, 7, 32)
    y = dropout.train()(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0} and (y == 0).any() and (y == 2).any()
    assert torch.equal(y, y[:, :1, :].expand_as(y))  # every time step has its sequence's mask
    assert not torch.equal(y[0], y[1]) or not torch.equal(y[1], y[2])  # masks differ per sequence
    assert torch.equal(dropout.eval()(x), x) and dropout.eval()(x) is x
    assert torch.equal(x, torch.ones(4, 7, 32))  # not in place by default


def test_locked_dropout_time_first_and_defaults() -> None:
    torch.manual_seed(1)
    dropout = LockedDropout(batch_first=False)
    assert dropout.dropout_rate == 0.5
    y = dropout.train()(torch.ones(6, 3, 16))  # [time, batch, features]
    assert torch.equal(y, y[:1].expand_as(y))
    z = torch.ones(2, 5, 8)
    out = LockedDropout(0.25, inplace=True).train()(z)
    assert out is z and set(z.unique().tolist()) <= {0.0, torch.tensor(1 / 0.75).item()}


def test_word_dropout_zeroes_whole_steps_without_rescaling() -> None:
    torch.manual_seed(0)
    dropout = WordDropout(0.5)
    assert WordDropout().dropout_rate == 0.05
    x = torch.full((8, 10, 4), 3.0)
    y = dropout.train()(x)
    assert set(y.unique().tolist()) == {0.0, 3.0}  # kept vectors keep their value
    per_step = (y == 0).all(dim=2) | (y == 3.0).all(dim=2)
    assert bool(per_step.all())  # a step is dropped whole or kept whole
    assert dropout.eval()(x) is x
    assert torch.equal(WordDropout(0.0).train()(x), x)


def test_dropout_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="dropout_rate"):
        LockedDropout(1.0)
    with pytest.raises(ValueError, match="dropout_rate"):
        WordDropout(-0.1)
