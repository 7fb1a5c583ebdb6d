"""Neural building blocks shared by the heads: CRF, BIOES tag coding, decoders, candidates, dropouts.

As in Flair's ``flair.nn``, ``Model``, ``Classifier`` and ``DefaultClassifier`` can be imported from
here; they live in :mod:`polytag.models.base` (one layer up) and are imported only when first used,
so ``import polytag.nn`` does not import ``polytag.models`` (see :mod:`polytag.flair_paths`).
"""

from typing import Any

from polytag.flair_paths import resolve, shim_names
from polytag.nn.candidates import CandidateGenerator
from polytag.nn.crf import CRF
from polytag.nn.decoder import LinearDecoder, PrototypicalDecoder
from polytag.nn.dropout import LockedDropout, WordDropout

__all__ = [
    "CRF",
    "CandidateGenerator",
    "LinearDecoder",
    "LockedDropout",
    "PrototypicalDecoder",
    "WordDropout",
    *shim_names(__name__),
]


def __getattr__(name: str) -> Any:
    return resolve(__name__, name)
