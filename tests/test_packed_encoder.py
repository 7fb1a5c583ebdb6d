"""The packed inference pass: real subtokens only, each sequence attended alone, padded rows restored."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from polytag.data import Sentence
from polytag.embeddings import TransformerEmbeddings, packed
from polytag.embeddings.layers import encoder_hidden_states
from polytag.nn.bf16 import bf16_linear_layers

WORDS = ["one two three", "alpha", "the quick brown fox jumps over the lazy dog again and again", "x y"]


def embeddings(tiny: Path, **kwargs) -> TransformerEmbeddings:
    emb = TransformerEmbeddings(str(tiny), **kwargs)
    emb.eval()
    return emb


def padded_rows(emb: TransformerEmbeddings) -> tuple[torch.Tensor, torch.Tensor]:
    plan = emb.plan([Sentence(text.split()) for text in WORDS])
    return torch.from_numpy(plan.input_ids), torch.from_numpy(plan.attention_mask)


def test_bucket_rows_rounds_up_by_little_and_to_few_sizes() -> None:
    sizes = {packed.bucket_rows(n) for n in range(1, 5000)}
    for n in range(1, 5000):
        size = packed.bucket_rows(n)
        assert n <= size <= n + max(15, n // 8)
    assert len(sizes) < 120  # vs 4,999 distinct row counts unbucketed


@pytest.mark.parametrize("layers", ["-1", "-1,-2"])
def test_packed_pass_matches_the_padded_one(tiny_encoder_dir: Path, layers: str) -> None:
    emb = embeddings(tiny_encoder_dir, layers=layers, layer_mean=False)
    ids, mask = padded_rows(emb)
    assert packed.can_pack(emb.model)
    with torch.inference_mode():
        got = encoder_hidden_states(emb.model, ids, mask, emb.layer_indexes, False, emb.all_hidden_states)
        emb.model.train()  # training attends the padded rows with the library's sdpa
        emb.model.config.attention_probs_dropout_prob = 0.0
        for module in emb.model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        assert not packed.can_pack(emb.model)
        want = encoder_hidden_states(emb.model, ids, mask, emb.layer_indexes, False, emb.all_hidden_states)
    keep = mask.bool()
    assert got.shape == want.shape
    torch.testing.assert_close(got[keep], want[keep], atol=1e-5, rtol=1e-5)
    assert float(got[~keep].abs().max()) == 0.0  # padding positions are zero, not stale values


def test_training_mode_keeps_attention_dropout(tiny_encoder_dir: Path) -> None:
    emb = embeddings(tiny_encoder_dir)
    ids, mask = padded_rows(emb)
    emb.model.train()
    emb.model.config.hidden_dropout_prob = 0.0
    for name, module in emb.model.named_modules():  # only attention dropout left on
        if isinstance(module, torch.nn.Dropout) and not name.endswith("attention.self.dropout"):
            module.p = 0.0
    torch.manual_seed(0)
    with torch.no_grad():
        first = emb.model(input_ids=ids, attention_mask=mask).last_hidden_state
        second = emb.model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert not torch.equal(first, second)


def test_a_bf16_packed_batch_gives_each_sentence_its_bits_alone(tiny_encoder_dir: Path) -> None:
    emb = embeddings(tiny_encoder_dir)
    bf16_linear_layers(emb.model)
    sentences = [Sentence(text.split()) for text in WORDS]
    with torch.inference_mode():
        together = emb.forward_batch(sentences).token_embeddings
        for row, sentence in enumerate(sentences):
            alone = emb.forward_batch([Sentence(sentence.to_tokenized_string().split())]).token_embeddings
            assert torch.equal(alone[0, : len(sentence)], together[row, : len(sentence)])


def test_other_encoders_keep_padded_rows(tiny_encoder_dir: Path) -> None:
    emb = embeddings(tiny_encoder_dir)
    emb.model.config.model_type = "roberta"  # positions after the padding index: not packed
    assert not packed.can_pack(emb.model)
    emb.model.config.model_type = "bert"
    emb.model.config._attn_implementation = "sdpa"
    assert not packed.can_pack(emb.model)
