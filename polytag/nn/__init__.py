"""Neural building blocks shared by the heads: CRF, BIOES tag coding, decoders."""

from polytag.nn.crf import CRF

__all__ = ["CRF"]
