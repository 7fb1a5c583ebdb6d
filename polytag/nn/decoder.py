"""Flair's import path ``flair.nn.decoder``: decoders that heads put on top of their features.

A decoder maps ``[..., features]`` to ``[..., classes]``. Besides :class:`PrototypicalDecoder` this
module has :class:`LinearDecoder` (a ``torch.nn.Linear`` that can describe itself) and the two helpers
a head uses to keep a custom decoder in its model file without pickle: :func:`decoder_config` gives
the JSON settings of a decoder (None for one it cannot describe) and :func:`decoder_from_config`
rebuilds it (its weights then come from the state dict).
"""

from __future__ import annotations

from typing import Any

import torch

from polytag.nn.prototypical import DecoderConfigError, PrototypicalDecoder


class LinearDecoder(torch.nn.Linear):
    """A linear layer ``features -> classes`` with :meth:`to_config` (the default of most heads)."""

    def __init__(self, embeddings_size: int, num_classes: int, bias: bool = True) -> None:
        super().__init__(embeddings_size, num_classes, bias=bias)

    def to_config(self) -> dict[str, Any]:
        return {
            "class": type(self).__name__,
            "embeddings_size": self.in_features,
            "num_classes": self.out_features,
            "bias": self.bias is not None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LinearDecoder:
        return cls(config["embeddings_size"], config["num_classes"], config.get("bias", True))


_DECODERS: dict[str, Any] = {"PrototypicalDecoder": PrototypicalDecoder, "LinearDecoder": LinearDecoder}


def decoder_config(decoder: torch.nn.Module | None) -> dict[str, Any] | None:
    """Settings that rebuild ``decoder``: from its ``to_config``, or for a plain ``torch.nn.Linear``."""
    if decoder is None:
        return None
    to_config = getattr(decoder, "to_config", None)
    if callable(to_config) and type(decoder).__name__ in _DECODERS:
        return to_config()
    if type(decoder) is torch.nn.Linear:
        return {
            "class": "LinearDecoder",
            "embeddings_size": decoder.in_features,
            "num_classes": decoder.out_features,
            "bias": decoder.bias is not None,
        }
    return None


def decoder_from_config(config: dict[str, Any] | None) -> torch.nn.Module | None:
    """The decoder :func:`decoder_config` described (random weights until the state dict is loaded)."""
    if config is None:
        return None
    decoder_class = _DECODERS.get(config.get("class", ""))
    if decoder_class is None:
        raise DecoderConfigError(f"unknown decoder class {config.get('class')!r}; known: {sorted(_DECODERS)}")
    return decoder_class.from_config(config)


__all__ = [
    "DecoderConfigError",
    "LinearDecoder",
    "PrototypicalDecoder",
    "decoder_config",
    "decoder_from_config",
]
