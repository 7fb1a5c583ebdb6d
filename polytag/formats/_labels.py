"""Fast label filing for readers.

``token.add_label`` files each label under the token and the sentence one at a time; a reader that
already has a whole layer in text order can build the lists in one go. The result is exactly what
``add_label`` would have produced (same Label objects in the token's and the sentence's layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from sys import intern

from polytag.data import Label, Sentence


def add_token_layer(sentence: Sentence, layer: str, values: Sequence[str]) -> None:
    """Give token i the label ``values[i]`` (score 1.0) in ``layer``; one value per token."""
    layers = sentence.annotation_layers
    tokens = sentence.tokens
    if layer in layers:  # the layer already has labels: the ordinary (slower) path keeps order right
        for token, value in zip(tokens, values):
            token.add_label(layer, value)
        return
    sentence_layer = []
    for token, value in zip(tokens, values):
        label = Label(token, intern(value), 1.0, layer)
        token.annotation_layers[layer] = [label]
        sentence_layer.append(label)
    if sentence_layer:
        layers[layer] = sentence_layer
        sentence._sorted_layers.add(layer)  # labels were filed in text order
