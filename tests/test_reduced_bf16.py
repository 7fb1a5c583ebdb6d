"""``Model.load(path, quantize="bf16")``: bfloat16 linear layers in the encoder, float32 elsewhere."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import pytest
import torch

from polytag.data import Sentence
from polytag.embeddings import packed
from polytag.models import TokenClassifier
from polytag.nn import bf16
from polytag.nn.bf16 import BF16Linear, bf16_linear_layers
from tests.test_models import make_corpus, make_sentences, train_steps, word_embeddings  # noqa: F401


@pytest.fixture()
def saved_tagger(word_embeddings, tmp_path) -> Path:  # noqa: F811
    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("ner"), "ner")
    train_steps(model, list(corpus.train), steps=25)
    model.save(tmp_path / "m.pt")
    return tmp_path / "m.pt"


def test_bf16_load_converts_the_encoder_only_and_predicts_like_fp32(saved_tagger, tmp_path) -> None:
    model = TokenClassifier.load(saved_tagger)
    reduced = TokenClassifier.load(saved_tagger, quantize="bf16")
    linears = [m for m in reduced.embeddings.modules() if isinstance(m, (BF16Linear, torch.nn.Linear))]
    assert linears and all(isinstance(m, BF16Linear) for m in linears)
    assert sum(m.activation == "gelu" for m in linears) == 2  # one fused GELU per BERT layer
    fused = [m.qkv for m in reduced.embeddings.modules() if type(m).__name__.startswith("FusedQKV")]
    assert len(fused) == 2 and all(q.out_features == 3 * q.in_features for q in fused)  # Q, K, V in one
    assert reduced.decoder.weight.dtype == torch.float32  # the head stays float32
    layer_norms = [m for m in reduced.embeddings.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert layer_norms and all(m.weight.dtype == torch.float32 for m in layer_norms)
    a, b = make_sentences(), make_sentences()
    model.predict(a, return_probabilities_for_all_classes=True)
    reduced.predict(b, return_probabilities_for_all_classes=True)
    assert [str(x) for x in b] == [str(x) for x in a]
    with pytest.raises(ValueError, match="bf16 model is for inference"):
        reduced.save(tmp_path / "again.pt")
    with pytest.raises(ValueError, match="quantize must be one of"):
        TokenClassifier.load(saved_tagger, quantize="fp8")


def test_bf16_predictions_do_not_depend_on_the_batch(saved_tagger) -> None:
    """Same labels alone and in a crowd with a long, loud sentence. The encoder's bf16 part gives the same
    bits in any batch (next test); the float32 head may differ in the last bits, as in float32 mode."""
    reduced = TokenClassifier.load(saved_tagger, quantize="bf16")
    text = "Anna visited Berlin and Rome yesterday".split()
    loud = Sentence(["BERLIN!!!"] * 3 + ["ZZZZQQQQ"] * 40)
    alone, crowd = Sentence(text), [loud, *make_sentences(2), Sentence(text)]
    reduced.predict(alone, return_probabilities_for_all_classes=True)
    reduced.predict(crowd, mini_batch_size=16, return_probabilities_for_all_classes=True)

    def labels(sentence: Sentence) -> list[tuple[str, str, float]]:
        return [(lab.unlabeled_identifier, lab.value, lab.score) for lab in sentence.get_labels("ner")]

    got, want = labels(crowd[-1]), labels(alone)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert [g[2] for g in got] == pytest.approx([w[2] for w in want], abs=1e-4)


def test_bf16_linear_rows_are_independent_and_close_to_float() -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 20)
    layer = BF16Linear(linear)
    x = torch.randn(3, 7, 48)
    out = layer(x)
    assert out.dtype == torch.bfloat16 and out.shape == (3, 7, 20)
    for i in range(3):  # each row alone gives the same bits
        assert torch.equal(layer(x[i : i + 1, 3:5]), out[i : i + 1, 3:5])
    reference = linear(x).detach()
    assert float((out.float() - reference).abs().max()) < 0.02 * float(reference.abs().max())
    fused = BF16Linear(linear, activation="gelu")
    assert torch.allclose(fused(x).float(), torch.nn.functional.gelu(reference), atol=0.03)
    assert layer(torch.zeros(0, 48)).shape == (0, 20)
    assert torch.equal(copy.deepcopy(layer)(x), out)  # the packed weights are not copied, packed again


def test_gelu_is_fused_only_after_an_exact_gelu() -> None:
    class Block(torch.nn.Module):
        def __init__(self, act: torch.nn.Module) -> None:
            super().__init__()
            self.dense = torch.nn.Linear(8, 16)
            self.intermediate_act_fn = act

    exact, tanh = Block(torch.nn.GELU()), Block(torch.nn.GELU(approximate="tanh"))
    assert bf16_linear_layers(exact) == 1 and bf16_linear_layers(tanh) == 1
    assert exact.dense.activation == "gelu" and isinstance(exact.intermediate_act_fn, torch.nn.Identity)
    assert tanh.dense.activation == "none" and isinstance(tanh.intermediate_act_fn, torch.nn.GELU)


def test_warns_once_without_native_bf16(tmp_path, monkeypatch, caplog) -> None:
    without, with_amx = tmp_path / "old", tmp_path / "new"
    without.write_text("flags\t\t: fpu sse avx2 avx512f avx512_vnni\n")
    with_amx.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert bf16.cpu_has_native_bf16(without) is False
    assert bf16.cpu_has_native_bf16(with_amx) is True
    assert bf16.cpu_has_native_bf16(tmp_path / "missing") is None
    monkeypatch.setattr(bf16, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="polytag"):
        assert bf16.warn_if_slow_bf16(with_amx) is False
        assert bf16.warn_if_slow_bf16(without) is True
        assert bf16.warn_if_slow_bf16(without) is False  # once per process
    assert len([r for r in caplog.records if "AMX-BF16" in r.getMessage()]) == 1


def test_wide_bf16_layers_give_each_row_the_same_bits_for_any_row_count() -> None:
    """oneDNN's bf16 GEMM changes its summation order with the row count once K > 384 (on AMX: from
    36-41 rows on): wide layers are summed over 384-wide slices in float32 instead."""
    torch.manual_seed(0)
    layer = BF16Linear(torch.nn.Linear(1536, 64))
    x = torch.randn(300, 1536)
    with torch.inference_mode():
        full = layer(x)
        assert full.dtype == torch.float32  # a sliced sum stays float32
        for rows in (1, 17, 25, 40, 64, 130):
            assert torch.equal(layer(x[:rows]), full[:rows])
        reference = torch.nn.functional.linear(x, layer.weight.float(), layer.bias.float())
        assert float((full - reference).abs().max()) < 0.02 * float(reference.abs().max())


def test_a_bf16_encoder_gives_a_sentence_the_same_bits_alone_and_in_a_padded_batch(saved_tagger) -> None:
    reduced = TokenClassifier.load(saved_tagger, quantize="bf16")
    encoder = reduced.embeddings.model
    assert encoder.config._attn_implementation == packed.UNPADDED_ATTENTION
    torch.manual_seed(1)
    ids = torch.randint(1000, 2000, (5, 23))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    mask[3, 15:] = 0
    with torch.inference_mode():
        batch = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        for row, length in ((1, 9), (3, 15), (4, 23)):
            alone = encoder(input_ids=ids[row : row + 1, :length]).last_hidden_state
            assert torch.equal(alone[0], batch[row, :length])
