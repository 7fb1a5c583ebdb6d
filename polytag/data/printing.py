"""How a Sentence prints with its labels, in Flair 0.15.1's shape.

``Sentence[5]: "Mr Smith loves New York" → ["Mr"/NNP/mr, "Mr Smith"/NP]``: the sentence's own labels
with their scores, then every labelled token or span once, with all its label values joined by ``/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polytag.data.label import ARROW, score_text

if TYPE_CHECKING:
    from polytag.data.sentence import Sentence


def tagged_string(sentence: Sentence, main_label: str | None = None) -> str:
    """``sentence`` and its labels (of the layer ``main_label`` only, when given)."""
    output = sentence.unlabeled_identifier
    own = "; ".join(
        f"{label.value}{label.metadata_str} ({score_text(label.score)})"
        for label in sentence.get_labels(main_label)
        if label.data_point is sentence
    )
    if own:
        output += ARROW + own
    parts: dict[int, tuple[Any, list[str]]] = {}  # a token or span prints once, with all its values
    for label in sentence.get_labels(main_label):
        point = label.data_point
        if point is sentence or point is None:
            continue
        parts.setdefault(id(point), (point, []))[1].append(f"{label.value}{label.metadata_str}")
    if parts:
        printed = (f'"{point.text}"/' + "/".join(values) for point, values in parts.values())
        output += ARROW + "[" + ", ".join(printed) + "]"
    return output
