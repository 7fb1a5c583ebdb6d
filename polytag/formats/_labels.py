"""Fast label filing for readers.

``token.add_label`` files each label under the token and the sentence one at a time; a reader that
already has a whole column in text order hands it over at once, and the sentence builds the Label
objects when the layer is first used. What users see is exactly what ``add_label`` would have produced.
"""

from __future__ import annotations

from collections.abc import Sequence

from polytag.data import Sentence


def add_token_layer(sentence: Sentence, layer: str, values: Sequence[str]) -> None:
    """Give token i the label ``values[i]`` (score 1.0) in ``layer``; one value per token.

    Columns nobody reads cost a tuple of interned strings instead of a Label object (and its list)
    per token; see ``Sentence._defer_token_layer``.
    """
    sentence._defer_token_layer(layer, values)
