"""Which encoder layers the vectors come from: parsing ``layers`` and the one layer-selection function.

``encoder_hidden_states`` is the single place where the encoder is called and its layers are selected,
averaged or concatenated; the torch module and the ONNX export graph both call it, so the exported graph
computes exactly what the module computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from polytag.embeddings.packed import can_pack, packed_hidden_states, unpack
from polytag.embeddings.settings import EmbeddingConfigError


def parse_layers(layers: str | int | Sequence[int], n_layers: int) -> list[int]:
    """Layer indexes into ``hidden_states`` (0 = embedding output, -1 = last layer)."""
    if isinstance(layers, str) and layers.strip() == "all":
        return list(range(n_layers + 1))
    if isinstance(layers, int):
        parts: list[Any] = [layers]
    elif isinstance(layers, str):
        parts = [p for p in layers.split(",") if p.strip()]
    else:
        parts = list(layers)
    try:
        indexes = [int(p) for p in parts]
    except ValueError as error:
        raise EmbeddingConfigError(
            f"layers must be 'all' or comma-separated integers, got {layers!r}"
        ) from error
    if not indexes:
        raise EmbeddingConfigError("layers names no layer")
    for index in indexes:
        if not -(n_layers + 1) <= index <= n_layers:
            raise EmbeddingConfigError(f"layer {index} does not exist (the encoder has {n_layers} layers)")
    return indexes


def needs_all_hidden_states(layer_indexes: Sequence[int], n_layers: int) -> bool:
    """Whether the encoder must return every layer (False when only the last one is used: cheaper)."""
    return list(layer_indexes) not in ([-1], [n_layers])


def encoder_hidden_states(
    encoder: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    layer_indexes: Sequence[int],
    layer_mean: bool,
    all_hidden_states: bool,
) -> torch.Tensor:
    """``[rows, width, hidden * k]``: the selected layers, averaged (``layer_mean``) or concatenated.

    An inference-mode encoder with polytag's unpadded attention runs packed (real subtokens only, see
    ``polytag.embeddings.packed``); the layers are selected before the one copy back into padded rows.
    """
    packed = can_pack(encoder)
    if packed:
        states = packed_hidden_states(encoder, input_ids, attention_mask, all_hidden_states)
    else:
        output = encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=all_hidden_states,
            return_dict=True,
        )
        states = tuple(output.hidden_states) if all_hidden_states else (output.last_hidden_state,)
    selected = _select(states, layer_indexes, layer_mean) if all_hidden_states else states[0]
    return unpack(selected, attention_mask) if packed else selected


def _select(states: Sequence[torch.Tensor], layer_indexes: Sequence[int], layer_mean: bool) -> torch.Tensor:
    chosen = [states[i] for i in layer_indexes]
    if len(chosen) == 1:
        return chosen[0]
    if layer_mean:
        return torch.stack(chosen, dim=0).mean(dim=0)
    return torch.cat(chosen, dim=-1)
