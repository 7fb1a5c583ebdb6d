"""A model file's ``encoder_config``: checked, and checked against the file's tensors before any allocation.

The encoder of a loaded model is built from the file's Hugging Face config with random weights, then the
saved weights replace them. A config that declares a huge vocabulary would make that first build
allocate gigabytes before any shape is compared, so here the config is (1) checked for types and ranges,
(2) built on the ``meta`` device (no memory) and every parameter and persistent buffer compared with the
tensor shapes of the file's header, and only then (3) built for real.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from polytag.errors import ModelFileError

# integer sizes an encoder config may hold: key -> (smallest, largest) accepted value
SIZE_BOUNDS: dict[str, tuple[int, int]] = {
    "vocab_size": (1, 16_777_216),
    "hidden_size": (1, 65_536),
    "num_hidden_layers": (0, 1_000),
    "num_attention_heads": (1, 4_096),
    "intermediate_size": (1, 1_048_576),
    "max_position_embeddings": (1, 1_048_576),
    "type_vocab_size": (0, 65_536),
    "embedding_size": (1, 65_536),
    "n_positions": (1, 1_048_576),
}


def encoder_config_from_dict(raw: object) -> Any:
    """The Hugging Face config of ``raw`` (a model file's ``encoder_config``), or a ModelFileError."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if not isinstance(raw, dict):
        raise ModelFileError(f"embedding config entry 'encoder_config': expected an object, got {raw!r:.80}")
    values = dict(raw)
    model_type = values.pop("model_type", None)
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
        raise ModelFileError(
            "embedding config entry 'encoder_config.model_type': expected a known encoder type, "
            f"got {model_type!r}"
        )
    for key, (low, high) in SIZE_BOUNDS.items():
        if key not in values or values[key] is None:
            continue
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ModelFileError(
                f"embedding config entry 'encoder_config.{key}': expected an integer in [{low}, {high}], "
                f"got {value!r}"
            )
    for key in ("auto_map", "trust_remote_code"):
        if key in values:
            raise ModelFileError(
                f"embedding config entry 'encoder_config.{key}': model files may not name code"
            )
    try:
        return CONFIG_MAPPING[model_type].from_dict(values)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ModelFileError(f"embedding config entry 'encoder_config' cannot be read: {error}") from None


def build_encoder(hf_config: Any, device: str | None = None) -> torch.nn.Module:
    """``AutoModel.from_config`` (random weights; on ``device="meta"`` without allocating anything)."""
    from transformers import AutoModel

    try:
        if device is None:
            return AutoModel.from_config(hf_config, trust_remote_code=False)
        with torch.device(device):
            return AutoModel.from_config(hf_config, trust_remote_code=False)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
        raise ModelFileError(
            f"embedding config entry 'encoder_config' describes no encoder: {error}"
        ) from None


def _shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def check_encoder_shapes(hf_config: Any, header_shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Require a header tensor of exactly the right shape for every parameter / persistent buffer.

    The encoder is built on the ``meta`` device for this (nothing is allocated). A header tensor
    matches a parameter when its name equals the parameter's or ends with "." + it.
    """
    encoder = build_encoder(hf_config, device="meta")
    by_suffix: dict[str, list[tuple[int, ...]]] = {}
    for name, shape in header_shapes.items():
        parts = name.split(".")
        for start in range(len(parts)):
            by_suffix.setdefault(".".join(parts[start:]), []).append(tuple(shape))
    for name, tensor in encoder.state_dict().items():
        wanted = tuple(tensor.shape)
        found = by_suffix.get(name, [])
        if wanted in found:
            continue
        if not found:
            raise ModelFileError(
                f"encoder tensor '{name}' of shape {_shape_text(wanted)} (from encoder_config) "
                "is not in the file"
            )
        raise ModelFileError(
            f"encoder tensor '{name}' has shape {_shape_text(found[0])} in the file, but its "
            f"encoder_config makes it {_shape_text(wanted)}"
        )
